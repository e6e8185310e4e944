// Hand-written decoding of the packets on the hot path (PUBLISH and the four acks) and encoding
// of the acks. Everything else goes through mqtt-packet's parser. Pure functions over a whole
// frame (FrameSplitter output); they return an error code instead of throwing.
import { isUtf8 } from 'node:buffer';
import type { MessageProperties, QoS } from '../core/types.js';

export interface InPublish {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  pid: number;
  /** v5 only. */
  props: MessageProperties | null;
  expiry: number | undefined;
  alias: number | undefined;
}

/** The decoded PUBLISH, or the reason it is malformed (a string). */
export type PublishDecode = InPublish | string;

function readVarint(b: Buffer, off: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (off >= b.length) return [-1, off];
    const c = b[off++]!;
    v += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) return [v, off];
    mul *= 128;
  }
  return [-1, off];
}

/** Where the last readStr() ended: a module slot instead of a tuple per string (once per PUBLISH). */
let strEnd = 0;

/** MQTT 5 reason code of the last decodePublish() failure: 0x81 Malformed Packet or 0x82 Protocol Error. */
let errorCode = 0x81;
export function publishErrorCode(): number {
  return errorCode;
}
function protocolError(why: string): string {
  errorCode = 0x82;
  return why;
}

function readStr(b: Buffer, off: number, end: number): string | null {
  if (off + 2 > end) return null;
  const len = b.readUInt16BE(off);
  const s = off + 2;
  if (s + len > end) return null;
  // [MQTT-1.5.4-1] ill-formed UTF-8 (surrogates included) and [MQTT-1.5.4-2] U+0000 are a malformed packet
  if (!wellFormed(b, s, s + len)) return null;
  strEnd = s + len;
  return b.toString('utf8', s, s + len);
}

/**
 * b[s, e) is well-formed UTF-8 without U+0000. Short ASCII strings (most topic names) are checked in
 * one loop; anything else by the native isUtf8 (which rejects surrogates and overlongs) plus a NUL scan.
 */
function wellFormed(b: Buffer, s: number, e: number): boolean {
  if (e - s <= 128) {
    let i = s;
    for (; i < e; i++) {
      const c = b[i]!;
      if (c === 0) return false;
      if (c >= 0x80) break;
    }
    if (i === e) return true;
  }
  const sub = b.subarray(s, e);
  return isUtf8(sub) && sub.indexOf(0) === -1;
}

const EMPTY = Buffer.alloc(0);

/**
 * The last topic name one connection published to. A publisher mostly repeats its topic: comparing
 * the bytes skips the UTF-8 check and the new string (bench fanin-qos1, backlog-qos1).
 */
export class TopicCache {
  bytes: Buffer = EMPTY;
  len = -1;
  str = '';
}
/** Longer topic names are not cached. */
const MAX_CACHED_TOPIC = 256;

function readTopic(b: Buffer, off: number, end: number, cache: TopicCache): string | null {
  if (off + 2 > end) return null;
  const len = (b[off]! << 8) | b[off + 1]!;
  const s = off + 2;
  if (s + len > end) return null;
  if (cache.len === len) {
    const cb = cache.bytes;
    let i = 0;
    while (i < len && cb[i] === b[s + i]) i++;
    if (i === len) {
      strEnd = s + len;
      return cache.str;
    }
  }
  const str = readStr(b, off, end);
  if (str !== null && len <= MAX_CACHED_TOPIC) {
    if (cache.bytes.length < len) cache.bytes = Buffer.allocUnsafe(len < 64 ? 64 : len);
    b.copy(cache.bytes, 0, s, s + len);
    cache.len = len;
    cache.str = str;
  }
  return str;
}

/** Decode a PUBLISH frame (fixed header included); `cache` is the connection's TopicCache, if it keeps one. */
export function decodePublish(frame: Buffer, v5: boolean, cache: TopicCache | null = null): PublishDecode {
  errorCode = 0x81;
  const h = frame[0]!;
  const qos = (h >> 1) & 3;
  if (qos === 3) return 'PUBLISH with QoS 3';
  const dup = (h & 0x08) !== 0;
  // [MQTT-3.3.1-2] DUP must be 0 on QoS 0, in every version
  if (dup && qos === 0) return 'DUP set on a QoS 0 PUBLISH';
  let off = 1;
  while (frame[off]! & 0x80) off++;
  off++;
  const end = frame.length;
  const topic = cache === null ? readStr(frame, off, end) : readTopic(frame, off, end, cache);
  if (topic === null) return 'bad topic string';
  off = strEnd;
  let pid = 0;
  if (qos > 0) {
    if (off + 2 > end) return 'missing packet id';
    pid = frame.readUInt16BE(off);
    off += 2;
    if (pid === 0) return 'packet id 0';
  }
  let props: MessageProperties | null = null;
  let expiry: number | undefined;
  let alias: number | undefined;
  if (v5) {
    const [plen, o2] = readVarint(frame, off);
    if (plen < 0 || o2 + plen > end) return 'bad property length';
    off = o2;
    const pend = off + plen;
    let seen = 0;
    let up: [string, string][] | null = null;
    while (off < pend) {
      const id = frame[off++]!;
      switch (id) {
        case 0x01:
          // A property twice is a Protocol Error (MQTT 5 §2.2.2.2), a truncated one malformed.
          if (seen & 1) return protocolError('duplicate payload format indicator');
          if (off + 1 > pend) return 'bad payload format indicator';
          seen |= 1;
          // Only 0 and 1 exist (§3.3.2.3.2); it is kept as a flag and forwarded unaltered
          // [MQTT-3.3.2-4], so another value is refused rather than rewritten (validate.ts).
          if (frame[off]! > 1) return protocolError('payload format indicator other than 0 or 1');
          (props ??= {}).payloadFormatIndicator = frame[off++] === 1;
          break;
        case 0x02:
          if (seen & 2) return protocolError('duplicate message expiry interval');
          if (off + 4 > pend) return 'bad message expiry';
          seen |= 2;
          expiry = frame.readUInt32BE(off);
          off += 4;
          break;
        case 0x03: {
          if (seen & 4) return protocolError('duplicate content type');
          seen |= 4;
          const s = readStr(frame, off, pend);
          if (s === null) return 'bad content type';
          (props ??= {}).contentType = s;
          off = strEnd;
          break;
        }
        case 0x08: {
          if (seen & 8) return protocolError('duplicate response topic');
          seen |= 8;
          const s = readStr(frame, off, pend);
          if (s === null) return 'bad response topic';
          // [MQTT-3.3.2-14] no wildcards in a Response Topic
          if (s.includes('#') || s.includes('+')) return protocolError('wildcard in response topic');
          (props ??= {}).responseTopic = s;
          off = strEnd;
          break;
        }
        case 0x09: {
          if (seen & 16) return protocolError('duplicate correlation data');
          if (off + 2 > pend) return 'bad correlation data';
          seen |= 16;
          const len = frame.readUInt16BE(off);
          if (off + 2 + len > pend) return 'bad correlation data';
          (props ??= {}).correlationData = Buffer.from(frame.subarray(off + 2, off + 2 + len));
          off += 2 + len;
          break;
        }
        case 0x23:
          if (seen & 32) return protocolError('duplicate topic alias');
          if (off + 2 > pend) return 'bad topic alias';
          seen |= 32;
          alias = frame.readUInt16BE(off);
          off += 2;
          break;
        case 0x26: {
          const k = readStr(frame, off, pend);
          if (k === null) return 'bad user property';
          const v = readStr(frame, strEnd, pend);
          if (v === null) return 'bad user property';
          off = strEnd;
          // Kept as ordered pairs, repeats included: forwarded unaltered [MQTT-3.3.2-17], [MQTT-3.3.2-18].
          (up ??= []).push([k, v]);
          break;
        }
        case 0x0b:
          // [MQTT-3.3.4-6] a client's PUBLISH must not carry a Subscription Identifier: Protocol Error
          return protocolError('subscription identifier in PUBLISH from a client');
        default:
          // Any other property does not belong in PUBLISH: malformed (MQTT 5 §2.2.2.2).
          return `property 0x${id.toString(16)} not allowed in PUBLISH`;
      }
    }
    if (off !== pend) return 'bad properties';
    if (up !== null) (props ??= {}).userProperties = up;
  }
  // Copy the payload out of the read buffer so a retained/queued message does not pin a 64 KB chunk.
  const payload = Buffer.allocUnsafe(end - off);
  frame.copy(payload, 0, off, end);
  return { topic, payload, qos: qos as QoS, retain: (h & 1) === 1, dup, pid, props, expiry, alias };
}

/**
 * The packet id of an ack frame (PUBACK 4, PUBREC 5, PUBREL 6, PUBCOMP 7), or -1 when malformed.
 * Its v5 reason code is ackReasonCode(frame): no result object per ack.
 */
export function decodeAck(frame: Buffer, v5: boolean): number {
  const type = frame[0]! >> 4;
  const flags = frame[0]! & 0x0f;
  // [MQTT-2.1.3-1] PUBREL has flags 0b0010, the others 0
  if (flags !== (type === 6 ? 2 : 0)) return -1;
  if (frame.length < 4 || frame[1]! < 2) return -1;
  // v3.1.1 acks have exactly two bytes of packet id [MQTT-3.4.1]
  if (!v5 && frame[1] !== 2) return -1;
  // Packet identifiers are non-zero (MQTT 3.1.1 §2.3.1, MQTT 5 §2.2.1): an ack for 0 acknowledges nothing.
  const pid = (frame[2]! << 8) | frame[3]!;
  return pid === 0 ? -1 : pid;
}

/** Reason code of a well-formed ack frame (0 when omitted, v5 [MQTT-3.4.2-1]). */
export function ackReasonCode(frame: Buffer): number {
  return frame.length > 4 ? frame[4]! : 0;
}

/** Protocol level byte of a CONNECT frame, or -1 when it cannot be read yet. */
export function connectLevel(buf: Buffer): number {
  let off = 1;
  while (off < 5 && off < buf.length && buf[off]! & 0x80) off++;
  off++;
  if (off + 2 > buf.length) return -1;
  const nameLen = buf.readUInt16BE(off);
  const at = off + 2 + nameLen;
  return at < buf.length ? buf[at]! : -1;
}

