// Stateless DTLS cookies (RFC 6347 §4.2.1): HMAC-SHA256 over the peer's address and port under a
// secret that rotates; a cookie made under the previous secret still checks out, so a client
// caught by a rotation between its two ClientHellos is not refused. Nothing is stored per peer.
import { createHmac, randomBytes } from 'node:crypto';

export const COOKIE_LENGTH = 16;

export class CookieSecrets {
  private current: Buffer;
  private previous: Buffer | undefined;
  private rotatedAt: number;

  constructor(
    private readonly rotateMs: number,
    private readonly now: () => number = Date.now,
    private readonly random: (n: number) => Buffer = randomBytes,
  ) {
    this.current = random(32);
    this.rotatedAt = now();
  }

  private tick(): void {
    const t = this.now();
    if (t - this.rotatedAt < this.rotateMs) return;
    // Rotating twice in one silent stretch: the old "previous" must not survive two periods.
    this.previous = t - this.rotatedAt < 2 * this.rotateMs ? this.current : undefined;
    this.current = this.random(32);
    this.rotatedAt = t;
  }

  /** The cookie this peer must echo now. */
  cookie(address: string, port: number): Buffer {
    this.tick();
    return mac(this.current, address, port);
  }

  /** The cookie under the previous secret (still accepted), if there is one. */
  previousCookie(address: string, port: number): Buffer | undefined {
    return this.previous && mac(this.previous, address, port);
  }
}

function mac(secret: Buffer, address: string, port: number): Buffer {
  return createHmac('sha256', secret).update(address).update(`/${port}`).digest().subarray(0, COOKIE_LENGTH);
}
