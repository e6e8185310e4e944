import { describe, expect, it } from 'vitest';
import { mergeHist, spread, sumRates } from '../../../scripts/bench/lib/pool.mjs';
import { LatencyHistogram } from '../../../scripts/bench/lib/stats.mjs';

describe('spread', () => {
  it('splits clients evenly with unique index ranges', () => {
    expect(spread(10, [1, 2])).toEqual([
      { w: 1, n: 5, indexBase: 0 },
      { w: 2, n: 5, indexBase: 5 },
    ]);
    expect(spread(7, [0, 1, 2])).toEqual([
      { w: 0, n: 3, indexBase: 0 },
      { w: 1, n: 2, indexBase: 3 },
      { w: 2, n: 2, indexBase: 5 },
    ]);
  });
  it('leaves out workers that get no client', () => {
    expect(spread(1, [1, 2])).toEqual([{ w: 1, n: 1, indexBase: 0 }]);
  });
});

describe('sumRates', () => {
  it('computes each worker rate over its own clock and adds them', () => {
    const before = [{ t: 0, received: 0 }, { t: 1_000_000, received: 100 }];
    const after = [{ t: 2_000_000, received: 1000 }, { t: 2_000_000, received: 600 }];
    expect(sumRates(before, after, 'received')).toEqual({ rate: 500 + 500, delta: 1500 });
  });
});

describe('mergeHist', () => {
  it('adds the histograms carried by snapshots and ignores snapshots without one', () => {
    const a = new LatencyHistogram();
    a.record(100);
    const b = new LatencyHistogram();
    b.record(300);
    const h = mergeHist([{ hist: a.toJSON() }, {}, { hist: b.toJSON() }]);
    expect(h.total).toBe(2);
    expect(h.max).toBe(300);
  });
});

describe('WorkerPool', () => {
  it('answers requests from every worker and replaces a worker that died', async () => {
    const { WorkerPool } = await import('../../../scripts/bench/lib/pool.mjs');
    const pool = new WorkerPool(2);
    try {
      const snaps = await pool.snapshot();
      expect(snaps).toHaveLength(2);
      expect(snaps.every((s: { received: number; clients: number }) => s.received === 0 && s.clients === 0)).toBe(true);
      const dead = pool.workers[1];
      const exited = new Promise((r) => dead.once('exit', r));
      dead.kill('SIGKILL');
      await exited;
      await expect(pool.call(1, 'snapshot')).rejects.toThrow(/worker 1/);
      await pool.reset();
      expect(pool.workers[1]).not.toBe(dead);
      expect(await pool.call(1, 'snapshot')).toMatchObject({ received: 0 });
      await expect(pool.call(0, 'no-such-op')).rejects.toThrow(/unknown op/);
    } finally {
      pool.close();
    }
  });
});
