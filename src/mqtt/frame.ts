// Splits a byte stream into whole MQTT packets before anything parses them, so an oversized
// Remaining Length is refused from the fixed header alone (no buffering of a 256 MB claim).

/** A whole packet, or why there is none: 'more' (incomplete) or an error that must close the connection. */
export type SplitResult = Buffer | 'more' | 'packet_too_large' | 'malformed_length';

export class FrameSplitter {
  private buf: Buffer | null = null;

  constructor(public maxPacketSize: number) {}

  push(chunk: Buffer): void {
    this.buf = this.buf && this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** The next whole packet (no wrapper object: this runs once per packet), or a SplitResult string. */
  next(): SplitResult {
    const b = this.buf;
    if (!b || b.length < 2) return 'more';
    let len = 0;
    let mul = 1;
    let i = 1;
    for (;;) {
      if (i >= b.length) return 'more';
      if (i > 4) return 'malformed_length';
      const c = b[i]!;
      len += (c & 0x7f) * mul;
      mul *= 128;
      i++;
      if ((c & 0x80) === 0) break;
    }
    const total = i + len;
    if (total > this.maxPacketSize) return 'packet_too_large';
    if (b.length < total) return 'more';
    const frame = b.subarray(0, total);
    this.buf = b.length === total ? null : b.subarray(total);
    return frame;
  }

  /** The bytes buffered so far (for answering a CONNECT that cannot be parsed). */
  peek(): Buffer | null {
    return this.buf;
  }

  get buffered(): number {
    return this.buf ? this.buf.length : 0;
  }
}
