import { describe, expect, it } from 'vitest';
import * as coapPacket from 'coap-packet';
import {
  type CoapFrame,
  Code,
  Opt,
  blockSize,
  decode,
  decodeBlock,
  decodeUint,
  encode,
  encodeBlock,
  encodeUint,
  format,
  formatCode,
  szxFor,
  unknownCriticalOption,
} from '../../../../gateways/codecs/coap/frame.js';
import { seeded } from '../coap/harness.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const opt = (number: number, v: string | Buffer) => ({ number, value: typeof v === 'string' ? Buffer.from(v) : v });

// The wire example of gateways/coap/SPEC.md §8 step 3.
const specPublish: CoapFrame = {
  type: 'CON',
  code: Code.POST,
  messageId: 0x1234,
  token: hex('a1b2'),
  options: [
    opt(Opt.URI_PATH, 'ps'),
    opt(Opt.URI_PATH, 'sensors'),
    opt(Opt.URI_PATH, 's1'),
    opt(Opt.URI_PATH, 'data'),
    opt(Opt.URI_QUERY, 'c=dev1'),
    opt(Opt.URI_QUERY, 't=3404490787'),
    opt(Opt.URI_QUERY, 'q=1'),
    opt(Opt.URI_QUERY, 'r=true'),
  ],
  payload: Buffer.from('{"t":21.5}'),
};

const table: { name: string; bytes: Buffer; frame: CoapFrame }[] = [
  {
    name: 'spec §8 CON POST with Uri-Path and Uri-Query',
    bytes: Buffer.concat([
      hex('4202 1234 a1b2'),
      hex('b2'), Buffer.from('ps'), hex('07'), Buffer.from('sensors'), hex('02'), Buffer.from('s1'), hex('04'), Buffer.from('data'),
      hex('46'), Buffer.from('c=dev1'), hex('0c'), Buffer.from('t=3404490787'), hex('03'), Buffer.from('q=1'), hex('06'), Buffer.from('r=true'),
      hex('ff'), Buffer.from('{"t":21.5}'),
    ]),
    frame: specPublish,
  },
  {
    name: 'spec §8 piggybacked 2.04 reply',
    bytes: hex('6244 1234 a1b2'),
    frame: { type: 'ACK', code: Code.CHANGED, messageId: 0x1234, token: hex('a1b2'), options: [], payload: Buffer.alloc(0) },
  },
  {
    name: 'empty ACK',
    bytes: hex('6000 0007'),
    frame: { type: 'ACK', code: 0, messageId: 7, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) },
  },
  {
    name: 'NON 2.05 notification with Observe and Block2',
    bytes: hex('5145 0102 aa 61 05 d1 04 0e ff 41'),
    frame: { type: 'NON', code: Code.CONTENT, messageId: 0x0102, token: hex('aa'), options: [opt(Opt.OBSERVE, hex('05')), opt(Opt.BLOCK2, hex('0e'))], payload: Buffer.from('A') },
  },
];

describe('CoAP codec (RFC 7252 §3)', () => {
  for (const t of table) {
    it(`decodes ${t.name}`, () => {
      const r = decode(t.bytes);
      expect(r.kind).toBe('frame');
      if (r.kind === 'frame') expect(r.frame).toEqual(t.frame);
    });
    it(`encodes ${t.name}`, () => {
      expect(encode(t.frame).toString('hex')).toBe(t.bytes.toString('hex'));
    });
  }

  const errors: { name: string; bytes: Buffer; code: string }[] = [
    { name: 'shorter than a header', bytes: hex('40'), code: 'too_short' },
    { name: 'version 2', bytes: hex('8001 0001'), code: 'bad_version' },
    { name: 'token length 9 (reserved)', bytes: hex('4901 0001 0102030405060708 09'), code: 'bad_token_length' },
    { name: 'token cut short', bytes: hex('4401 0001 0102'), code: 'truncated' },
    { name: 'option delta nibble 15', bytes: hex('4001 0001 f1 00'), code: 'bad_option' },
    { name: 'option length nibble 15', bytes: hex('4001 0001 bf'), code: 'bad_option' },
    { name: 'option value past the end', bytes: hex('4001 0001 b5 6162'), code: 'truncated' },
    { name: 'extended delta missing', bytes: hex('4001 0001 d0'), code: 'truncated' },
    { name: 'payload marker without payload', bytes: hex('4002 0001 ff'), code: 'empty_payload' },
    { name: 'empty message with a token', bytes: hex('4100 0001 01'), code: 'bad_empty_message' },
    { name: 'empty message with trailing bytes', bytes: hex('4000 0001 ff01'), code: 'bad_empty_message' },
  ];
  for (const e of errors) {
    it(`rejects ${e.name} with ${e.code}`, () => {
      const r = decode(e.bytes);
      expect(r.kind).toBe('error');
      if (r.kind === 'error') expect(r.code).toBe(e.code);
    });
  }

  it('keeps the header of a malformed CON so it can be RST (RFC 7252 §4.2)', () => {
    const r = decode(hex('4001 beef b5 61'));
    expect(r.kind === 'error' && r.header).toEqual({ type: 'CON', messageId: 0xbeef });
  });

  it('agrees with coap-packet on encode and parse (large option deltas and lengths, 8-byte token)', () => {
    const f: CoapFrame = {
      type: 'CON',
      code: Code.PUT,
      messageId: 65535,
      token: hex('0102030405060708'),
      options: [opt(Opt.URI_PATH, 'x'.repeat(300)), opt(Opt.URI_QUERY, 'a'.repeat(13)), opt(Opt.SIZE1, encodeUint(70000)), opt(2049, 'v')],
      payload: Buffer.alloc(2000, 7),
    };
    const ours = encode(f);
    const parsed = coapPacket.parse(ours);
    expect(parsed.messageId).toBe(65535);
    expect(parsed.token).toEqual(f.token);
    expect(parsed.code).toBe('0.03');
    expect(parsed.options.map((o) => o.value.length)).toEqual([300, 13, 3, 1]);
    expect(parsed.payload).toEqual(f.payload);
    const theirs = coapPacket.generate(
      { confirmable: true, code: '0.03', messageId: 65535, token: f.token, options: f.options.map((o) => ({ name: String(o.number), value: o.value })), payload: f.payload },
      4096,
    );
    const r = decode(theirs);
    expect(r.kind === 'frame' && r.frame).toEqual(f);
  });

  it('round-trips random frames', () => {
    const rnd = seeded(7);
    const n = (max: number) => Math.floor(rnd() * max);
    for (let i = 0; i < 300; i++) {
      const options = Array.from({ length: n(6) }, () => ({ number: 1 + n(3000), value: Buffer.alloc(n(400), n(256)) })).sort((a, b) => a.number - b.number);
      const f: CoapFrame = {
        type: (['CON', 'NON', 'ACK', 'RST'] as const)[n(4)]!,
        code: 1 + n(190),
        messageId: n(65536),
        token: Buffer.alloc(n(9), 1),
        options,
        payload: Buffer.alloc(n(3), 9),
      };
      const r = decode(encode(f));
      expect(r.kind === 'frame' && r.frame).toEqual(f);
    }
  });

  it('never throws on random or mutated bytes', () => {
    const rnd = seeded(11);
    const base = encode(specPublish);
    for (let i = 0; i < 5000; i++) {
      const buf = i % 2 === 0 ? Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256))) : Buffer.from(base);
      if (i % 2 === 1) for (let k = 0; k < 3; k++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      const cut = i % 3 === 0 ? buf.subarray(0, Math.floor(rnd() * buf.length)) : buf;
      const r = decode(cut);
      expect(['frame', 'error']).toContain(r.kind);
    }
  });

  it('formats codes and frames for logs', () => {
    expect(formatCode(Code.CONTENT)).toBe('2.05');
    expect(formatCode(Code.REQUEST_ENTITY_TOO_LARGE)).toBe('4.13');
    expect(format(specPublish)).toBe('CON 0.02 mid=4660 tok=a1b2 /ps/sensors/s1/data?c=dev1&t=3404490787&q=1&r=true [10B]');
  });
});

describe('option values', () => {
  it('encodes uints minimally (RFC 7252 §3.2)', () => {
    expect(encodeUint(0).length).toBe(0);
    expect(encodeUint(255)).toEqual(hex('ff'));
    expect(encodeUint(256)).toEqual(hex('0100'));
    expect(encodeUint(0xffffff)).toEqual(hex('ffffff'));
    expect(encodeUint(4294967295)).toEqual(hex('ffffffff'));
    expect(decodeUint(hex('010000'))).toBe(65536);
    expect(decodeUint(hex('0102030405'))).toBeNull();
  });

  it('encodes and decodes Block options (RFC 7959 §2.2)', () => {
    expect(encodeBlock({ num: 0, more: true, szx: 6 })).toEqual(hex('0e'));
    expect(decodeBlock(hex('0e'))).toEqual({ num: 0, more: true, szx: 6 });
    expect(decodeBlock(encodeBlock({ num: 1000, more: false, szx: 2 }))).toEqual({ num: 1000, more: false, szx: 2 });
    expect(decodeBlock(hex('07'))).toBeNull(); // SZX 7 is reserved
    expect(decodeBlock(hex('01020304'))).toBeNull();
    expect(blockSize(6)).toBe(1024);
    expect(szxFor(1024)).toBe(6);
    expect(szxFor(100)).toBe(2);
    expect(szxFor(16)).toBe(0);
  });

  it('finds unknown critical options (RFC 7252 §5.4.1)', () => {
    const f = { ...specPublish, options: [...specPublish.options] };
    expect(unknownCriticalOption(f)).toBeNull();
    f.options.push(opt(9, 'x'));
    expect(unknownCriticalOption(f)).toBe(9);
  });
});
