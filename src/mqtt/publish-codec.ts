// PUBLISH serialisation on the hot path. A message's wire form is cached per protocol family,
// QoS and retain flag (Message.wire), so a QoS 0 fan-out encodes once; QoS 1/2 copies the cached
// bytes and patches the packet id and DUP bit. Deliveries with per-subscriber parts (v5
// subscription ids, topic alias, remaining expiry) are encoded individually.
import type { Message } from '../core/message.js';
import type { QoS } from '../core/types.js';

function varintLen(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVarint(buf: Buffer, off: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[off++] = b;
  } while (n > 0);
  return off;
}

export interface PublishExtras {
  /** Remaining Message-Expiry-Interval seconds, -1 for none. */
  expiry: number;
  subIds: readonly number[] | null;
  /** Topic alias to send (0 none); with `aliasOnly` the topic name is left empty. */
  alias: number;
  aliasOnly: boolean;
}

const NO_EXTRAS: PublishExtras = { expiry: -1, subIds: null, alias: 0, aliasOnly: false };

/** Byte length of the v5 property block for a message (without its varint length prefix). */
function propsLength(m: Message, x: PublishExtras): number {
  let n = 0;
  const p = m.props;
  if (p) {
    if (p.payloadFormatIndicator !== undefined) n += 2;
    if (p.contentType !== undefined) n += 3 + Buffer.byteLength(p.contentType);
    if (p.responseTopic !== undefined) n += 3 + Buffer.byteLength(p.responseTopic);
    if (p.correlationData !== undefined) n += 3 + p.correlationData.length;
    if (p.userProperties !== undefined) for (const [k, v] of p.userProperties) n += 5 + Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (x.expiry >= 0) n += 5;
  if (x.subIds) for (const id of x.subIds) n += 1 + varintLen(id);
  if (x.alias) n += 3;
  return n;
}

function writeStr(buf: Buffer, off: number, s: string): number {
  const len = buf.write(s, off + 2, 'utf8');
  buf.writeUInt16BE(len, off);
  return off + 2 + len;
}

function writeProps(buf: Buffer, off: number, m: Message, x: PublishExtras): number {
  const p = m.props;
  if (p) {
    if (p.payloadFormatIndicator !== undefined) {
      buf[off++] = 0x01;
      buf[off++] = p.payloadFormatIndicator ? 1 : 0;
    }
    if (x.expiry >= 0) {
      buf[off++] = 0x02;
      buf.writeUInt32BE(x.expiry, off);
      off += 4;
    }
    if (p.contentType !== undefined) {
      buf[off++] = 0x03;
      off = writeStr(buf, off, p.contentType);
    }
    if (p.responseTopic !== undefined) {
      buf[off++] = 0x08;
      off = writeStr(buf, off, p.responseTopic);
    }
    if (p.correlationData !== undefined) {
      buf[off++] = 0x09;
      buf.writeUInt16BE(p.correlationData.length, off);
      p.correlationData.copy(buf, off + 2);
      off += 2 + p.correlationData.length;
    }
  } else if (x.expiry >= 0) {
    buf[off++] = 0x02;
    buf.writeUInt32BE(x.expiry, off);
    off += 4;
  }
  if (x.subIds) {
    for (const id of x.subIds) {
      buf[off++] = 0x0b;
      off = writeVarint(buf, off, id);
    }
  }
  if (x.alias) {
    buf[off++] = 0x23;
    buf.writeUInt16BE(x.alias, off);
    off += 2;
  }
  if (p?.userProperties !== undefined) {
    // In the order received, repeats kept [MQTT-3.3.2-17], [MQTT-3.3.2-18].
    for (const [k, v] of p.userProperties) {
      buf[off++] = 0x26;
      off = writeStr(buf, off, k);
      off = writeStr(buf, off, v);
    }
  }
  return off;
}

/** Encode one PUBLISH. `topic` may differ from m.topic (mountpoint stripped). */
export function encodePublish(m: Message, topic: string, v5: boolean, qos: QoS, retain: boolean, dup: boolean, pid: number, x: PublishExtras): Buffer {
  const topicStr = x.aliasOnly ? '' : topic;
  const topicLen = Buffer.byteLength(topicStr);
  const pl = v5 ? propsLength(m, x) : 0;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (v5 ? varintLen(pl) + pl : 0) + m.payload.length;
  const total = 1 + varintLen(remaining) + remaining;
  const buf = Buffer.allocUnsafe(total);
  buf[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  let off = writeVarint(buf, 1, remaining);
  off = writeStr(buf, off, topicStr);
  if (qos > 0) {
    buf.writeUInt16BE(pid, off);
    off += 2;
  }
  if (v5) {
    off = writeVarint(buf, off, pl);
    off = writeProps(buf, off, m, x);
  }
  m.payload.copy(buf, off);
  return buf;
}

/**
 * The message's wire form for these flags, encoded on first use and cached on the message: packet id 1
 * for QoS > 0 (see pidOffset) and DUP clear. Shared between deliveries: never modify it.
 */
export function cachedWire(m: Message, v5: boolean, qos: QoS, retain: boolean): Buffer {
  const slot = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
  let wire = m.wire;
  let cached = wire ? wire[slot] : undefined;
  if (!cached) {
    cached = encodePublish(m, m.topic, v5, qos, retain, false, qos > 0 ? 1 : 0, NO_EXTRAS);
    wire ??= m.wire = new Array<Buffer | undefined>(12);
    wire[slot] = cached;
  }
  return cached;
}

/** Where the packet id of a QoS 1/2 PUBLISH sits: right after the topic (fixed header, 2-byte topic length, topic). */
export function pidOffset(b: Buffer): number {
  const hdr = headerLength(b);
  return hdr + 2 + ((b[hdr]! << 8) | b[hdr + 1]!);
}

/** Fixed header length (1 + varint bytes). */
function headerLength(b: Buffer): number {
  let i = 1;
  while (i < 5 && (b[i]! & 0x80) !== 0) i++;
  return i + 1;
}
