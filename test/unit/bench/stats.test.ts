import { describe, expect, it } from 'vitest';
import { LatencyHistogram, median, ratio } from '../../../scripts/bench/lib/stats.mjs';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the middle pair of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('ignores non-numbers and NaN, and is NaN when nothing is left', () => {
    expect(median([Number.NaN, 5, 'x', 7])).toBe(6);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});

describe('LatencyHistogram', () => {
  it('answers percentiles within its 1% bucket width', () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 10_000; us++) h.record(us);
    expect(h.total).toBe(10_000);
    expect(h.percentile(0.5)).toBeGreaterThanOrEqual(5000 * 0.99);
    expect(h.percentile(0.5)).toBeLessThanOrEqual(5000 * 1.02);
    expect(h.percentile(0.99)).toBeGreaterThanOrEqual(9900 * 0.99);
    expect(h.percentile(0.99)).toBeLessThanOrEqual(9900 * 1.02);
    expect(h.percentile(1)).toBe(10_000);
  });

  it('merges histograms sent as JSON exactly as if all samples were recorded in one', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 0; i < 500; i++) {
      const v = 50 + ((i * 37) % 900);
      (i % 2 === 0 ? a : b).record(v);
      all.record(v);
    }
    const merged = new LatencyHistogram().merge(JSON.parse(JSON.stringify(a))).merge(JSON.parse(JSON.stringify(b)));
    expect(merged.total).toBe(all.total);
    expect(merged.max).toBe(all.max);
    for (const q of [0.1, 0.5, 0.9, 0.99]) expect(merged.percentile(q)).toBe(all.percentile(q));
  });

  it('is NaN when empty and empty again after reset', () => {
    const h = new LatencyHistogram();
    expect(Number.isNaN(h.percentile(0.5))).toBe(true);
    h.record(0.2);
    expect(h.percentile(0.5)).toBe(1);
    h.reset();
    expect(h.total).toBe(0);
    expect(Number.isNaN(h.mean())).toBe(true);
  });
});

describe('ratio', () => {
  it('divides, and is NaN for markers or a zero denominator', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(Number.isNaN(ratio('n/a', 2))).toBe(true);
    expect(Number.isNaN(ratio(1, 0))).toBe(true);
  });
});
