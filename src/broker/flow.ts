// Publisher flow control (mqtt.publisher_flow_control): what a congested consumer and the publishers
// waiting on it share. A consumer is a connected session's queue or a connected bridge's outbound
// log; the MQTT front of a publisher whose message pushed one past its high-water mark stops reading
// that socket until the consumer has drained to half of it, so TCP holds the publisher back instead
// of Outpost acknowledging messages it would then drop by policy.

/**
 * A publisher's front that stopped reading. The consumer calls resumeFlow() once it drained or went
 * away; the waiter also gives up on its own after FLOW_STALL_MS, so a stuck consumer cannot stall
 * its publishers.
 */
export interface FlowWaiter {
  resumeFlow(): void;
}

/** What a publisher waits on. */
export interface FlowSource {
  addWaiter(w: FlowWaiter): void;
  removeWaiter(w: FlowWaiter): void;
  /** Someone waits on this consumer: the consumer's own connection must keep reading (no wait cycles). */
  hasWaiters(): boolean;
}

/**
 * A consumer with deliveries outstanding that acknowledged nothing for this long is stalled, not
 * slow: it no longer holds publishers back, and its queue drops by policy instead.
 */
export const FLOW_STALL_MS = 500;

/**
 * Backlog at which publishers are asked to wait: a few windows' worth, so the consumer never runs dry
 * while they are held, and below the queue's cap (0 = none) so nothing is dropped first.
 */
export function flowHighWater(window: number, cap: number): number {
  const hw = Math.max(4 * window, 256);
  return cap > 0 ? Math.min(hw, Math.max(1, (cap * 3) >> 2)) : hw;
}

/** The publishers waiting on one consumer; no Set until the first one. */
export class FlowWaiters implements FlowSource {
  private set: Set<FlowWaiter> | null = null;

  addWaiter(w: FlowWaiter): void {
    (this.set ??= new Set()).add(w);
  }

  removeWaiter(w: FlowWaiter): void {
    this.set?.delete(w);
  }

  hasWaiters(): boolean {
    return this.set !== null && this.set.size > 0;
  }

  /** Wakes every waiter (each removes itself, hence the swap first). */
  release(): void {
    const ws = this.set;
    if (ws === null) return;
    this.set = null;
    for (const w of ws) w.resumeFlow();
  }
}
