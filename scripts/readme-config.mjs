#!/usr/bin/env node
// Rewrites the config-reference block of README.md from the schema (run after changing defaults).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const table = execFileSync(process.execPath, [join(root, 'scripts/config-reference.mjs')], { encoding: 'utf8' }).trim();
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const out = readme.replace(/<!-- config-reference:start -->[\s\S]*<!-- config-reference:end -->/, `<!-- config-reference:start -->\n${table}\n<!-- config-reference:end -->`);
writeFileSync(join(root, 'README.md'), out);
