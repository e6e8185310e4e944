// The README's config table is generated from the schema; this keeps it true.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { ROOT } from '../../helpers/daemon.js';

describe('README', () => {
  it('lists every config key with its current default (run `node scripts/config-reference.mjs --write` after a change)', () => {
    const table = execFileSync(process.execPath, [join(ROOT, 'scripts/config-reference.mjs')], { encoding: 'utf8' }).trim();
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- config-reference:start -->\n([\s\S]*)\n<!-- config-reference:end -->/.exec(readme)?.[1];
    expect(block).toBe(table);
  });

  it('gives the two set-up commands', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/^npm test\s/m);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/^npm test$/m);
  });

  it('has TOML examples that the daemon accepts', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(() => validateConfig(parse(b))).not.toThrow();
  });
});
