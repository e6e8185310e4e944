// Every drop is counted (by the caller) and logged here: the first drop of a reason at once, the
// rest of a 10 s window as one line with a count, so a full buffer cannot flood the journal.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../core/types.js';

const WINDOW_MS = 10_000;

export class DropReporter {
  private readonly pending = new Map<string, { count: number; lastTopic: string }>();
  private timer: TimerHandle | null = null;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  report(reason: string, topic: string): void {
    const p = this.pending.get(reason);
    if (p) {
      p.count++;
      p.lastTopic = topic;
      return;
    }
    this.log.warn({ reason, topic }, 'bridge_message_dropped');
    this.pending.set(reason, { count: 0, lastTopic: topic });
    this.timer ??= this.clock.setTimeout(() => this.flush(), WINDOW_MS);
  }

  /** Writes the counts gathered since the last line (also on stop). */
  flush(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    for (const [reason, p] of this.pending) {
      if (p.count > 0) this.log.warn({ reason, count: p.count, lastTopic: p.lastTopic, windowMs: WINDOW_MS }, 'bridge_message_dropped');
    }
    this.pending.clear();
  }
}
