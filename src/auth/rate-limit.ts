// Token buckets for per-client message/byte rates and per-listener connection rates (EMQX
// messages_rate / bytes_rate / max_conn_rate, emqx-broker-behaviour.md §2): exceeding pauses the
// reader for the returned time rather than disconnecting. Plus the global connection cap.
import type { RateLimiter } from '../core/hooks.js';

const UNIT_BYTES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 * 1024, GB: 1024 * 1024 * 1024 };
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Tokens per millisecond for an EMQX rate string; null for "infinity". Throws on a malformed rate. */
export function parseRate(rate: string): number | null {
  const s = rate.trim();
  if (s === 'infinity') return null;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)$/i.exec(s);
  if (!m) throw new Error(`bad rate ${JSON.stringify(rate)}`);
  const amount = Number(m[1]) * (m[2] ? UNIT_BYTES[m[2].toUpperCase()]! : 1);
  const per = Number(m[3] ?? 1) * UNIT_MS[m[4]!.toLowerCase()]!;
  if (!(amount > 0) || !(per > 0)) throw new Error(`bad rate ${JSON.stringify(rate)}`);
  return amount / per;
}

/**
 * A token bucket. `consume` always takes the tokens (the caller is committed: the packet is
 * already read) and answers how long to pause so the average stays at the rate.
 */
export class TokenBucket implements RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    /** Tokens per ms. */
    private readonly rate: number,
    /** Bucket size: what may pass at once. */
    private readonly capacity: number,
    now = 0,
    /**
     * The clock, when known: a caller that drains buffered packets after a pause passes the
     * arrival time of the last chunk, which is stale; the later of the two is used.
     */
    private readonly clock: (() => number) | null = null,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  consume(amount: number, at: number): number {
    const now = this.clock ? Math.max(at, this.clock()) : at;
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.rate);
      this.last = now;
    }
    this.tokens -= amount;
    if (this.tokens >= 0) return 0;
    return Math.ceil(-this.tokens / this.rate);
  }

  /** Would `amount` pass right now, without taking anything? */
  available(now: number): number {
    return Math.min(this.capacity, this.tokens + Math.max(0, now - this.last) * this.rate);
  }
}

/** A bucket for a rate string, or null when unlimited. burst 0 = one second's worth (at least 1). */
export function bucketFor(rate: string, burst: number, now: number, clock: (() => number) | null = null): TokenBucket | null {
  const r = parseRate(rate);
  if (r === null) return null;
  const cap = burst > 0 ? burst : Math.max(1, r * 1000);
  return new TokenBucket(r, cap, now, clock);
}

/** The global connection cap over every listener. */
export class ConnectionCounter {
  private count = 0;

  constructor(private max: number) {}

  setMax(max: number): void {
    this.max = max;
  }

  current(): number {
    return this.count;
  }

  /** A release function when a slot was free, else null. Release is idempotent. */
  tryAcquire(): (() => void) | null {
    if (this.max > 0 && this.count >= this.max) return null;
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
    };
  }
}
