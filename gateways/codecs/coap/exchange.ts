// CoAP's message layer (RFC 7252 §4): duplicate detection of incoming requests and retransmission
// of outgoing CON messages. Pure: time and randomness come in as arguments.
import type { CoapFrame } from './frame.js';
import { ACK_RANDOM_FACTOR, ACK_TIMEOUT_MS, EXCHANGE_LIFETIME_MS, MAX_DEDUP_ENTRIES, MAX_RETRANSMIT, NON_LIFETIME_MS } from './params.js';

interface Seen {
  at: number;
  lifetime: number;
  /** The reply sent for it, re-sent for a duplicate CON; null while the request is still being processed. */
  reply: CoapFrame | null;
}

/** Requests seen per (endpoint, message id) (RFC 7252 §4.5). */
export class DedupCache {
  private readonly seen = new Map<string, Seen>();

  get(key: string): Seen | undefined {
    return this.seen.get(key);
  }

  /** Remembers a request for EXCHANGE_LIFETIME (CON) or NON_LIFETIME (NON); the oldest goes when full. */
  add(key: string, confirmable: boolean, now: number): void {
    if (this.seen.size >= MAX_DEDUP_ENTRIES) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, { at: now, lifetime: confirmable ? EXCHANGE_LIFETIME_MS : NON_LIFETIME_MS, reply: null });
  }

  setReply(key: string, reply: CoapFrame): void {
    const e = this.seen.get(key);
    if (e !== undefined) e.reply = reply;
  }

  sweep(now: number): void {
    for (const [k, e] of this.seen) if (now - e.at >= e.lifetime) this.seen.delete(k);
  }
}

export interface Pending<M> {
  frame: CoapFrame;
  tries: number;
  timeoutMs: number;
  due: number;
  meta: M;
}

/** Outgoing CON messages awaiting their ACK or RST, by message id (RFC 7252 §4.2). */
export class Retransmitter<M> {
  private readonly pending = new Map<number, Pending<M>>();

  /** The first timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (RFC 7252 §4.8). */
  track(frame: CoapFrame, meta: M, now: number, random: () => number): void {
    const timeoutMs = Math.round(ACK_TIMEOUT_MS * (1 + random() * (ACK_RANDOM_FACTOR - 1)));
    this.pending.set(frame.messageId, { frame, tries: 0, timeoutMs, due: now + timeoutMs, meta });
  }

  /** Removes and returns the exchange an ACK or RST with this message id settles. */
  take(messageId: number): Pending<M> | undefined {
    const p = this.pending.get(messageId);
    if (p !== undefined) this.pending.delete(messageId);
    return p;
  }

  /**
   * Frames due for retransmission (the timeout doubles each time) and the exchanges that gave up
   * after MAX_RETRANSMIT retransmissions.
   */
  tick(now: number): { resend: CoapFrame[]; failed: M[] } {
    const resend: CoapFrame[] = [];
    const failed: M[] = [];
    for (const [mid, p] of this.pending) {
      if (p.due > now) continue;
      if (p.tries >= MAX_RETRANSMIT) {
        this.pending.delete(mid);
        failed.push(p.meta);
        continue;
      }
      p.tries++;
      p.timeoutMs *= 2;
      p.due = now + p.timeoutMs;
      resend.push(p.frame);
    }
    return { resend, failed };
  }

  nextDue(): number {
    let next = Infinity;
    for (const p of this.pending.values()) if (p.due < next) next = p.due;
    return next;
  }

  removeWhere(pred: (meta: M) => boolean): void {
    for (const [mid, p] of this.pending) if (pred(p.meta)) this.pending.delete(mid);
  }

  clear(): void {
    this.pending.clear();
  }
}
