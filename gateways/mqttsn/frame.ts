// MQTT-SN 1.2 codec: bytes <-> frames. Pure functions, no I/O, never throws on malformed input
// (every failure is a `{ kind: 'error', code }` so the transport can log it and answer per spec).
// Layouts follow MQTT-SN 1.2 §5.2-§5.4 and the table in gateways/mqttsn/SPEC.md §1.3.
import { isUtf8 } from 'node:buffer';

export const MsgType = {
  ADVERTISE: 0x00,
  SEARCHGW: 0x01,
  GWINFO: 0x02,
  CONNECT: 0x04,
  CONNACK: 0x05,
  WILLTOPICREQ: 0x06,
  WILLTOPIC: 0x07,
  WILLMSGREQ: 0x08,
  WILLMSG: 0x09,
  REGISTER: 0x0a,
  REGACK: 0x0b,
  PUBLISH: 0x0c,
  PUBACK: 0x0d,
  PUBCOMP: 0x0e,
  PUBREC: 0x0f,
  PUBREL: 0x10,
  SUBSCRIBE: 0x12,
  SUBACK: 0x13,
  UNSUBSCRIBE: 0x14,
  UNSUBACK: 0x15,
  PINGREQ: 0x16,
  PINGRESP: 0x17,
  DISCONNECT: 0x18,
  WILLTOPICUPD: 0x1a,
  WILLTOPICRESP: 0x1b,
  WILLMSGUPD: 0x1c,
  WILLMSGRESP: 0x1d,
  ENCAPSULATED: 0xfe,
} as const;

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(MsgType));

/** Return codes, MQTT-SN 1.2 §5.3.10 plus EMQX's 0x80-0x84 extensions (spec §1.3). */
export const ReturnCode = {
  ACCEPTED: 0x00,
  CONGESTION: 0x01,
  INVALID_TOPIC_ID: 0x02,
  NOT_SUPPORTED: 0x03,
  NOT_AUTHORIZED: 0x80,
  FAILED_TO_OPEN_SESSION: 0x81,
  KEEPALIVE_TIMEOUT: 0x82,
  EXCEEDS_LIMITATION: 0x83,
  REACHED_MAX_RETRY: 0x84,
} as const;
export type ReturnCodeValue = (typeof ReturnCode)[keyof typeof ReturnCode];

/** QoS as on the wire: 0b11 is QoS -1 (EMQX "QoS 3"), MQTT-SN 1.2 §5.3.4. */
export type SnQoS = -1 | 0 | 1 | 2;
/** 0 normal id / topic name, 1 predefined id, 2 short name, 3 reserved (§5.3.4). */
export type TopicIdType = 0 | 1 | 2 | 3;

/** Topic as carried by SUBSCRIBE / UNSUBSCRIBE (§5.4.15). */
export type SnTopic =
  | { idType: 0; name: string }
  | { idType: 1; id: number }
  | { idType: 2; name: string }
  | { idType: 3; raw: Buffer };

export type Frame =
  | { type: 'advertise'; gwId: number; duration: number }
  | { type: 'searchgw'; radius: number }
  | { type: 'gwinfo'; gwId: number; gwAdd: Buffer | null }
  | { type: 'connect'; will: boolean; cleanSession: boolean; protocolId: number; duration: number; clientId: string }
  | { type: 'connack'; rc: number }
  | { type: 'willtopicreq' }
  | { type: 'willtopic'; qos: SnQoS; retain: boolean; topic: string | null }
  | { type: 'willmsgreq' }
  | { type: 'willmsg'; payload: Buffer }
  | { type: 'register'; topicId: number; msgId: number; topicName: string }
  | { type: 'regack'; topicId: number; msgId: number; rc: number }
  | {
      type: 'publish';
      dup: boolean;
      qos: SnQoS;
      retain: boolean;
      topicIdType: TopicIdType;
      /** For short names, the two characters as a big-endian uint16 (see shortName()). */
      topicId: number;
      msgId: number;
      payload: Buffer;
    }
  | { type: 'puback'; topicId: number; msgId: number; rc: number }
  | { type: 'pubcomp'; msgId: number }
  | { type: 'pubrec'; msgId: number }
  | { type: 'pubrel'; msgId: number }
  | { type: 'subscribe'; dup: boolean; qos: SnQoS; msgId: number; topic: SnTopic }
  | { type: 'suback'; qos: SnQoS; topicId: number; msgId: number; rc: number }
  | { type: 'unsubscribe'; msgId: number; topic: SnTopic }
  | { type: 'unsuback'; msgId: number }
  | { type: 'pingreq'; clientId: string | null }
  | { type: 'pingresp' }
  | { type: 'disconnect'; duration: number | null }
  | { type: 'willtopicupd'; qos: SnQoS; retain: boolean; topic: string | null }
  | { type: 'willtopicresp'; rc: number }
  | { type: 'willmsgupd'; payload: Buffer }
  | { type: 'willmsgresp'; rc: number }
  /** Forwarder encapsulation (§5.5): `inner` is the raw encapsulated MQTT-SN message. */
  | { type: 'encapsulated'; radius: number; nodeId: Buffer; inner: Buffer };

export type FrameType = Frame['type'];

export type DecodeErrorCode =
  /** Fewer bytes than any header needs. */
  | 'MQTTSN_TRUNCATED'
  /** Length field differs from the datagram size (§5.2.1: one message per datagram). */
  | 'MQTTSN_LENGTH_MISMATCH'
  /** Length 0, or a 3-byte (long) length below 256 or above the buffer limit. */
  | 'MQTTSN_BAD_LENGTH'
  /** Message type 0x03, 0x11, 0x19, 0x1E-0xFD or 0xFF (§5.2.2). */
  | 'MQTTSN_RESERVED_TYPE'
  /** Variable part too short or too long for the message type. */
  | 'MQTTSN_BAD_BODY'
  /** CONNECT ProtocolId other than 0x01 (§5.4.4). */
  | 'MQTTSN_BAD_PROTOCOL_ID'
  /** A topic name, client id or will topic that is not valid UTF-8. */
  | 'MQTTSN_BAD_UTF8'
  /** Forwarder encapsulation without a complete inner message (§5.5). */
  | 'MQTTSN_BAD_ENCAPSULATION';

export type DecodeResult =
  | { kind: 'frame'; frame: Frame; rest: Buffer }
  | { kind: 'more' }
  | { kind: 'error'; code: DecodeErrorCode; detail: string };

const EMPTY = Buffer.alloc(0);

function err(code: DecodeErrorCode, detail: string): DecodeResult {
  return { kind: 'error', code, detail };
}

/** Header of the message at the start of `buf`: total length and header size, or why it is bad. */
export function readHeader(
  buf: Buffer,
): { kind: 'ok'; total: number; hdr: number } | { kind: 'more' } | { kind: 'error'; code: DecodeErrorCode; detail: string } {
  if (buf.length < 1) return { kind: 'more' };
  const first = buf[0]!;
  if (first === 0x01) {
    // Long form: 0x01 then a 2-byte length that counts the whole message (§5.2.1).
    if (buf.length < 3) return { kind: 'more' };
    const total = buf.readUInt16BE(1);
    if (total < 256) return { kind: 'error', code: 'MQTTSN_BAD_LENGTH', detail: `long length ${total} < 256` };
    return { kind: 'ok', total, hdr: 3 };
  }
  if (first < 2) return { kind: 'error', code: 'MQTTSN_BAD_LENGTH', detail: `length ${first}` };
  return { kind: 'ok', total: first, hdr: 1 };
}

/** Decode one datagram: exactly one message, whose length must equal the datagram size. */
export function decode(buf: Buffer): DecodeResult {
  const h = readHeader(buf);
  if (h.kind === 'more') return err('MQTTSN_TRUNCATED', `${buf.length} bytes`);
  if (h.kind === 'error') return h;
  // An encapsulation header's length covers only itself; the inner message follows (§5.5).
  if (h.hdr === 1 && buf.length >= 2 && buf[1] === MsgType.ENCAPSULATED) return decodeEncapsulated(buf, h.hdr, h.total, true);
  if (h.total !== buf.length) return err('MQTTSN_LENGTH_MISMATCH', `length field ${h.total}, datagram ${buf.length}`);
  const type = buf[h.hdr]!;
  return decodeBody(type, buf.subarray(h.hdr + 1, h.total), EMPTY);
}

/**
 * Decode the first message of a byte stream (a raw serial line): `more` until the whole message
 * is there; `rest` is what follows it. An encapsulated message spans its header and the inner
 * message, whose own length tells where it ends.
 */
export function decodeStream(buf: Buffer): DecodeResult {
  const h = readHeader(buf);
  if (h.kind !== 'ok') return h;
  if (buf.length < h.hdr + 1) return { kind: 'more' };
  const type = buf[h.hdr]!;
  // Reject a reserved type before waiting for the rest, so noise that looks like a long header
  // does not swallow the messages behind it.
  if (!KNOWN_TYPES.has(type)) return err('MQTTSN_RESERVED_TYPE', `message type 0x${type.toString(16).padStart(2, '0')}`);
  if (type === MsgType.ENCAPSULATED) {
    if (buf.length < h.total) return { kind: 'more' };
    const ih = readHeader(buf.subarray(h.total));
    if (ih.kind !== 'ok') return ih.kind === 'more' ? ih : err('MQTTSN_BAD_ENCAPSULATION', ih.detail);
    const end = h.total + ih.total;
    if (buf.length < end) return { kind: 'more' };
    const r = decodeEncapsulated(buf.subarray(0, end), h.hdr, h.total, false);
    return r.kind === 'frame' ? { kind: 'frame', frame: r.frame, rest: buf.subarray(end) } : r;
  }
  if (buf.length < h.total) return { kind: 'more' };
  const r = decodeBody(type, buf.subarray(h.hdr + 1, h.total), EMPTY);
  return r.kind === 'frame' ? { kind: 'frame', frame: r.frame, rest: buf.subarray(h.total) } : r;
}

function decodeEncapsulated(buf: Buffer, hdr: number, encLen: number, checkInner: boolean): DecodeResult {
  // Length[1] 0xFE Ctrl[1] WirelessNodeId[n], then the inner message (§5.5); Length covers the header only.
  if (hdr !== 1) return err('MQTTSN_BAD_ENCAPSULATION', 'encapsulation header in long form');
  if (encLen < 3) return err('MQTTSN_BAD_ENCAPSULATION', 'no Ctrl byte');
  if (encLen > buf.length) return err('MQTTSN_BAD_ENCAPSULATION', 'header longer than datagram');
  const inner = buf.subarray(encLen);
  if (checkInner) {
    const ih = readHeader(inner);
    if (ih.kind !== 'ok') return err('MQTTSN_BAD_ENCAPSULATION', ih.kind === 'more' ? 'no inner message' : ih.detail);
    if (ih.total !== inner.length) return err('MQTTSN_BAD_ENCAPSULATION', `inner length ${ih.total}, rest ${inner.length}`);
  }
  if (inner.length < 2) return err('MQTTSN_BAD_ENCAPSULATION', 'no inner message');
  const frame: Frame = {
    type: 'encapsulated',
    radius: buf[2]! & 0x03,
    nodeId: Buffer.from(buf.subarray(3, encLen)),
    inner: Buffer.from(inner),
  };
  return { kind: 'frame', frame, rest: EMPTY };
}

function qosOf(flags: number): SnQoS {
  const q = (flags >> 5) & 0x03;
  return q === 3 ? -1 : (q as 0 | 1 | 2);
}

function utf8(b: Buffer): string | null {
  return isUtf8(b) ? b.toString('utf8') : null;
}

function exact(body: Buffer, n: number, what: string): DecodeResult | null {
  return body.length === n ? null : err('MQTTSN_BAD_BODY', `${what}: ${body.length} bytes, expected ${n}`);
}

function ok(frame: Frame, rest: Buffer): DecodeResult {
  return { kind: 'frame', frame, rest };
}

function decodeTopic(idType: TopicIdType, b: Buffer): SnTopic | DecodeResult {
  switch (idType) {
    case 0: {
      const name = utf8(b);
      return name === null ? err('MQTTSN_BAD_UTF8', 'topic name') : { idType: 0, name };
    }
    case 1:
      return b.length === 2 ? { idType: 1, id: b.readUInt16BE(0) } : err('MQTTSN_BAD_BODY', `predefined id of ${b.length} bytes`);
    case 2: {
      if (b.length !== 2) return err('MQTTSN_BAD_BODY', `short topic name of ${b.length} bytes`);
      const name = utf8(b);
      return name === null ? err('MQTTSN_BAD_UTF8', 'short topic name') : { idType: 2, name };
    }
    case 3:
      return { idType: 3, raw: Buffer.from(b) };
  }
}

function decodeBody(type: number, b: Buffer, rest: Buffer): DecodeResult {
  switch (type) {
    case MsgType.ADVERTISE:
      return exact(b, 3, 'ADVERTISE') ?? ok({ type: 'advertise', gwId: b[0]!, duration: b.readUInt16BE(1) }, rest);
    case MsgType.SEARCHGW:
      return exact(b, 1, 'SEARCHGW') ?? ok({ type: 'searchgw', radius: b[0]! }, rest);
    case MsgType.GWINFO:
      if (b.length < 1) return err('MQTTSN_BAD_BODY', 'GWINFO without GwId');
      return ok({ type: 'gwinfo', gwId: b[0]!, gwAdd: b.length > 1 ? Buffer.from(b.subarray(1)) : null }, rest);
    case MsgType.CONNECT: {
      if (b.length < 4) return err('MQTTSN_BAD_BODY', `CONNECT: ${b.length} bytes`);
      if (b[1] !== 0x01) return err('MQTTSN_BAD_PROTOCOL_ID', `protocol id ${b[1]}`);
      const clientId = utf8(b.subarray(4));
      if (clientId === null) return err('MQTTSN_BAD_UTF8', 'client id');
      const f = b[0]!;
      return ok(
        { type: 'connect', will: (f & 0x08) !== 0, cleanSession: (f & 0x04) !== 0, protocolId: 1, duration: b.readUInt16BE(2), clientId },
        rest,
      );
    }
    case MsgType.CONNACK:
      return exact(b, 1, 'CONNACK') ?? ok({ type: 'connack', rc: b[0]! }, rest);
    case MsgType.WILLTOPICREQ:
      return exact(b, 0, 'WILLTOPICREQ') ?? ok({ type: 'willtopicreq' }, rest);
    case MsgType.WILLMSGREQ:
      return exact(b, 0, 'WILLMSGREQ') ?? ok({ type: 'willmsgreq' }, rest);
    case MsgType.PINGRESP:
      return exact(b, 0, 'PINGRESP') ?? ok({ type: 'pingresp' }, rest);
    case MsgType.WILLTOPIC:
    case MsgType.WILLTOPICUPD: {
      const t = type === MsgType.WILLTOPIC ? 'willtopic' : 'willtopicupd';
      // A message without flags and topic deletes the will (§5.4.7, §5.4.22).
      if (b.length === 0) return ok({ type: t, qos: 0, retain: false, topic: null }, rest);
      const topic = utf8(b.subarray(1));
      if (topic === null) return err('MQTTSN_BAD_UTF8', 'will topic');
      const f = b[0]!;
      return ok({ type: t, qos: qosOf(f), retain: (f & 0x10) !== 0, topic }, rest);
    }
    case MsgType.WILLMSG:
      return ok({ type: 'willmsg', payload: Buffer.from(b) }, rest);
    case MsgType.WILLMSGUPD:
      return ok({ type: 'willmsgupd', payload: Buffer.from(b) }, rest);
    case MsgType.REGISTER: {
      if (b.length < 4) return err('MQTTSN_BAD_BODY', `REGISTER: ${b.length} bytes`);
      const topicName = utf8(b.subarray(4));
      if (topicName === null) return err('MQTTSN_BAD_UTF8', 'topic name');
      return ok({ type: 'register', topicId: b.readUInt16BE(0), msgId: b.readUInt16BE(2), topicName }, rest);
    }
    case MsgType.REGACK:
    case MsgType.PUBACK: {
      const e = exact(b, 5, type === MsgType.REGACK ? 'REGACK' : 'PUBACK');
      if (e) return e;
      const f = { topicId: b.readUInt16BE(0), msgId: b.readUInt16BE(2), rc: b[4]! };
      return ok(type === MsgType.REGACK ? { type: 'regack', ...f } : { type: 'puback', ...f }, rest);
    }
    case MsgType.PUBLISH: {
      if (b.length < 5) return err('MQTTSN_BAD_BODY', `PUBLISH: ${b.length} bytes`);
      const f = b[0]!;
      return ok(
        {
          type: 'publish',
          dup: (f & 0x80) !== 0,
          qos: qosOf(f),
          retain: (f & 0x10) !== 0,
          topicIdType: (f & 0x03) as TopicIdType,
          topicId: b.readUInt16BE(1),
          msgId: b.readUInt16BE(3),
          payload: Buffer.from(b.subarray(5)),
        },
        rest,
      );
    }
    case MsgType.PUBCOMP:
    case MsgType.PUBREC:
    case MsgType.PUBREL:
    case MsgType.UNSUBACK: {
      const t = type === MsgType.PUBCOMP ? 'pubcomp' : type === MsgType.PUBREC ? 'pubrec' : type === MsgType.PUBREL ? 'pubrel' : 'unsuback';
      return exact(b, 2, t.toUpperCase()) ?? ok({ type: t, msgId: b.readUInt16BE(0) }, rest);
    }
    case MsgType.SUBSCRIBE:
    case MsgType.UNSUBSCRIBE: {
      const what = type === MsgType.SUBSCRIBE ? 'SUBSCRIBE' : 'UNSUBSCRIBE';
      if (b.length < 3) return err('MQTTSN_BAD_BODY', `${what}: ${b.length} bytes`);
      const f = b[0]!;
      const topic = decodeTopic((f & 0x03) as TopicIdType, b.subarray(3));
      if ('kind' in topic) return topic;
      const msgId = b.readUInt16BE(1);
      return type === MsgType.SUBSCRIBE
        ? ok({ type: 'subscribe', dup: (f & 0x80) !== 0, qos: qosOf(f), msgId, topic }, rest)
        : ok({ type: 'unsubscribe', msgId, topic }, rest);
    }
    case MsgType.SUBACK: {
      const e = exact(b, 6, 'SUBACK');
      if (e) return e;
      return ok({ type: 'suback', qos: qosOf(b[0]!), topicId: b.readUInt16BE(1), msgId: b.readUInt16BE(3), rc: b[5]! }, rest);
    }
    case MsgType.PINGREQ: {
      if (b.length === 0) return ok({ type: 'pingreq', clientId: null }, rest);
      const clientId = utf8(b);
      return clientId === null ? err('MQTTSN_BAD_UTF8', 'client id') : ok({ type: 'pingreq', clientId }, rest);
    }
    case MsgType.DISCONNECT:
      if (b.length === 0) return ok({ type: 'disconnect', duration: null }, rest);
      return exact(b, 2, 'DISCONNECT') ?? ok({ type: 'disconnect', duration: b.readUInt16BE(0) }, rest);
    case MsgType.WILLTOPICRESP:
    case MsgType.WILLMSGRESP: {
      const t = type === MsgType.WILLTOPICRESP ? 'willtopicresp' : 'willmsgresp';
      return exact(b, 1, t.toUpperCase()) ?? ok({ type: t, rc: b[0]! }, rest);
    }
    default:
      return err('MQTTSN_RESERVED_TYPE', `message type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

// ---- encoding ----

function flags(o: { dup?: boolean; qos?: SnQoS; retain?: boolean; will?: boolean; cleanSession?: boolean; topicIdType?: TopicIdType }): number {
  const q = o.qos === undefined ? 0 : o.qos === -1 ? 3 : o.qos;
  return (o.dup ? 0x80 : 0) | (q << 5) | (o.retain ? 0x10 : 0) | (o.will ? 0x08 : 0) | (o.cleanSession ? 0x04 : 0) | ((o.topicIdType ?? 0) & 0x03);
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}

function encodeTopic(t: SnTopic): Buffer {
  switch (t.idType) {
    case 0:
    case 2:
      return Buffer.from(t.name, 'utf8');
    case 1:
      return u16(t.id);
    case 3:
      return t.raw;
  }
}

function body(f: Frame): { type: number; parts: Buffer[] } {
  switch (f.type) {
    case 'advertise':
      return { type: MsgType.ADVERTISE, parts: [Buffer.from([f.gwId & 0xff]), u16(f.duration)] };
    case 'searchgw':
      return { type: MsgType.SEARCHGW, parts: [Buffer.from([f.radius & 0xff])] };
    case 'gwinfo':
      return { type: MsgType.GWINFO, parts: [Buffer.from([f.gwId & 0xff]), f.gwAdd ?? EMPTY] };
    case 'connect':
      return {
        type: MsgType.CONNECT,
        parts: [Buffer.from([flags(f), f.protocolId & 0xff]), u16(f.duration), Buffer.from(f.clientId, 'utf8')],
      };
    case 'connack':
      return { type: MsgType.CONNACK, parts: [Buffer.from([f.rc])] };
    case 'willtopicreq':
      return { type: MsgType.WILLTOPICREQ, parts: [] };
    case 'willmsgreq':
      return { type: MsgType.WILLMSGREQ, parts: [] };
    case 'willtopic':
    case 'willtopicupd': {
      const type = f.type === 'willtopic' ? MsgType.WILLTOPIC : MsgType.WILLTOPICUPD;
      if (f.topic === null) return { type, parts: [] };
      return { type, parts: [Buffer.from([flags(f)]), Buffer.from(f.topic, 'utf8')] };
    }
    case 'willmsg':
      return { type: MsgType.WILLMSG, parts: [f.payload] };
    case 'willmsgupd':
      return { type: MsgType.WILLMSGUPD, parts: [f.payload] };
    case 'register':
      return { type: MsgType.REGISTER, parts: [u16(f.topicId), u16(f.msgId), Buffer.from(f.topicName, 'utf8')] };
    case 'regack':
      return { type: MsgType.REGACK, parts: [u16(f.topicId), u16(f.msgId), Buffer.from([f.rc])] };
    case 'puback':
      return { type: MsgType.PUBACK, parts: [u16(f.topicId), u16(f.msgId), Buffer.from([f.rc])] };
    case 'publish':
      return { type: MsgType.PUBLISH, parts: [Buffer.from([flags(f)]), u16(f.topicId), u16(f.msgId), f.payload] };
    case 'pubcomp':
      return { type: MsgType.PUBCOMP, parts: [u16(f.msgId)] };
    case 'pubrec':
      return { type: MsgType.PUBREC, parts: [u16(f.msgId)] };
    case 'pubrel':
      return { type: MsgType.PUBREL, parts: [u16(f.msgId)] };
    case 'unsuback':
      return { type: MsgType.UNSUBACK, parts: [u16(f.msgId)] };
    case 'subscribe':
      return {
        type: MsgType.SUBSCRIBE,
        parts: [Buffer.from([flags({ dup: f.dup, qos: f.qos, topicIdType: f.topic.idType })]), u16(f.msgId), encodeTopic(f.topic)],
      };
    case 'unsubscribe':
      return { type: MsgType.UNSUBSCRIBE, parts: [Buffer.from([flags({ topicIdType: f.topic.idType })]), u16(f.msgId), encodeTopic(f.topic)] };
    case 'suback':
      return { type: MsgType.SUBACK, parts: [Buffer.from([flags({ qos: f.qos })]), u16(f.topicId), u16(f.msgId), Buffer.from([f.rc])] };
    case 'pingreq':
      return { type: MsgType.PINGREQ, parts: f.clientId === null ? [] : [Buffer.from(f.clientId, 'utf8')] };
    case 'pingresp':
      return { type: MsgType.PINGRESP, parts: [] };
    case 'disconnect':
      return { type: MsgType.DISCONNECT, parts: f.duration === null ? [] : [u16(f.duration)] };
    case 'willtopicresp':
      return { type: MsgType.WILLTOPICRESP, parts: [Buffer.from([f.rc])] };
    case 'willmsgresp':
      return { type: MsgType.WILLMSGRESP, parts: [Buffer.from([f.rc])] };
    case 'encapsulated':
      return { type: MsgType.ENCAPSULATED, parts: [Buffer.from([f.radius & 0x03]), f.nodeId] };
  }
}

/** Encode one frame. Short header when the whole message fits in 255 bytes, else the long form (§5.2.1). */
export function encode(f: Frame): Buffer {
  const { type, parts } = body(f);
  let n = 0;
  for (const p of parts) n += p.length;
  if (f.type === 'encapsulated') {
    // Length counts only the encapsulation header; the inner message follows verbatim (§5.5).
    return Buffer.concat([Buffer.from([3 + f.nodeId.length, type]), ...parts, f.inner]);
  }
  if (n + 2 <= 255) return Buffer.concat([Buffer.from([n + 2, type]), ...parts], n + 2);
  const hdr = Buffer.from([0x01, 0, 0, type]);
  hdr.writeUInt16BE(n + 4, 1);
  return Buffer.concat([hdr, ...parts], n + 4);
}

/** Largest message the long header can describe. */
export const MAX_MESSAGE_SIZE = 65535;

/** Short topic name <-> the uint16 that carries it in PUBLISH/SUBACK TopicId fields. */
export function shortName(topicId: number): string | null {
  return utf8(Buffer.from([(topicId >> 8) & 0xff, topicId & 0xff]));
}
export function shortId(name: string): number {
  const b = Buffer.from(name, 'utf8');
  return b.length === 2 ? b.readUInt16BE(0) : -1;
}

/** Short log form, e.g. `PUBLISH(q1,id=1025,mid=7,2B)`; never includes payload bytes. */
export function format(f: Frame): string {
  switch (f.type) {
    case 'connect':
      return `CONNECT(id=${f.clientId},ka=${f.duration},will=${f.will ? 1 : 0},clean=${f.cleanSession ? 1 : 0})`;
    case 'publish':
      return `PUBLISH(q${f.qos},t${f.topicIdType},id=${f.topicId},mid=${f.msgId}${f.dup ? ',dup' : ''}${f.retain ? ',r' : ''},${f.payload.length}B)`;
    case 'register':
      return `REGISTER(id=${f.topicId},mid=${f.msgId},${f.topicName})`;
    case 'regack':
    case 'puback':
      return `${f.type.toUpperCase()}(id=${f.topicId},mid=${f.msgId},rc=${f.rc})`;
    case 'subscribe':
    case 'unsubscribe':
      return `${f.type.toUpperCase()}(mid=${f.msgId},t${f.topic.idType},${'name' in f.topic ? f.topic.name : 'id' in f.topic ? f.topic.id : 'raw'})`;
    case 'suback':
      return `SUBACK(q${f.qos},id=${f.topicId},mid=${f.msgId},rc=${f.rc})`;
    case 'disconnect':
      return f.duration === null ? 'DISCONNECT' : `DISCONNECT(${f.duration}s)`;
    case 'pingreq':
      return f.clientId === null ? 'PINGREQ' : `PINGREQ(${f.clientId})`;
    case 'encapsulated':
      return `ENCAPSULATED(node=${f.nodeId.toString('hex')},${f.inner.length}B)`;
    default:
      return f.type.toUpperCase();
  }
}
