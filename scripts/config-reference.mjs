#!/usr/bin/env node
// Prints every config key with its default as a Markdown table (for the README), from the schema
// itself, so the documented defaults cannot drift from the code. Needs `npm run build` first.
// `--write` replaces the table between the README's config-reference markers instead of printing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { validateConfig } from '../dist/src/config/load.js';

const defaults = validateConfig({});
const rows = [];
function walk(prefix, v) {
  if (v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) rows.push([prefix, '{}']);
    for (const k of keys) walk(prefix ? `${prefix}.${k}` : k, v[k]);
  } else rows.push([prefix, JSON.stringify(v)]);
}
walk('', defaults);
const table = ['| key | default |', '|---|---|', ...rows.map(([k, v]) => `| \`${k}\` | \`${v.replace(/\|/g, '\\|')}\` |`)].join('\n');
if (process.argv.includes('--write')) {
  const readme = new URL('../README.md', import.meta.url);
  const text = readFileSync(readme, 'utf8');
  const next = text.replace(/(<!-- config-reference:start -->\n)[\s\S]*(\n<!-- config-reference:end -->)/, (_, a, b) => a + table + b);
  if (next === text && !text.includes(table)) throw new Error('README.md has no config-reference markers');
  writeFileSync(readme, next);
} else console.log(table);
