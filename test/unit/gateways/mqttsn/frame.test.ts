import { describe, expect, it } from 'vitest';
import { decode, decodeStream, encode, format, shortId, shortName, type DecodeErrorCode, type Frame } from '../../../../gateways/mqttsn/frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s).toString('hex');

// {name, bytes, frame}: decoded and encoded both ways (MQTT-SN 1.2 §5.4; spec §1.3 examples).
const table: { name: string; bytes: string; frame: Frame }[] = [
  { name: 'ADVERTISE', bytes: '05 00 01 03 84', frame: { type: 'advertise', gwId: 1, duration: 900 } },
  { name: 'SEARCHGW', bytes: '03 01 01', frame: { type: 'searchgw', radius: 1 } },
  { name: 'GWINFO from gateway', bytes: '03 02 07', frame: { type: 'gwinfo', gwId: 7, gwAdd: null } },
  { name: 'GWINFO from client with GwAdd', bytes: '07 02 07 0a 00 00 01', frame: { type: 'gwinfo', gwId: 7, gwAdd: hex('0a000001') } },
  {
    name: 'CONNECT clean, ka 60, dev1 (spec §1.3 example)',
    bytes: '0A 04 04 01 00 3C 64 65 76 31',
    frame: { type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 60, clientId: 'dev1' },
  },
  {
    name: 'CONNECT will, no clean, empty id',
    bytes: '06 04 08 01 00 0a',
    frame: { type: 'connect', will: true, cleanSession: false, protocolId: 1, duration: 10, clientId: '' },
  },
  { name: 'CONNACK', bytes: '03 05 00', frame: { type: 'connack', rc: 0 } },
  { name: 'CONNACK not authorized', bytes: '03 05 80', frame: { type: 'connack', rc: 0x80 } },
  { name: 'WILLTOPICREQ', bytes: '02 06', frame: { type: 'willtopicreq' } },
  { name: 'WILLTOPIC qos1 retain', bytes: `06 07 30 ${ascii('w/t')}`, frame: { type: 'willtopic', qos: 1, retain: true, topic: 'w/t' } },
  { name: 'WILLTOPIC empty (delete)', bytes: '02 07', frame: { type: 'willtopic', qos: 0, retain: false, topic: null } },
  { name: 'WILLMSGREQ', bytes: '02 08', frame: { type: 'willmsgreq' } },
  { name: 'WILLMSG', bytes: `05 09 ${ascii('bye')}`, frame: { type: 'willmsg', payload: Buffer.from('bye') } },
  { name: 'WILLMSG empty', bytes: '02 09', frame: { type: 'willmsg', payload: Buffer.alloc(0) } },
  {
    name: 'REGISTER from client',
    bytes: `0d 0a 00 00 00 01 ${ascii('topic/a')}`,
    frame: { type: 'register', topicId: 0, msgId: 1, topicName: 'topic/a' },
  },
  { name: 'REGACK', bytes: '07 0b 04 01 00 01 00', frame: { type: 'regack', topicId: 1025, msgId: 1, rc: 0 } },
  {
    name: 'PUBLISH q1 normal id (spec example)',
    bytes: '09 0C 20 04 01 00 07 68 69',
    frame: { type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 0, topicId: 1025, msgId: 7, payload: Buffer.from('hi') },
  },
  {
    name: 'PUBLISH q-1 predefined (spec example)',
    bytes: '09 0C 61 00 01 00 00 68 69',
    frame: { type: 'publish', dup: false, qos: -1, retain: false, topicIdType: 1, topicId: 1, msgId: 0, payload: Buffer.from('hi') },
  },
  {
    name: 'PUBLISH q2 dup retain short name',
    bytes: `07 0C d2 ${ascii('ab')} 00 05`,
    frame: { type: 'publish', dup: true, qos: 2, retain: true, topicIdType: 2, topicId: shortId('ab'), msgId: 5, payload: Buffer.alloc(0) },
  },
  { name: 'PUBACK invalid topic id', bytes: '07 0d 04 01 00 07 02', frame: { type: 'puback', topicId: 1025, msgId: 7, rc: 2 } },
  { name: 'PUBCOMP', bytes: '04 0e 00 09', frame: { type: 'pubcomp', msgId: 9 } },
  { name: 'PUBREC', bytes: '04 0f 00 09', frame: { type: 'pubrec', msgId: 9 } },
  { name: 'PUBREL', bytes: '04 10 00 09', frame: { type: 'pubrel', msgId: 9 } },
  {
    name: 'SUBSCRIBE q1 name (spec example)',
    bytes: '08 12 20 00 02 61 2F 62',
    frame: { type: 'subscribe', dup: false, qos: 1, msgId: 2, topic: { idType: 0, name: 'a/b' } },
  },
  {
    name: 'SUBSCRIBE predefined',
    bytes: '07 12 01 00 03 00 01',
    frame: { type: 'subscribe', dup: false, qos: 0, msgId: 3, topic: { idType: 1, id: 1 } },
  },
  {
    name: 'SUBSCRIBE short name with wildcard',
    bytes: `07 12 42 00 04 ${ascii('a#')}`,
    frame: { type: 'subscribe', dup: false, qos: 2, msgId: 4, topic: { idType: 2, name: 'a#' } },
  },
  {
    name: 'SUBSCRIBE reserved topic type',
    bytes: '07 12 03 00 04 00 01',
    frame: { type: 'subscribe', dup: false, qos: 0, msgId: 4, topic: { idType: 3, raw: hex('0001') } },
  },
  { name: 'SUBACK', bytes: '08 13 20 04 01 00 02 00', frame: { type: 'suback', qos: 1, topicId: 1025, msgId: 2, rc: 0 } },
  {
    name: 'UNSUBSCRIBE name',
    bytes: `08 14 00 00 05 ${ascii('x/+')}`,
    frame: { type: 'unsubscribe', msgId: 5, topic: { idType: 0, name: 'x/+' } },
  },
  { name: 'UNSUBACK', bytes: '04 15 00 05', frame: { type: 'unsuback', msgId: 5 } },
  { name: 'PINGREQ', bytes: '02 16', frame: { type: 'pingreq', clientId: null } },
  { name: 'PINGREQ with client id', bytes: `06 16 ${ascii('dev1')}`, frame: { type: 'pingreq', clientId: 'dev1' } },
  { name: 'PINGRESP', bytes: '02 17', frame: { type: 'pingresp' } },
  { name: 'DISCONNECT', bytes: '02 18', frame: { type: 'disconnect', duration: null } },
  { name: 'DISCONNECT sleep 60', bytes: '04 18 00 3c', frame: { type: 'disconnect', duration: 60 } },
  { name: 'WILLTOPICUPD', bytes: `04 1a 40 ${ascii('w')}`, frame: { type: 'willtopicupd', qos: 2, retain: false, topic: 'w' } },
  { name: 'WILLTOPICUPD empty', bytes: '02 1a', frame: { type: 'willtopicupd', qos: 0, retain: false, topic: null } },
  { name: 'WILLTOPICRESP', bytes: '03 1b 00', frame: { type: 'willtopicresp', rc: 0 } },
  { name: 'WILLMSGUPD', bytes: `04 1c ${ascii('zz')}`, frame: { type: 'willmsgupd', payload: Buffer.from('zz') } },
  { name: 'WILLMSGRESP', bytes: '03 1d 00', frame: { type: 'willmsgresp', rc: 0 } },
  {
    name: 'Encapsulated SEARCHGW from node 0xA1B2',
    bytes: '05 fe 01 a1 b2 03 01 01',
    frame: { type: 'encapsulated', radius: 1, nodeId: hex('a1b2'), inner: hex('030101') },
  },
];

// {name, bytes, code}: malformed datagrams and the error each must produce.
const errors: { name: string; bytes: string; code: DecodeErrorCode }[] = [
  { name: 'empty datagram', bytes: '', code: 'MQTTSN_TRUNCATED' },
  { name: 'length byte only', bytes: '02', code: 'MQTTSN_LENGTH_MISMATCH' },
  { name: 'length 0', bytes: '00 16', code: 'MQTTSN_BAD_LENGTH' },
  { name: 'long form truncated', bytes: '01 01', code: 'MQTTSN_TRUNCATED' },
  { name: 'long form with length < 256', bytes: '01 00 05 16 00', code: 'MQTTSN_BAD_LENGTH' },
  { name: 'length larger than datagram', bytes: '05 16', code: 'MQTTSN_LENGTH_MISMATCH' },
  { name: 'length smaller than datagram', bytes: '02 16 00', code: 'MQTTSN_LENGTH_MISMATCH' },
  { name: 'reserved type 0x03', bytes: '02 03', code: 'MQTTSN_RESERVED_TYPE' },
  { name: 'reserved type 0x11', bytes: '02 11', code: 'MQTTSN_RESERVED_TYPE' },
  { name: 'reserved type 0x19', bytes: '02 19', code: 'MQTTSN_RESERVED_TYPE' },
  { name: 'reserved type 0xFF', bytes: '02 ff', code: 'MQTTSN_RESERVED_TYPE' },
  { name: 'CONNECT too short', bytes: '04 04 04 01', code: 'MQTTSN_BAD_BODY' },
  { name: 'CONNECT protocol id 2', bytes: '07 04 04 02 00 3c 61', code: 'MQTTSN_BAD_PROTOCOL_ID' },
  { name: 'CONNECT client id not UTF-8', bytes: '07 04 04 01 00 3c ff', code: 'MQTTSN_BAD_UTF8' },
  { name: 'CONNACK without rc', bytes: '02 05', code: 'MQTTSN_BAD_BODY' },
  { name: 'WILLTOPICREQ with body', bytes: '03 06 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'WILLTOPIC topic not UTF-8', bytes: '04 07 00 c3', code: 'MQTTSN_BAD_UTF8' },
  { name: 'REGISTER too short', bytes: '05 0a 00 00 01', code: 'MQTTSN_BAD_BODY' },
  { name: 'REGACK too short', bytes: '06 0b 00 01 00 01', code: 'MQTTSN_BAD_BODY' },
  { name: 'PUBLISH too short', bytes: '06 0c 20 04 01 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'PUBACK too long', bytes: '08 0d 00 01 00 01 00 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'PUBREL too short', bytes: '03 10 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'SUBSCRIBE predefined id of 1 byte', bytes: '06 12 01 00 01 01', code: 'MQTTSN_BAD_BODY' },
  { name: 'SUBSCRIBE short name of 3 bytes', bytes: '08 12 02 00 01 61 62 63', code: 'MQTTSN_BAD_BODY' },
  { name: 'SUBSCRIBE without msg id', bytes: '04 12 00 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'SUBSCRIBE name not UTF-8', bytes: '06 12 00 00 01 ff', code: 'MQTTSN_BAD_UTF8' },
  { name: 'UNSUBSCRIBE too short', bytes: '03 14 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'SUBACK too short', bytes: '07 13 00 00 01 00 01', code: 'MQTTSN_BAD_BODY' },
  { name: 'DISCONNECT with 1-byte duration', bytes: '03 18 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'PINGREQ client id not UTF-8', bytes: '03 16 fe', code: 'MQTTSN_BAD_UTF8' },
  { name: 'ADVERTISE short', bytes: '04 00 01 00', code: 'MQTTSN_BAD_BODY' },
  { name: 'SEARCHGW without radius', bytes: '02 01', code: 'MQTTSN_BAD_BODY' },
  { name: 'GWINFO without GwId', bytes: '02 02', code: 'MQTTSN_BAD_BODY' },
  { name: 'encapsulation without Ctrl', bytes: '02 fe 03 01 01', code: 'MQTTSN_BAD_ENCAPSULATION' },
  { name: 'encapsulation without inner message', bytes: '04 fe 00 01', code: 'MQTTSN_BAD_ENCAPSULATION' },
  { name: 'encapsulation with truncated inner', bytes: '04 fe 00 01 05 16', code: 'MQTTSN_BAD_ENCAPSULATION' },
  { name: 'encapsulation header longer than datagram', bytes: '09 fe 00 01', code: 'MQTTSN_BAD_ENCAPSULATION' },
];

describe('MQTT-SN codec: well-formed messages (MQTT-SN 1.2 §5.4)', () => {
  for (const t of table) {
    it(`decodes ${t.name}`, () => {
      const r = decode(hex(t.bytes));
      expect(r).toEqual({ kind: 'frame', frame: t.frame, rest: Buffer.alloc(0) });
    });
    it(`encodes ${t.name}`, () => {
      expect(encode(t.frame).toString('hex')).toBe(hex(t.bytes).toString('hex'));
    });
    it(`round-trips ${t.name} and formats it without payload`, () => {
      const r = decode(encode(t.frame));
      expect(r.kind === 'frame' && r.frame).toEqual(t.frame);
      expect(format(t.frame)).toMatch(/^[A-Z]+/);
    });
  }
});

describe('MQTT-SN codec: malformed messages', () => {
  for (const t of errors) {
    it(`rejects ${t.name} with ${t.code}`, () => {
      const r = decode(hex(t.bytes));
      expect(r.kind).toBe('error');
      expect(r.kind === 'error' && r.code).toBe(t.code);
    });
  }
});

describe('MQTT-SN codec: long header form (§5.2.1)', () => {
  const payload = Buffer.alloc(300, 0x61);
  const frame: Frame = { type: 'publish', dup: false, qos: 0, retain: false, topicIdType: 1, topicId: 1, msgId: 0, payload };
  it('encodes a message over 255 bytes with 0x01 and a 2-byte length counting the whole message', () => {
    const b = encode(frame);
    expect(b.length).toBe(4 + 5 + 300);
    expect(b[0]).toBe(0x01);
    expect(b.readUInt16BE(1)).toBe(b.length);
    expect(b[3]).toBe(0x0c);
    expect(decode(b)).toEqual({ kind: 'frame', frame, rest: Buffer.alloc(0) });
  });
  it('uses the short form up to 255 bytes in total', () => {
    const f: Frame = { ...frame, payload: Buffer.alloc(248) };
    const b = encode(f);
    expect(b.length).toBe(255);
    expect(b[0]).toBe(255);
  });
  it('accepts a long header on a small message only when the length is >= 256', () => {
    expect(decode(hex('01 00 04 16')).kind).toBe('error');
  });
});

describe('MQTT-SN codec: stream decoding for raw serial lines', () => {
  const a = encode({ type: 'pingreq', clientId: 'dev1' });
  const b = encode({ type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 0, topicId: 1025, msgId: 7, payload: Buffer.alloc(400, 1) });
  const c = hex('05 fe 00 a1 b2 03 01 01');
  const stream = Buffer.concat([a, b, c]);

  function drain(buf: Buffer): Frame[] {
    const out: Frame[] = [];
    for (;;) {
      const r = decodeStream(buf);
      if (r.kind !== 'frame') return out;
      out.push(r.frame);
      buf = r.rest;
    }
  }

  it('decodes back-to-back messages, including a long one and an encapsulated one', () => {
    const frames = drain(stream);
    expect(frames.map((f) => f.type)).toEqual(['pingreq', 'publish', 'encapsulated']);
  });

  it('returns more for every split offset and then the same frames', () => {
    for (let cut = 0; cut < stream.length; cut++) {
      const head = stream.subarray(0, cut);
      const r = decodeStream(head);
      expect(r.kind === 'frame' || r.kind === 'more').toBe(true);
      const frames = drain(head);
      // Complete frames before the cut are decoded, then more is asked for.
      const whole = drain(stream);
      expect(whole.slice(0, frames.length)).toEqual(frames);
    }
  });
});

describe('MQTT-SN codec: stream resynchronisation', () => {
  it('rejects a reserved type as soon as the header is there, without waiting for the length', () => {
    const r = decodeStream(hex('01 08 12 20 00 02'));
    expect(r.kind === 'error' && r.code).toBe('MQTTSN_RESERVED_TYPE');
    expect(decodeStream(hex('01 08 12')).kind).toBe('more');
  });
});

describe('MQTT-SN short topic names', () => {
  it('maps two characters to the TopicId field and back', () => {
    expect(shortId('ab')).toBe(0x6162);
    expect(shortName(0x6162)).toBe('ab');
    expect(shortId('abc')).toBe(-1);
    expect(shortName(0xffff)).toBeNull();
  });
});

describe('MQTT-SN codec: fuzz (decode never throws)', () => {
  // Deterministic PRNG so a failure can be replayed.
  let seed = 0x12345678;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };

  it('random datagrams decode to a frame or an error, and frames re-encode', () => {
    const kinds: Record<string, number> = {};
    let bad = 0;
    for (let i = 0; i < 20000; i++) {
      const len = Math.floor(rnd() * 40);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      if (len > 0 && rnd() < 0.7) b[0] = len; // make the length right most of the time
      if (len > 1 && rnd() < 0.5) b[1] = Math.floor(rnd() * 0x1f);
      // Plain checks in the loop (expect() per iteration dominates the run time); any throw fails the test.
      const r = decode(b);
      kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
      if (r.kind === 'frame') encode(r.frame);
      const k = decodeStream(b).kind;
      if (k !== 'frame' && k !== 'more' && k !== 'error') bad++;
    }
    expect(bad).toBe(0);
    expect(Object.keys(kinds).sort()).toEqual(['error', 'frame']);
  });

  it('mutated valid messages never throw', () => {
    let bad = 0;
    for (const t of table) {
      const base = hex(t.bytes);
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(base);
        const op = rnd();
        let m: Buffer = b;
        if (op < 0.4 && b.length > 0) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        else if (op < 0.7) m = b.subarray(0, Math.floor(rnd() * b.length));
        else m = Buffer.concat([b, Buffer.from([Math.floor(rnd() * 256)])]);
        const r = decode(m);
        if (r.kind !== 'frame' && r.kind !== 'error') bad++;
        const k = decodeStream(m).kind;
        if (k !== 'frame' && k !== 'more' && k !== 'error') bad++;
      }
    }
    expect(bad).toBe(0);
  });
});
