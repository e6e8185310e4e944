// The system clock must hold any delay MQTT can express (intervals up to 2^32-1 s), not just the
// 2^31-1 ms one Node timer holds; past that Node fires after 1 ms (issue 15: a 30-day will at 4 ms).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearLongTimeout, longTimeout, MAX_TIMER_STEP_MS, systemClock } from '../../../src/core/types.js';

const MAX_INTERVAL_MS = (2 ** 32 - 1) * 1000;

/** A one-step timer under test control: records every arm, fires the latest on demand. */
function manualArm() {
  const armed: { ms: number; fn: () => void }[] = [];
  const arm = (fn: () => void, ms: number): NodeJS.Timeout => {
    armed.push({ ms, fn });
    return { ms } as unknown as NodeJS.Timeout;
  };
  return { armed, arm };
}

describe('longTimeout (re-arming in steps)', () => {
  it('splits 2^32-1 s into steps of at most 2^31-1 ms that add up to the whole delay, then fires once', () => {
    const { armed, arm } = manualArm();
    let fired = 0;
    longTimeout(() => fired++, MAX_INTERVAL_MS, arm);
    let total = 0;
    for (let i = 0; i < 10_000 && armed.length > i; i++) {
      const step = armed[i]!;
      expect(step.ms).toBeGreaterThan(0);
      expect(step.ms).toBeLessThanOrEqual(MAX_TIMER_STEP_MS);
      total += step.ms;
      expect(fired).toBe(0);
      step.fn();
    }
    expect(total).toBe(MAX_INTERVAL_MS);
    expect(armed.length).toBe(Math.ceil(MAX_INTERVAL_MS / MAX_TIMER_STEP_MS));
    expect(fired).toBe(1);
  });

  it('uses one plain timer when the delay fits, including exactly 2^31-1 ms', () => {
    const { armed, arm } = manualArm();
    longTimeout(() => {}, MAX_TIMER_STEP_MS, arm);
    longTimeout(() => {}, 1000, arm);
    expect(armed.map((a) => a.ms)).toEqual([MAX_TIMER_STEP_MS, 1000]);
  });

  it('treats NaN and negative delays as 0 and never arms Infinity', () => {
    const { armed, arm } = manualArm();
    longTimeout(() => {}, Number.NaN, arm);
    longTimeout(() => {}, -5, arm);
    longTimeout(() => {}, Infinity, arm);
    expect(armed.map((a) => a.ms)).toEqual([0, 0]);
  });
});

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a 30-day timer does not fire early and fires when 30 days have passed, without TimeoutOverflowWarning', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    vi.useFakeTimers();
    try {
      const day = 86_400_000;
      let fired = 0;
      systemClock.setTimeout(() => fired++, 30 * day);
      vi.advanceTimersByTime(1000);
      expect(fired).toBe(0);
      vi.advanceTimersByTime(30 * day - 1000 - 1);
      expect(fired).toBe(0);
      vi.advanceTimersByTime(1);
      expect(fired).toBe(1);
      vi.advanceTimersByTime(100 * day);
      expect(fired).toBe(1);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('the maximum interval (2^32-1 s) stays pending across the first steps and fires at its end', () => {
    vi.useFakeTimers();
    let fired = 0;
    systemClock.setTimeout(() => fired++, MAX_INTERVAL_MS);
    vi.advanceTimersByTime(MAX_TIMER_STEP_MS * 3);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(MAX_INTERVAL_MS - MAX_TIMER_STEP_MS * 3 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
  });

  it('a long timer stays cancellable after it has re-armed', () => {
    vi.useFakeTimers();
    let fired = 0;
    const h = systemClock.setTimeout(() => fired++, 3 * MAX_TIMER_STEP_MS);
    vi.advanceTimersByTime(MAX_TIMER_STEP_MS + 10);
    systemClock.clearTimeout(h);
    vi.advanceTimersByTime(5 * MAX_TIMER_STEP_MS);
    expect(fired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    const short = systemClock.setTimeout(() => fired++, 50);
    clearLongTimeout(short);
    vi.advanceTimersByTime(100);
    expect(fired).toBe(0);
  });

  it("every step is unref'd, so a pending long timer never holds the process open", () => {
    const h = systemClock.setTimeout(() => {}, 2 * MAX_TIMER_STEP_MS);
    const plain = systemClock.setTimeout(() => {}, 1000) as NodeJS.Timeout;
    try {
      // The long timer's current step is a real Node timer the clock created.
      const step = (h as unknown as { timer: NodeJS.Timeout }).timer;
      expect(step.hasRef()).toBe(false);
      expect(plain.hasRef()).toBe(false);
    } finally {
      systemClock.clearTimeout(h);
      systemClock.clearTimeout(plain);
    }
  });
});
