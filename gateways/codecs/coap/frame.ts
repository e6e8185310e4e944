// CoAP message codec (RFC 7252 §3): one datagram is one frame. Pure functions over Buffers that
// never throw. coap-packet (shipped with the `coap` package) is the reference the tests check
// against; this codec exists because the gateway needs what coap-packet does not give: strict
// format-error detection (truncated options, reserved nibbles, empty payload after the marker,
// RFC 7252 §3/§4.2) with the message id kept for the RST, and an encoder that never stringifies
// the payload on the notification hot path.
import { formatCode } from './codes.js';
import { MAX_SZX } from './params.js';

export type CoapType = 'CON' | 'NON' | 'ACK' | 'RST';

export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapFrame {
  type: CoapType;
  /** class * 32 + detail, e.g. 69 for 2.05 (RFC 7252 §3, §12.1). */
  code: number;
  messageId: number;
  token: Buffer;
  /** In ascending option-number order after decode; any order before encode. */
  options: CoapOption[];
  payload: Buffer;
}

export type DecodeErrorCode =
  | 'too_short'
  | 'bad_version'
  | 'bad_token_length'
  | 'truncated'
  | 'bad_option'
  | 'empty_payload'
  | 'bad_empty_message';

export type DecodeResult =
  | { kind: 'frame'; frame: CoapFrame; rest: Buffer }
  | { kind: 'error'; code: DecodeErrorCode; detail: string; /** header fields when the first 4 bytes were readable */ header: { type: CoapType; messageId: number } | null };

const TYPES: readonly CoapType[] = ['CON', 'NON', 'ACK', 'RST'];
const EMPTY: Buffer = Buffer.alloc(0);

export const code = (cls: number, detail: number): number => (cls << 5) | detail;

/** Method and response codes the gateway uses (RFC 7252 §12.1, 2.07 from the pub/sub draft, 2.31 from RFC 7959). */
export const Code = {
  EMPTY: 0,
  GET: 1,
  POST: 2,
  PUT: 3,
  DELETE: 4,
  CREATED: code(2, 1),
  DELETED: code(2, 2),
  VALID: code(2, 3),
  CHANGED: code(2, 4),
  CONTENT: code(2, 5),
  NO_CONTENT: code(2, 7),
  CONTINUE: code(2, 31),
  BAD_REQUEST: code(4, 0),
  UNAUTHORIZED: code(4, 1),
  BAD_OPTION: code(4, 2),
  FORBIDDEN: code(4, 3),
  NOT_FOUND: code(4, 4),
  METHOD_NOT_ALLOWED: code(4, 5),
  REQUEST_ENTITY_INCOMPLETE: code(4, 8),
  REQUEST_ENTITY_TOO_LARGE: code(4, 13),
  INTERNAL_SERVER_ERROR: code(5, 0),
  SERVICE_UNAVAILABLE: code(5, 3),
} as const;

/** Option numbers (RFC 7252 §12.2, RFC 7641, RFC 7959). */
export const Opt = {
  URI_HOST: 3,
  ETAG: 4,
  OBSERVE: 6,
  URI_PORT: 7,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  SIZE1: 60,
} as const;

/** Critical options (odd numbers, RFC 7252 §5.4.1) that the gateway understands in a request. */
const KNOWN_CRITICAL = new Set<number>([Opt.URI_HOST, Opt.URI_PORT, Opt.URI_PATH, Opt.URI_QUERY, Opt.ACCEPT, Opt.BLOCK2, Opt.BLOCK1]);

export const isRequestCode = (c: number): boolean => c >= 1 && c <= 31;
export const isResponseCode = (c: number): boolean => c >= 64 && c < 192;

export { formatCode };

export function decode(buf: Buffer): DecodeResult {
  if (buf.length < 4) return { kind: 'error', code: 'too_short', detail: `${buf.length} bytes`, header: null };
  const b0 = buf[0]!;
  const type = TYPES[(b0 >> 4) & 3]!;
  const messageId = buf.readUInt16BE(2);
  const header = { type, messageId };
  // RFC 7252 §3: unknown versions are silently ignored; the caller decides (header given).
  if (b0 >> 6 !== 1) return { kind: 'error', code: 'bad_version', detail: `version ${b0 >> 6}`, header };
  const tkl = b0 & 15;
  const c = buf[1]!;
  if (tkl > 8) return { kind: 'error', code: 'bad_token_length', detail: `tkl ${tkl}`, header };
  if (c === 0) {
    // RFC 7252 §4.1: an Empty message has TKL 0 and nothing after the message id.
    if (tkl !== 0 || buf.length !== 4) return { kind: 'error', code: 'bad_empty_message', detail: `${buf.length} bytes`, header };
    return { kind: 'frame', frame: { type, code: 0, messageId, token: EMPTY, options: [], payload: EMPTY }, rest: EMPTY };
  }
  if (buf.length < 4 + tkl) return { kind: 'error', code: 'truncated', detail: 'token', header };
  const token = buf.subarray(4, 4 + tkl);
  const options: CoapOption[] = [];
  let i = 4 + tkl;
  let num = 0;
  let payload: Buffer = EMPTY;
  while (i < buf.length) {
    const byte = buf[i]!;
    if (byte === 0xff) {
      // RFC 7252 §3: a marker followed by a zero-length payload is a format error.
      if (i + 1 >= buf.length) return { kind: 'error', code: 'empty_payload', detail: 'marker without payload', header };
      payload = buf.subarray(i + 1);
      break;
    }
    i++;
    let delta = byte >> 4;
    let len = byte & 15;
    if (delta === 15 || len === 15) return { kind: 'error', code: 'bad_option', detail: 'reserved nibble 15', header };
    if (delta === 13) {
      if (i + 1 > buf.length) return { kind: 'error', code: 'truncated', detail: 'option delta', header };
      delta = buf[i]! + 13;
      i += 1;
    } else if (delta === 14) {
      if (i + 2 > buf.length) return { kind: 'error', code: 'truncated', detail: 'option delta', header };
      delta = buf.readUInt16BE(i) + 269;
      i += 2;
    }
    if (len === 13) {
      if (i + 1 > buf.length) return { kind: 'error', code: 'truncated', detail: 'option length', header };
      len = buf[i]! + 13;
      i += 1;
    } else if (len === 14) {
      if (i + 2 > buf.length) return { kind: 'error', code: 'truncated', detail: 'option length', header };
      len = buf.readUInt16BE(i) + 269;
      i += 2;
    }
    num += delta;
    if (num > 0xffff) return { kind: 'error', code: 'bad_option', detail: `option number ${num}`, header };
    if (i + len > buf.length) return { kind: 'error', code: 'truncated', detail: `option ${num} value`, header };
    options.push({ number: num, value: buf.subarray(i, i + len) });
    i += len;
  }
  return { kind: 'frame', frame: { type, code: c, messageId, token, options, payload }, rest: EMPTY };
}

function extLen(n: number): number {
  return n < 13 ? 0 : n < 269 ? 1 : 2;
}

function nibble(n: number): number {
  return n < 13 ? n : n < 269 ? 13 : 14;
}

export function encode(f: CoapFrame): Buffer {
  const opts = f.options.length > 1 ? [...f.options].sort((a, b) => a.number - b.number) : f.options;
  let size = 4 + f.token.length;
  let prev = 0;
  for (const o of opts) {
    const d = o.number - prev;
    size += 1 + extLen(d) + extLen(o.value.length) + o.value.length;
    prev = o.number;
  }
  if (f.payload.length > 0) size += 1 + f.payload.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = (1 << 6) | (TYPES.indexOf(f.type) << 4) | (f.token.length & 15);
  out[1] = f.code;
  out.writeUInt16BE(f.messageId & 0xffff, 2);
  let i = 4 + f.token.copy(out, 4);
  prev = 0;
  for (const o of opts) {
    const d = o.number - prev;
    const l = o.value.length;
    out[i++] = (nibble(d) << 4) | nibble(l);
    if (d >= 269) i = out.writeUInt16BE(d - 269, i);
    else if (d >= 13) out[i++] = d - 13;
    if (l >= 269) i = out.writeUInt16BE(l - 269, i);
    else if (l >= 13) out[i++] = l - 13;
    i += o.value.copy(out, i);
    prev = o.number;
  }
  if (f.payload.length > 0) {
    out[i++] = 0xff;
    f.payload.copy(out, i);
  }
  return out;
}

/** Short log form, e.g. `CON 0.02 mid=4660 tok=a1b2 /ps/a/b?qos=1 [5B]`. Built only at debug level. */
export function format(f: CoapFrame): string {
  const path = optionStrings(f, Opt.URI_PATH);
  const query = optionStrings(f, Opt.URI_QUERY);
  const uri = path.length > 0 || query.length > 0 ? ` /${path.join('/')}${query.length > 0 ? `?${query.join('&')}` : ''}` : '';
  return `${f.type} ${formatCode(f.code)} mid=${f.messageId} tok=${f.token.toString('hex')}${uri} [${f.payload.length}B]`;
}

// ---------------------------------------------------------------------------------------------
// Option helpers

export function getOption(f: CoapFrame, n: number): Buffer | undefined {
  for (const o of f.options) if (o.number === n) return o.value;
  return undefined;
}

export function optionStrings(f: CoapFrame, n: number): string[] {
  const out: string[] = [];
  for (const o of f.options) if (o.number === n) out.push(o.value.toString('utf8'));
  return out;
}

/** RFC 7252 §3.2 uint: big-endian, leading zero bytes removed (0 is the empty value). */
export function encodeUint(v: number): Buffer {
  if (v === 0) return EMPTY;
  if (v < 0x100) return Buffer.from([v]);
  if (v < 0x10000) return Buffer.from([v >> 8, v & 0xff]);
  if (v < 0x1000000) return Buffer.from([v >> 16, (v >> 8) & 0xff, v & 0xff]);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** Decodes a uint option of at most 4 bytes; null when longer. */
export function decodeUint(b: Buffer): number | null {
  if (b.length > 4) return null;
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

export interface BlockOption {
  num: number;
  more: boolean;
  szx: number;
}

export const blockSize = (szx: number): number => 1 << (szx + 4);

/** RFC 7959 §2.2: NUM (up to 20 bits) | M | SZX in a 0–3 byte uint. null for a malformed value or SZX 7. */
export function decodeBlock(b: Buffer): BlockOption | null {
  if (b.length > 3) return null;
  const v = decodeUint(b)!;
  const szx = v & 7;
  if (szx > MAX_SZX) return null;
  return { num: v >> 4, more: (v & 8) !== 0, szx };
}

export function encodeBlock(o: BlockOption): Buffer {
  return encodeUint(o.num * 16 + (o.more ? 8 : 0) + o.szx);
}

/** The largest SZX whose block size is <= bytes (clamped to 0..6). */
export function szxFor(bytes: number): number {
  let s = 0;
  while (s < MAX_SZX && blockSize(s + 1) <= bytes) s++;
  return s;
}

/** RFC 7252 §5.4.1: the first critical option in a request that the gateway does not understand. */
export function unknownCriticalOption(f: CoapFrame): number | null {
  for (const o of f.options) if ((o.number & 1) === 1 && !KNOWN_CRITICAL.has(o.number)) return o.number;
  return null;
}

export function emptyFrame(type: 'ACK' | 'RST', messageId: number): CoapFrame {
  return { type, code: 0, messageId, token: EMPTY, options: [], payload: EMPTY };
}
