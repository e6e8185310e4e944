// Packet-level validation of what a client sends, before mqtt-packet parses it: pure functions over a
// whole frame (FrameSplitter output) that return 0 when the packet may be processed, else the MQTT 5
// reason code the connection is closed with (0x81 Malformed Packet, 0x82 Protocol Error; MQTT 5
// §4.13; 0x84 for a CONNECT whose protocol name does not match its level). mqtt-packet is lenient where the spec is not: it turns a repeated property into an array,
// replaces ill-formed UTF-8 with U+FFFD and ignores bytes after the last field. Never throws, so a
// fuzzer can call these on any input.
import { isUtf8 } from 'node:buffer';
import type { UserProperties } from '../core/types.js';
import { readUserProperties } from '../core/user-properties.js';

export const OK = 0;
export const MALFORMED = 0x81;
export const PROTOCOL_ERROR = 0x82;
export const UNSUPPORTED_PROTOCOL_VERSION = 0x84;

const MQTT = Buffer.from('MQTT');
const MQISDP = Buffer.from('MQIsdp');

/** Where a property list sits: the packet type from a client, or the will properties of CONNECT (16). */
export const PropsOf = {
  Connect: 1,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Unsubscribe: 10,
  Disconnect: 14,
  Auth: 15,
  Will: 16,
} as const;
export type PropsOf = (typeof PropsOf)[keyof typeof PropsOf];

const enum T {
  Byte,
  U16,
  U32,
  Varint,
  Str,
  Bin,
  Pair,
}

const bit = (k: number): number => 1 << k;
const ACKS = bit(PropsOf.Puback) | bit(PropsOf.Pubrec) | bit(PropsOf.Pubrel) | bit(PropsOf.Pubcomp);
const ALL_FROM_CLIENT =
  bit(PropsOf.Connect) | bit(PropsOf.Publish) | ACKS | bit(PropsOf.Subscribe) | bit(PropsOf.Unsubscribe) | bit(PropsOf.Disconnect) | bit(PropsOf.Auth) | bit(PropsOf.Will);

/**
 * MQTT 5 §2.2.2.2 Table 2-4, restricted to what a client may send. A property in a packet it does not
 * belong to is a Malformed Packet (§2.2.2.2); the server-only ones (Assigned Client Identifier,
 * Server Keep Alive, Maximum QoS, …) are absent and so malformed from a client.
 */
const PROPS: ReadonlyMap<number, { type: T; in: number }> = new Map([
  [0x01, { type: T.Byte, in: bit(PropsOf.Publish) | bit(PropsOf.Will) }], // Payload Format Indicator
  [0x02, { type: T.U32, in: bit(PropsOf.Publish) | bit(PropsOf.Will) }], // Message Expiry Interval
  [0x03, { type: T.Str, in: bit(PropsOf.Publish) | bit(PropsOf.Will) }], // Content Type
  [0x08, { type: T.Str, in: bit(PropsOf.Publish) | bit(PropsOf.Will) }], // Response Topic
  [0x09, { type: T.Bin, in: bit(PropsOf.Publish) | bit(PropsOf.Will) }], // Correlation Data
  [0x0b, { type: T.Varint, in: bit(PropsOf.Subscribe) }], // Subscription Identifier (never from a client in PUBLISH [MQTT-3.3.4-6])
  [0x11, { type: T.U32, in: bit(PropsOf.Connect) | bit(PropsOf.Disconnect) }], // Session Expiry Interval
  [0x15, { type: T.Str, in: bit(PropsOf.Connect) | bit(PropsOf.Auth) }], // Authentication Method
  [0x16, { type: T.Bin, in: bit(PropsOf.Connect) | bit(PropsOf.Auth) }], // Authentication Data
  [0x17, { type: T.Byte, in: bit(PropsOf.Connect) }], // Request Problem Information
  [0x18, { type: T.U32, in: bit(PropsOf.Will) }], // Will Delay Interval
  [0x19, { type: T.Byte, in: bit(PropsOf.Connect) }], // Request Response Information
  [0x1c, { type: T.Str, in: bit(PropsOf.Disconnect) }], // Server Reference
  [0x1f, { type: T.Str, in: ACKS | bit(PropsOf.Disconnect) | bit(PropsOf.Auth) }], // Reason String
  [0x21, { type: T.U16, in: bit(PropsOf.Connect) }], // Receive Maximum
  [0x22, { type: T.U16, in: bit(PropsOf.Connect) }], // Topic Alias Maximum
  [0x23, { type: T.U16, in: bit(PropsOf.Publish) }], // Topic Alias
  [0x26, { type: T.Pair, in: ALL_FROM_CLIENT }], // User Property
  [0x27, { type: T.U32, in: bit(PropsOf.Connect) }], // Maximum Packet Size
]);

/** Where the last read ended (a module slot, as in hot-codec: no tuple per field). */
let cursor = 0;

/**
 * A UTF-8 Encoded String at off: well-formed UTF-8 without surrogates [MQTT-1.5.4-1] (MQTT 3.1.1
 * [MQTT-1.5.3-1]) and without U+0000 [MQTT-1.5.4-2] / [MQTT-1.5.3-2]. Returns false when absent or
 * ill-formed; sets cursor to its end. (U+0001..U+001F, U+007F..U+009F and non-characters are only a
 * SHOULD NOT [MQTT-1.5.4-3 note]: accepted.)
 */
export function readUtf8(b: Buffer, off: number, end: number): boolean {
  if (off + 2 > end) return false;
  const len = (b[off]! << 8) | b[off + 1]!;
  const s = off + 2;
  if (s + len > end) return false;
  const str = b.subarray(s, s + len);
  if (!isUtf8(str) || str.indexOf(0) !== -1) return false;
  cursor = s + len;
  return true;
}

function readBinary(b: Buffer, off: number, end: number): boolean {
  if (off + 2 > end) return false;
  const e = off + 2 + ((b[off]! << 8) | b[off + 1]!);
  if (e > end) return false;
  cursor = e;
  return true;
}

/** A Variable Byte Integer at off (at most 4 bytes, MQTT 5 §1.5.5), or -1; sets cursor. */
export function readVarint(b: Buffer, off: number, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (off >= end) return -1;
    const c = b[off++]!;
    v += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) {
      cursor = off;
      return v;
    }
    mul *= 128;
  }
  return -1;
}

/**
 * A v5 property list (its Variable Byte Integer length first) at off, for `where`. Returns 0 and sets
 * cursor to the end of the list, or a reason code. Rules:
 * - a property that does not belong to the packet, a truncated value or ill-formed UTF-8: Malformed
 *   (MQTT 5 §2.2.2.2, [MQTT-1.5.4-1]);
 * - any property but User Property twice: Protocol Error (MQTT 5 §2.2.2.2 and each property's
 *   "It is a Protocol Error to include X more than once");
 * - the value ranges the spec makes Protocol Errors: Receive Maximum 0, Maximum Packet Size 0
 *   (§3.1.2.11.3/.5), Subscription Identifier 0 (§3.8.2.1.2), Request Problem/Response Information
 *   other than 0/1 (§3.1.2.11.6/.7), Topic Alias 0 ([MQTT-3.3.2-8], §3.3.2.3.4), Response Topic with
 *   wildcards ([MQTT-3.3.2-14]).
 * - Payload Format Indicator other than 0/1: Protocol Error. The spec defines only 0 and 1 (§3.3.2.3.2)
 *   and says the server forwards it unaltered [MQTT-3.3.2-4]; Outpost keeps it as a flag, so it refuses
 *   the values it could not forward unaltered (the choice mosquitto makes too).
 */
export function checkProperties(b: Buffer, off: number, end: number, where: number): number {
  const len = readVarint(b, off, end);
  if (len < 0) return MALFORMED;
  let p = cursor;
  const stop = p + len;
  if (stop > end) return MALFORMED;
  // Seen property ids (all below 64): two 32-bit masks, no allocation.
  let seenLo = 0;
  let seenHi = 0;
  while (p < stop) {
    const id = b[p++]!;
    const def = PROPS.get(id);
    if (def === undefined || (def.in & bit(where)) === 0) {
      // A client's Subscription Identifier in PUBLISH is a Protocol Error [MQTT-3.3.4-6]; other misplaced ids are malformed.
      return id === 0x0b && where === PropsOf.Publish ? PROTOCOL_ERROR : MALFORMED;
    }
    if (id !== 0x26) {
      const m = 1 << (id & 31);
      if (id < 32) {
        if (seenLo & m) return PROTOCOL_ERROR;
        seenLo |= m;
      } else {
        if (seenHi & m) return PROTOCOL_ERROR;
        seenHi |= m;
      }
    }
    switch (def.type) {
      case T.Byte: {
        if (p + 1 > stop) return MALFORMED;
        if (b[p]! > 1) return PROTOCOL_ERROR; // every Byte property a client sends is 0 or 1
        p += 1;
        break;
      }
      case T.U16: {
        if (p + 2 > stop) return MALFORMED;
        const v = (b[p]! << 8) | b[p + 1]!;
        if (v === 0 && (id === 0x21 || id === 0x23)) return PROTOCOL_ERROR; // Receive Maximum 0, Topic Alias 0
        p += 2;
        break;
      }
      case T.U32: {
        if (p + 4 > stop) return MALFORMED;
        if (id === 0x27 && b.readUInt32BE(p) === 0) return PROTOCOL_ERROR; // Maximum Packet Size 0
        p += 4;
        break;
      }
      case T.Varint: {
        const v = readVarint(b, p, stop);
        if (v < 0) return MALFORMED;
        if (v === 0) return PROTOCOL_ERROR; // Subscription Identifier 0
        p = cursor;
        break;
      }
      case T.Str: {
        if (!readUtf8(b, p, stop)) return MALFORMED;
        if (id === 0x08 && hasWildcard(b, p + 2, cursor)) return PROTOCOL_ERROR;
        p = cursor;
        break;
      }
      case T.Bin:
        if (!readBinary(b, p, stop)) return MALFORMED;
        p = cursor;
        break;
      case T.Pair:
        if (!readUtf8(b, p, stop) || !readUtf8(b, cursor, stop)) return MALFORMED;
        p = cursor;
        break;
    }
  }
  cursor = stop;
  return OK;
}

function hasWildcard(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (b[i] === 0x23 || b[i] === 0x2b) return true;
  return false;
}

function isName(frame: Buffer, at: number, len: number, name: Buffer): boolean {
  return len === name.length && frame.compare(name, 0, len, at, at + len) === 0;
}

/** Offset of the variable header: after the fixed header's Remaining Length. */
function bodyStart(frame: Buffer): number {
  let off = 1;
  while (off < 5 && off < frame.length && frame[off]! & 0x80) off++;
  return off + 1;
}

/**
 * CONNECT (any level; the level byte decides the rules). MQTT 3.1.1 §3.1.4 / MQTT 5 §3.1.4: a CONNECT
 * that does not conform closes the connection (v5 after CONNACK 0x81/0x82, [MQTT-3.1.4-1] and §4.13).
 */
export function validateConnect(frame: Buffer): number {
  const end = frame.length;
  if ((frame[0]! & 0x0f) !== 0) return MALFORMED; // [MQTT-2.1.3-1] fixed header flags reserved
  let off = bodyStart(frame);
  if (!readUtf8(frame, off, end)) return MALFORMED; // protocol name
  const nameLen = cursor - off - 2;
  const nameAt = off + 2;
  off = cursor;
  if (off + 4 > end) return MALFORMED;
  const level = frame[off]!;
  // [MQTT-3.1.2-1] the server MAY close on an incorrect protocol name: Outpost closes on a name that is
  // neither MQTT nor MQIsdp (v5: CONNACK 0x84 Unsupported Protocol Version). It does not pair the name
  // with the level: MQTT.js sends "MQTT" with level 3 unless told otherwise, and the level decides the rules.
  if (!isName(frame, nameAt, nameLen, MQTT) && !isName(frame, nameAt, nameLen, MQISDP)) return UNSUPPORTED_PROTOCOL_VERSION;
  const flags = frame[off + 1]!;
  off += 4; // level, flags, keep alive
  const v5 = level === 5;
  // [MQTT-3.1.2-3] the reserved flag must be 0: malformed
  if (flags & 0x01) return MALFORMED;
  const will = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const hasUser = (flags & 0x80) !== 0;
  const hasPass = (flags & 0x40) !== 0;
  // [MQTT-3.1.2-14] will QoS 3 (v5: "It is a Malformed Packet if Will QoS is 3")
  if (willQos === 3) return MALFORMED;
  // [MQTT-3.1.2-11] / [MQTT-3.1.2-13] / [MQTT-3.1.2-15]: without a will, its QoS and Retain are 0
  if (!will && (willQos !== 0 || willRetain)) return MALFORMED;
  // [MQTT-3.1.2-22] (3.1.1; MQTT 3.1 the same): a password needs the user name flag. v5 allows it.
  if (!v5 && hasPass && !hasUser) return PROTOCOL_ERROR;
  if (v5) {
    const rc = checkProperties(frame, off, end, PropsOf.Connect);
    if (rc) return rc;
    off = cursor;
  }
  // [MQTT-3.1.3-1] payload fields in order, each present exactly when its flag says so
  if (!readUtf8(frame, off, end)) return MALFORMED; // client id [MQTT-3.1.3-4]
  off = cursor;
  if (will) {
    if (v5) {
      const rc = checkProperties(frame, off, end, PropsOf.Will);
      if (rc) return rc;
      off = cursor;
    }
    if (!readUtf8(frame, off, end)) return MALFORMED; // will topic [MQTT-3.1.3-10]
    if (!readBinary(frame, cursor, end)) return MALFORMED; // will payload
    off = cursor;
  }
  if (hasUser) {
    if (!readUtf8(frame, off, end)) return MALFORMED; // [MQTT-3.1.3-11]
    off = cursor;
  }
  if (hasPass) {
    if (!readBinary(frame, off, end)) return MALFORMED;
    off = cursor;
  }
  // Bytes left over: a user name or password present while its flag is clear [MQTT-3.1.2-18], [MQTT-3.1.2-20]
  if (off !== end) return MALFORMED;
  return OK;
}

/**
 * The will's User Properties of a v5 CONNECT that validateConnect accepted, in wire order (mqtt-packet's
 * object form loses the order of interleaved names [MQTT-3.3.2-18]); null when there is no will or none.
 */
export function willUserProperties(frame: Buffer): UserProperties | null {
  const end = frame.length;
  let off = bodyStart(frame);
  if (!readUtf8(frame, off, end)) return null;
  off = cursor;
  if (off + 4 > end || frame[off] !== 5 || (frame[off + 1]! & 0x04) === 0) return null;
  off += 4;
  const len = readVarint(frame, off, end);
  if (len < 0) return null;
  off = cursor + len;
  if (!readUtf8(frame, off, end)) return null; // client id
  const up = readUserProperties(frame, cursor, end);
  return up !== null && up.length > 0 ? up : null;
}

/**
 * The header SUBSCRIBE and UNSUBSCRIBE share: flags 0010, a non-zero packet id, v5 properties, then at least
 * one filter. Returns the offset of the first filter, or minus the reason code when the header is bad.
 */
function filtersStart(frame: Buffer, v5: boolean, allowed: PropsOf): number {
  if ((frame[0]! & 0x0f) !== 0x02) return -MALFORMED;
  const end = frame.length;
  let off = bodyStart(frame);
  if (off + 2 > end) return -MALFORMED;
  if (((frame[off]! << 8) | frame[off + 1]!) === 0) return -MALFORMED;
  off += 2;
  if (v5) {
    const rc = checkProperties(frame, off, end, allowed);
    if (rc) return -rc;
    off = cursor;
  }
  if (off === end) return -PROTOCOL_ERROR; // no topic filter
  return off;
}

/**
 * SUBSCRIBE (MQTT 3.1.1 §3.8, MQTT 5 §3.8): flags 0010 [MQTT-3.8.1-1], non-zero packet id [MQTT-2.3.1-1]
 * (v5 [MQTT-2.2.1-3]), at least one filter [MQTT-3.8.3-3] (v5 [MQTT-3.8.3-2]), well-formed UTF-8 filters
 * [MQTT-1.5.3-1], reserved option bits 0 ([MQTT-3-8.3-4] in 3.1.1, [MQTT-3.8.3-5] in 5).
 */
export function validateSubscribe(frame: Buffer, v5: boolean): number {
  const end = frame.length;
  let off = filtersStart(frame, v5, PropsOf.Subscribe);
  if (off < 0) return -off;
  while (off < end) {
    if (!readUtf8(frame, off, end)) return MALFORMED;
    off = cursor;
    if (off >= end) return MALFORMED; // options byte missing
    const o = frame[off++]!;
    if (v5) {
      if (o & 0xc0) return MALFORMED;
      if ((o & 3) === 3) return PROTOCOL_ERROR; // §3.8.3.1: Maximum QoS 3 is a Protocol Error
      if (((o >> 4) & 3) === 3) return PROTOCOL_ERROR; // §3.8.3.1: Retain Handling 3 is a Protocol Error
    } else if (o & 0xfc || (o & 3) === 3) return MALFORMED; // [MQTT-3-8.3-4]
  }
  return OK;
}

/** UNSUBSCRIBE: flags 0010 [MQTT-3.10.1-1], non-zero packet id, at least one filter [MQTT-3.10.3-2], UTF-8 filters. */
export function validateUnsubscribe(frame: Buffer, v5: boolean): number {
  const end = frame.length;
  let off = filtersStart(frame, v5, PropsOf.Unsubscribe);
  if (off < 0) return -off;
  while (off < end) {
    if (!readUtf8(frame, off, end)) return MALFORMED;
    off = cursor;
  }
  return OK;
}

/** DISCONNECT: flags 0 [MQTT-3.14.1-1]; v3 has no body; v5 reason code then properties. */
export function validateDisconnect(frame: Buffer, v5: boolean): number {
  if ((frame[0]! & 0x0f) !== 0) return MALFORMED;
  const off = bodyStart(frame);
  const end = frame.length;
  if (!v5) return off === end ? OK : MALFORMED;
  if (end - off <= 1) return OK; // reason code 0 / no properties may be omitted (§3.14.2.1)
  const rc = checkProperties(frame, off + 1, end, PropsOf.Disconnect);
  if (rc) return rc;
  return cursor === end ? OK : MALFORMED;
}

/** PINGREQ: flags 0 and no body (§3.12). */
export function validatePingreq(frame: Buffer): number {
  return (frame[0]! & 0x0f) === 0 && frame.length === 2 ? OK : MALFORMED;
}

/**
 * The properties of a v5 PUBACK/PUBREC/PUBREL/PUBCOMP, when it carries any (remaining length > 3):
 * only Reason String and User Property, each string well-formed. The packet id and flags are
 * decodeAck's.
 */
export function validateAckProperties(frame: Buffer): number {
  const type = frame[0]! >> 4;
  const end = frame.length;
  if (end <= 5) return OK;
  const rc = checkProperties(frame, 5, end, type);
  if (rc) return rc;
  return cursor === end ? OK : MALFORMED;
}

/**
 * Any packet a connected client sends that is not PUBLISH or an ack (those are checked by the hot
 * codec), and the CONNECT. 0 when it may go on to the parser.
 */
export function validateFrame(frame: Buffer, v5: boolean): number {
  switch (frame[0]! >> 4) {
    case 1:
      return validateConnect(frame);
    case 8:
      return validateSubscribe(frame, v5);
    case 10:
      return validateUnsubscribe(frame, v5);
    case 12:
      return validatePingreq(frame);
    case 14:
      return validateDisconnect(frame, v5);
    case 0:
      return MALFORMED; // reserved packet type (MQTT 5 §2.1.2)
    case 15:
      return v5 ? OK : MALFORMED; // AUTH is v5 only (and refused as unsupported later)
    default:
      return OK; // server-to-client types are Protocol Errors in onPacket
  }
}
