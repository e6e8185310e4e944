// Reconnect delays: exponential backoff with decorrelated jitter (the AWS architecture blog's
// "decorrelated jitter": next = min(cap, random(base, prev * 3))), so many edge boxes that lost the
// same uplink do not reconnect in lock step (spec §5.9, Mosquitto's restart_timeout base/cap).

export class Backoff {
  private prev: number;

  /** baseMs/capMs in ms; random() in [0, 1), injectable for tests. */
  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.prev = baseMs;
  }

  next(): number {
    const hi = Math.max(this.baseMs, this.prev * 3);
    const d = Math.min(this.capMs, this.baseMs + this.random() * (hi - this.baseMs));
    this.prev = d;
    return Math.round(d);
  }

  reset(): void {
    this.prev = this.baseMs;
  }
}
