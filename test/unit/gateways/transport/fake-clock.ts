// A manual clock for channel and transport tests: timers fire only when advance() passes them.
import type { Clock } from '../../../../gateways/gateway.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): ReturnType<Clock['setTimeout']> {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(p);
    return p as unknown as ReturnType<Clock['setTimeout']>;
  }

  clearTimeout(h: ReturnType<Clock['setTimeout']>): void {
    (h as unknown as Pending).cancelled = true;
  }

  /** Pending timer count (cancelled ones excluded). */
  get pending(): number {
    return this.timers.filter((p) => !p.cancelled).length;
  }

  /** Move time forward by ms, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((p) => !p.cancelled && p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.t = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((p) => !p.cancelled);
    this.t = end;
  }
}
