// STOMP frame codec: framing, content-length with NULs, CRLF, heart-beats, partial frames, limits,
// per-version header escaping (gateways/stomp/SPEC.md §1), and a seeded fuzz.
import { describe, expect, it } from 'vitest';
import { decodeStream, encode, header, HEARTBEAT, unescapeHeaders, type FrameLimits, type StompFrame } from '../../../../gateways/stomp/frame.js';
import { mulberry32 } from '../../../helpers/prng.js';

const LIMITS: FrameLimits = { maxHeaders: 10, maxHeaderLength: 1024, maxBodyLength: 65536 };

function one(s: string | Buffer, limits = LIMITS): { frame: StompFrame; rest: Buffer } {
  const r = decodeStream(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, limits);
  if (r.kind !== 'frame') throw new Error(`expected a frame, got ${JSON.stringify(r)}`);
  return { frame: r.frame, rest: r.rest };
}

function errorOf(s: string | Buffer, limits = LIMITS): string {
  const r = decodeStream(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, limits);
  if (r.kind !== 'error') throw new Error(`expected an error, got ${r.kind}`);
  return r.code;
}

/** Every frame and heart-beat of a byte stream. */
function all(buf: Buffer, limits = LIMITS): StompFrame[] {
  const out: StompFrame[] = [];
  for (let i = 0; i < 1000 && buf.length > 0; i++) {
    const r = decodeStream(buf, limits);
    if (r.kind !== 'frame') break;
    out.push(r.frame);
    buf = r.rest;
  }
  return out;
}

describe('STOMP frame decoding', () => {
  it('decodes a frame with LF EOLs, body ending at the first NUL, and keeps the rest', () => {
    const { frame, rest } = one('SEND\ndestination:/queue/a\nreceipt:r1\n\nhello\0CONNECT');
    expect(frame.command).toBe('SEND');
    expect(frame.headers).toEqual([
      ['destination', '/queue/a'],
      ['receipt', 'r1'],
    ]);
    expect(frame.body.toString()).toBe('hello');
    expect(rest.toString()).toBe('CONNECT');
  });

  it('reads exactly content-length bytes, NULs included, then expects NUL', () => {
    const body = Buffer.from([0x61, 0x00, 0x62, 0x00, 0x00, 0x63]);
    const buf = Buffer.concat([Buffer.from(`SEND\ndestination:a\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]);
    const { frame, rest } = one(buf);
    expect(frame.body.equals(body)).toBe(true);
    expect(rest.length).toBe(0);
    const bad = Buffer.concat([Buffer.from(`SEND\ncontent-length:2\n\n`), Buffer.from('abc\0')]);
    expect(errorOf(bad)).toBe('missing_nul');
  });

  it('accepts CRLF EOLs (1.2) in command, headers and the blank line', () => {
    const { frame } = one('SEND\r\ndestination:x\r\nfoo:bar\r\n\r\nbody\0');
    expect(frame.command).toBe('SEND');
    expect(frame.headers).toEqual([
      ['destination', 'x'],
      ['foo', 'bar'],
    ]);
    expect(frame.body.toString()).toBe('body');
  });

  it('returns heart-beat EOLs between frames as heart-beat frames (LF and CRLF)', () => {
    const frames = all(Buffer.from('\n\r\nSEND\ndestination:a\n\nx\0\n\nRECEIPT\nreceipt-id:1\n\n\0'));
    expect(frames.map((f) => f.command)).toEqual(['', '', 'SEND', '', '', 'RECEIPT']);
    expect(frames[0]).toBe(HEARTBEAT);
  });

  it('asks for more on every prefix of a frame, and decodes it whole at the end', () => {
    const full = Buffer.from('MESSAGE\r\nsubscription:0\r\nmessage-id:7\r\ncontent-length:3\r\n\r\na\0b\0');
    for (let i = 1; i < full.length; i++) {
      const r = decodeStream(full.subarray(0, i), LIMITS);
      // A prefix that ends in the middle of a CRLF or a frame is incomplete, never an error.
      expect(r.kind, `prefix ${i}`).toBe('more');
    }
    expect(one(full).frame.body.toString('latin1')).toBe('a\0b');
  });

  it('keeps repeated headers in order; the first one counts', () => {
    const { frame } = one('MESSAGE\nfoo:1\nfoo:2\n\n\0');
    expect(header(frame, 'foo')).toBe('1');
    expect(frame.headers.length).toBe(2);
  });

  it('keeps header values as sent (no trimming) and allows colons in values', () => {
    const { frame } = one('SEND\ndestination: a:b \n\n\0');
    expect(header(frame, 'destination')).toBe(' a:b ');
  });

  it('rejects a lower-case or binary command and a header line without a colon', () => {
    expect(errorOf('send\n\n\0')).toBe('bad_command');
    expect(errorOf('\x01\x02\x03\n\n\0')).toBe('bad_command');
    expect(errorOf('SEND\nnocolon\n\n\0')).toBe('malformed_header');
    expect(errorOf('SEND\ncontent-length:abc\n\n\0')).toBe('bad_content_length');
    expect(errorOf('\rX')).toBe('bad_eol');
    expect(errorOf('X'.repeat(40))).toBe('bad_command');
  });
});

describe('STOMP frame limits', () => {
  const small: FrameLimits = { maxHeaders: 3, maxHeaderLength: 20, maxBodyLength: 10 };

  it('max_headers: one header too many', () => {
    expect(one('SEND\na:1\nb:2\nc:3\n\n\0', small).frame.headers.length).toBe(3);
    expect(errorOf('SEND\na:1\nb:2\nc:3\nd:4\n\n\0', small)).toBe('max_headers');
  });

  it('max_headers_length: name + value over the limit, also before the line is complete', () => {
    expect(one(`SEND\n${'n'.repeat(10)}:${'v'.repeat(10)}\n\n\0`, small).frame.headers.length).toBe(1);
    expect(errorOf(`SEND\n${'n'.repeat(10)}:${'v'.repeat(11)}\n\n\0`, small)).toBe('max_headers_length');
    expect(errorOf(`SEND\n${'n'.repeat(40)}`, small)).toBe('max_headers_length');
  });

  it('max_body_length: by content-length at once, by NUL scan, and for a body still arriving', () => {
    expect(one(`SEND\n\n${'x'.repeat(10)}\0`, small).frame.body.length).toBe(10);
    expect(errorOf(`SEND\ncontent-length:11\n\n`, small)).toBe('max_body_length');
    expect(errorOf(`SEND\n\n${'x'.repeat(11)}\0`, small)).toBe('max_body_length');
    expect(errorOf(`SEND\n\n${'x'.repeat(11)}`, small)).toBe('max_body_length');
  });

  it('the error detail names the limit', () => {
    const r = decodeStream(Buffer.from('SEND\na:1\nb:2\nc:3\nd:4\n\n\0'), small);
    expect(r.kind === 'error' && r.detail).toMatch(/^max_headers: more than 3 headers/);
  });
});

describe('STOMP header escaping per version', () => {
  const raw = (hs: [string, string][], command = 'SEND'): StompFrame => ({ command, headers: hs, body: Buffer.alloc(0) });

  it('1.0: no escapes; one leading space of a value is dropped', () => {
    const r = unescapeHeaders(raw([['destination', ' a\\cb\\t']]), '1.0');
    expect(r.ok && header(r.frame, 'destination')).toBe('a\\cb\\t');
  });

  it('1.1: \\n \\c \\\\ decoded, \\r is undefined (fatal)', () => {
    const r = unescapeHeaders(raw([['des\\ct', 'a\\cb\\nc\\\\d']]), '1.1');
    expect(r.ok && r.frame.headers).toEqual([['des:t', 'a:b\nc\\d']]);
    expect(unescapeHeaders(raw([['x', 'a\\rb']]), '1.1').ok).toBe(false);
    expect(unescapeHeaders(raw([['x', 'a\\tb']]), '1.1').ok).toBe(false);
    expect(unescapeHeaders(raw([['x', 'trailing\\']]), '1.1').ok).toBe(false);
  });

  it('1.2: \\r decoded too; undefined escapes are fatal', () => {
    const r = unescapeHeaders(raw([['x', 'a\\rb\\nc']]), '1.2');
    expect(r.ok && header(r.frame, 'x')).toBe('a\rb\nc');
    expect(unescapeHeaders(raw([['x', 'a\\tb']]), '1.2').ok).toBe(false);
  });

  it('CONNECT and STOMP frames are never unescaped', () => {
    const r = unescapeHeaders(raw([['passcode', 'p\\cw']], 'CONNECT'), '1.2');
    expect(r.ok && header(r.frame, 'passcode')).toBe('p\\cw');
  });

  it('encodes with the escapes of the version; CONNECTED raw', () => {
    const f = (escape: StompFrame['escape']): string => encode({ command: 'MESSAGE', headers: [['k:1', 'a\r\nb\\']], body: Buffer.alloc(0), escape }).toString();
    expect(f('1.2')).toBe('MESSAGE\nk\\c1:a\\r\\nb\\\\\n\n\0');
    expect(f('1.1')).toBe('MESSAGE\nk\\c1:a\r\\nb\\\\\n\n\0');
    expect(f('none')).toBe('MESSAGE\nk:1:a\r\nb\\\n\n\0');
  });

  it('round-trips escaped headers and binary bodies through encode/decode/unescape', () => {
    const rnd = mulberry32(7);
    for (let i = 0; i < 200; i++) {
      const chars = 'ab:\\\n\r xé';
      const str = (): string => Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
      const headers: [string, string][] = [
        [str(), str()],
        [str(), str()],
      ];
      const body = Buffer.from(Array.from({ length: Math.floor(rnd() * 50) }, () => Math.floor(rnd() * 256)));
      const wire = encode({ command: 'MESSAGE', headers, body, escape: '1.2' });
      const { frame, rest } = one(wire);
      expect(rest.length).toBe(0);
      const u = unescapeHeaders(frame, '1.2');
      expect(u.ok).toBe(true);
      if (!u.ok) continue;
      expect(u.frame.headers.slice(0, 2)).toEqual(headers);
      expect(u.frame.body.equals(body)).toBe(true);
    }
  });

  it('adds content-length when the body is not empty', () => {
    const s = encode({ command: 'MESSAGE', headers: [], body: Buffer.from('a\0b') }).toString('latin1');
    expect(s).toBe('MESSAGE\ncontent-length:3\n\na\0b\0');
    expect(encode(HEARTBEAT).toString()).toBe('\n');
  });
});

describe('STOMP codec fuzz (seeded)', () => {
  it('never throws and always makes progress or asks for more, on mutated and random input', () => {
    const seeds = [1, 2, 3, 42, 1234];
    const corpus = [
      'CONNECT\naccept-version:1.2\nhost:x\n\n\0',
      'SEND\ndestination:a\ncontent-length:3\n\na\0b\0\n',
      'SUBSCRIBE\r\nid:0\r\ndestination:s/+/t\r\nack:client\r\n\r\n\0',
      '\n\n\r\nACK\nid:1\n\n\0',
    ].map((s) => Buffer.from(s, 'latin1'));
    const limits: FrameLimits = { maxHeaders: 4, maxHeaderLength: 40, maxBodyLength: 64 };
    const started = Date.now();
    for (const seed of seeds) {
      const rnd = mulberry32(seed);
      for (let n = 0; n < 2000; n++) {
        let buf: Buffer;
        if (rnd() < 0.3) {
          buf = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
        } else {
          buf = Buffer.concat([corpus[Math.floor(rnd() * corpus.length)]!, corpus[Math.floor(rnd() * corpus.length)]!]);
          const flips = 1 + Math.floor(rnd() * 4);
          for (let k = 0; k < flips; k++) {
            const at = Math.floor(rnd() * buf.length);
            const pick = rnd();
            buf[at] = pick < 0.3 ? 0 : pick < 0.5 ? 0x0a : pick < 0.6 ? 0x3a : Math.floor(rnd() * 256);
          }
        }
        // Decode the stream to its end: each step consumes bytes, or stops with more/error.
        let steps = 0;
        for (;;) {
          let r: ReturnType<typeof decodeStream>;
          try {
            r = decodeStream(buf, limits);
          } catch (err) {
            throw new Error(`seed ${seed} case ${n}: threw ${String(err)} on ${buf.toString('hex')}`);
          }
          if (r.kind !== 'frame') break;
          expect(r.rest.length, `seed ${seed} case ${n}`).toBeLessThan(buf.length);
          buf = r.rest;
          if (++steps > buf.length + 10) throw new Error('no progress');
        }
      }
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
