// The one manual clock for unit tests (channels, transports, auth, admin): time moves only when a
// test says so, and timers fire only when advance() passes them, in due order (ties in the order
// they were set), including timers that firing ones set. Implements the ground floor's Clock, so
// anything that takes an injected clock takes this one.
import type { Clock, TimerHandle } from '../../src/core/types.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  /** Current time in ms; tests may also set it directly to jump without firing timers. */
  t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    // Infinity never fires (Clock's contract); NaN and negatives fire at the next advance, as Node does.
    const p: Pending = { at: this.t + (ms > 0 ? ms : 0), seq: this.seq++, fn, cancelled: false };
    this.timers.push(p);
    return p as unknown as TimerHandle;
  }

  clearTimeout(h: TimerHandle): void {
    (h as unknown as Pending).cancelled = true;
  }

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.timers.filter((p) => !p.cancelled).length;
  }

  /** Move time forward by ms, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: Pending | undefined;
      for (const p of this.timers) if (!p.cancelled && p.at <= end && (due === undefined || p.at < due.at || (p.at === due.at && p.seq < due.seq))) due = p;
      if (due === undefined) break;
      due.cancelled = true;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((p) => !p.cancelled);
    this.t = end;
  }
}
