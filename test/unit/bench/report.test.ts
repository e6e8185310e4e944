import { describe, expect, it } from 'vitest';
import { fmt, renderRanges, renderTable, summarize, type MetricSpec, type RunRecord } from '../../../scripts/bench/report.mjs';

const scenarios: Array<{ name: string; metrics: MetricSpec[] }> = [
  { name: 'fanin', metrics: [{ key: 'rate', label: 'msgs/s', better: 'higher' }] },
  { name: 'durable', metrics: [{ key: 'rate', label: 'acked msgs/s', better: 'higher' }] },
];
const brokers = ['outpost', 'mosquitto', 'aedes'];
const ok = (scenario: string, broker: string, round: number, rate: number): RunRecord => ({ scenario, broker, round, status: 'ok', metrics: { rate } });

describe('summarize', () => {
  it('takes the median over rounds and divides each broker by the baseline', () => {
    const runs: RunRecord[] = [
      ok('fanin', 'outpost', 1, 100), ok('fanin', 'outpost', 2, 300), ok('fanin', 'outpost', 3, 200),
      ok('fanin', 'mosquitto', 1, 400), ok('fanin', 'mosquitto', 2, 400), ok('fanin', 'mosquitto', 3, 1),
      ok('fanin', 'aedes', 1, 100),
      { scenario: 'fanin', broker: 'aedes', round: 2, status: 'error', reason: 'boom' },
    ];
    const [row] = summarize([scenarios[0]], brokers, runs, 'outpost');
    expect(row.values).toEqual({ outpost: 200, mosquitto: 400, aedes: 100 });
    expect(row.ratios).toEqual({ mosquitto: 2, aedes: 0.5 });
  });

  it('marks unsupported, failed and skipped brokers, with no ratio for them', () => {
    const runs: RunRecord[] = [
      ok('durable', 'outpost', 1, 50),
      { scenario: 'durable', broker: 'mosquitto', round: 1, status: 'na', reason: 'no durable store' },
      { scenario: 'durable', broker: 'aedes', round: 1, status: 'error', reason: 'crashed' },
    ];
    const [row] = summarize([scenarios[1]], brokers, runs, 'outpost');
    expect(row.values).toEqual({ outpost: 50, mosquitto: 'n/a', aedes: 'err' });
    expect(row.ratios).toEqual({ mosquitto: null, aedes: null });
    const skipped = summarize([scenarios[1]], ['outpost'], [{ scenario: 'durable', broker: 'outpost', round: 1, status: 'skip' }], 'outpost');
    expect(skipped[0].values.outpost).toBe('skip');
  });
});

describe('per-round ratio ranges', () => {
  it('divides within each round, skips rounds the baseline missed, and prints one line per scenario', () => {
    const runs: RunRecord[] = [
      ok('fanin', 'outpost', 1, 100), ok('fanin', 'aedes', 1, 50),
      ok('fanin', 'outpost', 2, 200), ok('fanin', 'aedes', 2, 160),
      { scenario: 'fanin', broker: 'outpost', round: 3, status: 'error', reason: 'boom' }, ok('fanin', 'aedes', 3, 1000),
      ok('fanin', 'mosquitto', 1, 300),
    ];
    const rows = summarize([scenarios[0]], brokers, runs, 'outpost');
    expect(rows[0].ranges).toEqual({ mosquitto: [3, 3], aedes: [0.5, 0.8] });
    expect(renderRanges(rows, brokers, 'outpost')).toBe('fanin msgs/s: mosquitto 3-3x, aedes 0.5-0.8x');
    const none = summarize([scenarios[1]], brokers, [ok('durable', 'outpost', 1, 5)], 'outpost');
    expect(none[0].ranges).toEqual({ mosquitto: null, aedes: null });
    expect(renderRanges(none, brokers, 'outpost')).toBe('');
  });
});

describe('renderTable', () => {
  it('prints one aligned line per metric with the ratio columns', () => {
    const runs = [ok('fanin', 'outpost', 1, 1000), ok('fanin', 'mosquitto', 1, 1500), ok('fanin', 'aedes', 1, 500)];
    const text = renderTable(summarize([scenarios[0]], brokers, runs, 'outpost'), brokers, 'outpost');
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/scenario\s+metric\s+outpost\s+mosquitto\s+aedes\s+mosquitto\/outpost\s+aedes\/outpost/);
    expect(lines[2]).toMatch(/^fanin\s+msgs\/s \(\+\)\s+1,000\s+1,500\s+500\s+1\.5x\s+0\.5x$/);
    expect(new Set(lines.slice(0, 2).map((l) => l.length)).size).toBe(1);
  });
});

describe('fmt', () => {
  it('uses separators from 1,000 up and three significant digits below', () => {
    expect(fmt(123456.7)).toBe('123,457');
    expect(fmt(0.012345)).toBe('0.0123');
    expect(fmt(12.345)).toBe('12.3');
    expect(fmt(Number.NaN)).toBe('n/a');
    expect(fmt('err')).toBe('err');
  });
});
