// Named one-shot timers on the injected clock: one handle per name, set replaces, so a channel
// never holds two timers of the same kind.
import type { Clock } from '../gateway.js';

type Handle = ReturnType<Clock['setTimeout']>;

export class Timers<N extends string> {
  private readonly handles = new Map<N, Handle>();

  constructor(private readonly clock: Clock) {}

  set(name: N, ms: number, fn: () => void): void {
    this.cancel(name);
    const h = this.clock.setTimeout(() => {
      this.handles.delete(name);
      fn();
    }, ms);
    this.handles.set(name, h);
  }

  cancel(name: N): void {
    const h = this.handles.get(name);
    if (h === undefined) return;
    this.clock.clearTimeout(h);
    this.handles.delete(name);
  }

  has(name: N): boolean {
    return this.handles.has(name);
  }

  cancelAll(): void {
    for (const h of this.handles.values()) this.clock.clearTimeout(h);
    this.handles.clear();
  }
}
