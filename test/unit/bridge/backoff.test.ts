import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/bridge/backoff.js';

describe('reconnect backoff (decorrelated jitter)', () => {
  it('starts at the base and stays within [base, min(cap, 3 x previous)]', () => {
    const seq = [0.5, 0.9, 0.1, 0.99, 0.99, 0.99, 0.99, 0.99];
    let i = 0;
    const b = new Backoff(1000, 60_000, () => seq[i++ % seq.length]!);
    let prev = 1000;
    for (let n = 0; n < 8; n++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(Math.min(60_000, prev * 3));
      prev = d;
    }
    expect(prev).toBe(60_000);
  });

  it('random 0 gives the base every time; reset returns to the base range', () => {
    const b = new Backoff(1000, 60_000, () => 0);
    expect([b.next(), b.next(), b.next()]).toEqual([1000, 1000, 1000]);
    const hi = new Backoff(1000, 60_000, () => 0.999999);
    expect([hi.next(), hi.next(), hi.next(), hi.next(), hi.next()]).toEqual([3000, 9000, 27000, 60000, 60000]);
    hi.reset();
    expect(hi.next()).toBe(3000);
  });
});
