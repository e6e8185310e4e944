// What one connection will write at the end of the tick. Acks and QoS 1/2 deliveries are encoded
// straight into one scratch Buffer instead of each getting a Buffer of its own that Buffer.concat
// then copies again (bench fanin-qos1 / one2one-qos1 / backlog-qos1: a PUBACK or a QoS 1 PUBLISH
// allocated a Buffer each, and GC was 15-17 % of the broker's CPU). Packets that already exist as
// Buffers (a QoS 0 fan-out's shared wire form, CONNACK, SUBACK) are kept by reference: a copy into
// each subscriber's scratch is work the concat at flush does anyway (a first fanout-qos0 run with
// copies was 14 % slower; later runs of either variant were within noise of each other).
import { pidOffset } from './publish-codec.js';

/** QoS 1/2 deliveries at least this long get a Buffer of their own rather than a place in the scratch. */
const BIG = 1024;
/** Bounds on the scratch size guessed from the previous flush. */
const MIN_SCRATCH = 64;
const MAX_SCRATCH = 16 * 1024;

/** Scratch size for the next tick from what this one held, within the bounds. */
function scratchHint(n: number): number {
  return n < MIN_SCRATCH ? MIN_SCRATCH : n > MAX_SCRATCH ? MAX_SCRATCH : n;
}

export class OutBuffer {
  /** Scratch for small packets; handed over whole at take(), so a new one per tick (none while idle). */
  private sc: Buffer | null = null;
  private scLen = 0;
  /** Sealed scratch parts and packets kept by reference, in write order; null while everything is in the scratch. */
  private parts: Buffer[] | null = null;
  /** Scratch size for the next tick: what the last one held. */
  private hint = MIN_SCRATCH;
  /** Bytes pending. */
  bytes = 0;
  /** Packets pending. */
  count = 0;

  /** The scratch with room for n more bytes at scLen. */
  private room(n: number): Buffer {
    let sc = this.sc;
    if (sc === null) {
      sc = this.sc = Buffer.allocUnsafe(n > this.hint ? n : this.hint);
    } else if (this.scLen + n > sc.length) {
      const next = Buffer.allocUnsafe(Math.max(sc.length * 2, this.scLen + n));
      sc.copy(next, 0, 0, this.scLen);
      sc = this.sc = next;
    }
    return sc;
  }

  /** Move the scratch into parts, so a part can follow it in order. */
  private seal(): void {
    const n = this.scLen;
    if (n === 0) return;
    (this.parts ??= []).push(this.sc!.subarray(0, n));
    this.hint = scratchHint(n);
    this.sc = null;
    this.scLen = 0;
  }

  /** Queue an encoded packet by reference; the caller must not change it afterwards. */
  packet(buf: Buffer): void {
    this.seal();
    (this.parts ??= []).push(buf);
    this.count++;
    this.bytes += buf.length;
  }

  /** PUBACK 4, PUBREC 5, PUBREL 6 (flags 0010) or PUBCOMP 7; v5 adds the reason code when it is not 0 [MQTT-3.4.2.1]. */
  ack(type: 4 | 5 | 6 | 7, pid: number, rc: number, v5: boolean): void {
    const withRc = v5 && rc !== 0;
    const n = withRc ? 5 : 4;
    const sc = this.room(n);
    let o = this.scLen;
    sc[o++] = (type << 4) | (type === 6 ? 2 : 0);
    sc[o++] = withRc ? 3 : 2;
    sc[o++] = pid >> 8;
    sc[o++] = pid & 0xff;
    if (withRc) sc[o++] = rc;
    this.scLen = o;
    this.count++;
    this.bytes += n;
  }

  /**
   * A PUBLISH from the message's cached wire form (publish-codec): shared as is at QoS 0, copied with
   * this delivery's DUP flag and packet id at QoS 1/2.
   */
  publish(wire: Buffer, qos: number, dup: boolean, pid: number): void {
    if (qos === 0) return this.packet(wire);
    const n = wire.length;
    let dst: Buffer;
    let off: number;
    if (n >= BIG) {
      this.seal();
      dst = Buffer.allocUnsafe(n);
      off = 0;
      (this.parts ??= []).push(dst);
    } else {
      dst = this.room(n);
      off = this.scLen;
      this.scLen += n;
    }
    wire.copy(dst, off);
    if (dup) dst[off]! |= 0x08;
    const at = off + pidOffset(wire);
    dst[at] = pid >> 8;
    dst[at + 1] = pid & 0xff;
    this.count++;
    this.bytes += n;
  }

  /** Move everything pending in `o` behind what is pending here. */
  append(o: OutBuffer): void {
    if (o.count === 0) return;
    o.seal();
    this.seal();
    const parts = (this.parts ??= []);
    for (const p of o.parts!) parts.push(p);
    this.count += o.count;
    this.bytes += o.bytes;
    o.parts = null;
    o.count = 0;
    o.bytes = 0;
  }

  /** Everything pending as one Buffer (null when nothing is), and start over. */
  take(): Buffer | null {
    if (this.count === 0) return null;
    let out: Buffer;
    const bytes = this.bytes;
    if (this.parts === null) {
      const n = this.scLen;
      out = n === this.sc!.length ? this.sc! : this.sc!.subarray(0, n);
      this.hint = scratchHint(n);
      this.sc = null;
      this.scLen = 0;
    } else {
      this.seal();
      const parts = this.parts;
      out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
      this.parts = null;
    }
    this.count = 0;
    this.bytes = 0;
    return out;
  }

  /** Drop everything pending (the connection closed). */
  clear(): void {
    this.sc = null;
    this.scLen = 0;
    this.parts = null;
    this.count = 0;
    this.bytes = 0;
  }
}
