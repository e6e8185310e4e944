// Splits the upstream's byte stream into whole MQTT packets, so the bridge has each PUBLISH's bytes
// when mqtt-packet hands it the parsed packet: the parsed form merges repeated User Properties and
// loses their order, which must reach local subscribers unaltered [MQTT-3.3.2-18].
export class FrameReader {
  private buf: Buffer | null = null;
  /** Chunks of a packet whose length is known and that is still arriving: joined once, when whole. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private need = 0;

  push(chunk: Buffer): void {
    if (this.buf === null || this.buf.length === 0) this.buf = chunk;
    else if (this.need > 0) {
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      if (this.buf.length + this.partsLen >= this.need) {
        this.buf = Buffer.concat([this.buf, ...this.parts]);
        this.parts = [];
        this.partsLen = 0;
      }
    } else this.buf = Buffer.concat([this.buf, chunk]);
  }

  /** The next whole packet, null when more bytes are needed, 'malformed' for a bad Remaining Length. */
  next(): Buffer | null | 'malformed' {
    const b = this.buf;
    if (b === null || this.parts.length > 0 || b.length < 2) return null;
    let len = 0;
    let mul = 1;
    let i = 1;
    for (;;) {
      if (i >= b.length) return null;
      if (i > 4) return 'malformed';
      const c = b[i++]!;
      len += (c & 0x7f) * mul;
      mul *= 128;
      if ((c & 0x80) === 0) break;
    }
    const total = i + len;
    if (b.length < total) {
      this.need = total;
      return null;
    }
    this.need = 0;
    this.buf = total === b.length ? null : b.subarray(total);
    return b.subarray(0, total);
  }
}
