// The driver as a user runs it: options, the alternation of brokers, the summary and the results file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const runMjs = join(import.meta.dirname, '..', '..', '..', 'scripts', 'bench', 'run.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [runMjs, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('run.mjs', () => {
  it('lists the scenarios with their quick and optional marks', () => {
    const r = run(['--list']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^fanin-qos0\s.*\[quick\]$/m);
    expect(r.stdout).toMatch(/^one2one-qos1-v5\s.*\[optional\]$/m);
    expect(r.stdout).toMatch(/^durable-full\s/m);
  });

  it('refuses unknown scenarios, unknown brokers and bad numbers', () => {
    expect(run(['--scenarios', 'nope']).status).toBe(2);
    expect(run(['--brokers', 'emqx']).status).toBe(2);
    expect(run(['--no-such-flag']).status).toBe(2);
    const r = run(['--rounds', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--rounds');
  });

  it('runs brokers in alternation per round and writes medians and n/a marks to the results file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-run-'));
    try {
      const out = join(dir, 'r.json');
      const r = run(['--brokers', 'mosquitto,aedes', '--scenarios', 'startup,durable-full', '--rounds', '2', '--out', out]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/startup\s+start-to-ready ms \(-\)\s+[\d.,]+\s+[\d.,]+\s+[\d.,]+x/);
      const res = JSON.parse(readFileSync(out, 'utf8'));
      expect(res.options.baseline).toBe('mosquitto');
      const startup = res.runs.filter((x: { scenario: string }) => x.scenario === 'startup');
      expect(startup.map((x: { broker: string; round: number }) => `${x.broker}${x.round}`)).toEqual([
        'mosquitto1',
        'aedes1',
        'mosquitto2',
        'aedes2',
      ]);
      expect(startup.every((x: { status: string; metrics: { readyMs: number } }) => x.status === 'ok' && x.metrics.readyMs > 0)).toBe(true);
      const row = res.summary.find((x: { scenario: string; metric: string }) => x.scenario === 'startup' && x.metric === 'readyMs');
      expect(row.ratios.aedes).toBeCloseTo(row.values.aedes / row.values.mosquitto, 6);
      const durable = res.summary.find((x: { scenario: string }) => x.scenario === 'durable-full');
      expect(durable.values).toEqual({ mosquitto: 'n/a', aedes: 'n/a' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
