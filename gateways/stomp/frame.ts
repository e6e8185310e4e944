// STOMP 1.0/1.1/1.2 frame codec (gateways/stomp/SPEC.md §1): pure functions over Buffers.
// decodeStream cuts one frame (or one heart-beat EOL) off a byte stream and enforces the frame
// limits; header values come out raw, because escaping depends on the version that CONNECT
// negotiates: the channel applies unescapeHeaders() once it knows it. CRLF is accepted as an EOL
// everywhere (1.2; harmless for 1.0/1.1 clients, which never send a bare CR before LF).
import type { CodecResult } from '../transport/types.js';
import type { StreamCodec } from '../transport/stream-types.js';

export type StompVersion = '1.0' | '1.1' | '1.2';

/** One frame. command '' is a heart-beat (a bare EOL between frames). */
export interface StompFrame {
  command: string;
  /** In wire order; repeated names are kept, the first one counts (header()). */
  headers: [string, string][];
  body: Buffer;
  /** Outbound only: header escaping to apply (default '1.2'; 'none' for CONNECTED and 1.0 raw). */
  escape?: StompVersion | 'none';
}

export interface FrameLimits {
  maxHeaders: number;
  /** Bytes of name + value of one header. */
  maxHeaderLength: number;
  maxBodyLength: number;
}

/** Error codes name the limit or rule that was broken; the ERROR frame carries them. */
export type FrameErrorCode = 'max_headers' | 'max_headers_length' | 'max_body_length' | 'bad_command' | 'malformed_header' | 'bad_content_length' | 'missing_nul' | 'bad_eol';

const EMPTY = Buffer.alloc(0);
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const COLON = 0x3a;
/** Longest command line: the longest command is UNSUBSCRIBE (11). */
const MAX_COMMAND_LINE = 32;

export const HEARTBEAT: StompFrame = Object.freeze({ command: '', headers: [], body: EMPTY }) as StompFrame;
const HEARTBEAT_BYTES = Buffer.from('\n');

function fail(code: FrameErrorCode, detail: string): CodecResult<StompFrame> {
  return { kind: 'error', code, detail: `${code}: ${detail}` };
}

/** End of the line starting at `from`: index of LF, and the content end (before a CR). -1 when incomplete. */
function lineEnd(buf: Buffer, from: number): number {
  return buf.indexOf(LF, from);
}

function contentEnd(buf: Buffer, from: number, lf: number): number {
  return lf > from && buf[lf - 1] === CR ? lf - 1 : lf;
}

/**
 * First frame of `buf`. A leading EOL is a heart-beat frame of its own. Limits: at most
 * maxHeaders headers, maxHeaderLength bytes per header (name + value), maxBodyLength bytes of body
 * (checked as soon as the bytes or the content-length show it, without waiting for the rest).
 */
export function decodeStream(buf: Buffer, limits: FrameLimits): CodecResult<StompFrame> {
  if (buf.length === 0) return { kind: 'more' };
  const b0 = buf[0]!;
  if (b0 === LF) return { kind: 'frame', frame: HEARTBEAT, rest: buf.subarray(1) };
  if (b0 === CR) {
    if (buf.length < 2) return { kind: 'more' };
    if (buf[1] === LF) return { kind: 'frame', frame: HEARTBEAT, rest: buf.subarray(2) };
    return fail('bad_eol', 'CR not followed by LF');
  }
  // Command line.
  let lf = lineEnd(buf, 0);
  if (lf < 0) {
    if (buf.length > MAX_COMMAND_LINE) return fail('bad_command', `no EOL in the first ${MAX_COMMAND_LINE} bytes`);
    return { kind: 'more' };
  }
  const cmdEnd = contentEnd(buf, 0, lf);
  if (cmdEnd > MAX_COMMAND_LINE) return fail('bad_command', 'command line too long');
  const command = buf.toString('latin1', 0, cmdEnd);
  if (!/^[A-Z]+$/.test(command)) return fail('bad_command', `not a command: ${JSON.stringify(command.slice(0, 16))}`);
  // Header lines up to the blank line.
  const headers: [string, string][] = [];
  let pos = lf + 1;
  let contentLength = -1;
  for (;;) {
    lf = lineEnd(buf, pos);
    if (lf < 0) {
      // A header line is at most maxHeaderLength + ':' + CRLF bytes.
      if (buf.length - pos > limits.maxHeaderLength + 3) return fail('max_headers_length', `header longer than ${limits.maxHeaderLength} bytes`);
      return { kind: 'more' };
    }
    const end = contentEnd(buf, pos, lf);
    if (end === pos) {
      pos = lf + 1;
      break;
    }
    if (headers.length >= limits.maxHeaders) return fail('max_headers', `more than ${limits.maxHeaders} headers`);
    if (end - pos - 1 > limits.maxHeaderLength) return fail('max_headers_length', `header longer than ${limits.maxHeaderLength} bytes`);
    const colon = buf.indexOf(COLON, pos);
    if (colon < 0 || colon >= end) return fail('malformed_header', 'header line without a colon');
    const name = buf.toString('utf8', pos, colon);
    const value = buf.toString('utf8', colon + 1, end);
    headers.push([name, value]);
    if (name === 'content-length' && contentLength < 0) {
      const v = value.trim();
      if (!/^\d{1,15}$/.test(v)) return fail('bad_content_length', `content-length ${JSON.stringify(v.slice(0, 20))}`);
      contentLength = Number(v);
      if (contentLength > limits.maxBodyLength) return fail('max_body_length', `body of ${contentLength} bytes exceeds ${limits.maxBodyLength}`);
    }
    pos = lf + 1;
  }
  // Body.
  let bodyEnd: number;
  if (contentLength >= 0) {
    bodyEnd = pos + contentLength;
    if (buf.length <= bodyEnd) return { kind: 'more' };
    if (buf[bodyEnd] !== NUL) return fail('missing_nul', `no NUL after ${contentLength} bytes of body`);
  } else {
    bodyEnd = buf.indexOf(NUL, pos);
    if (bodyEnd < 0) {
      if (buf.length - pos > limits.maxBodyLength) return fail('max_body_length', `body exceeds ${limits.maxBodyLength} bytes`);
      return { kind: 'more' };
    }
    if (bodyEnd - pos > limits.maxBodyLength) return fail('max_body_length', `body of ${bodyEnd - pos} bytes exceeds ${limits.maxBodyLength}`);
  }
  // The body is copied: the stream buffer it came from is reused for what follows.
  const body = bodyEnd === pos ? EMPTY : Buffer.from(buf.subarray(pos, bodyEnd));
  return { kind: 'frame', frame: { command, headers, body }, rest: buf.subarray(bodyEnd + 1) };
}

/** A whole datagram/message holding exactly one frame. */
export function decode(buf: Buffer, limits: FrameLimits): CodecResult<StompFrame> {
  const r = decodeStream(buf, limits);
  if (r.kind !== 'frame') return r.kind === 'more' ? fail('missing_nul', 'incomplete frame') : r;
  return r;
}

/** Value of the first header named `name` (1.2 §Repeated Header Entries), or undefined. */
export function header(f: StompFrame, name: string): string | undefined {
  for (const h of f.headers) if (h[0] === name) return h[1];
  return undefined;
}

/**
 * Header names and values decoded for `version` (spec §1.1): 1.0 and CONNECT/STOMP frames are
 * raw (1.0 values lose one leading space, as EMQX tolerates `name: value`); 1.1 decodes \n \c \\;
 * 1.2 also \r. An undefined escape is a fatal protocol error: the offending header is returned.
 */
export function unescapeHeaders(f: StompFrame, version: StompVersion): { ok: true; frame: StompFrame } | { ok: false; detail: string } {
  if (f.command === '' || f.command === 'CONNECT' || f.command === 'STOMP') return { ok: true, frame: f };
  if (version === '1.0') {
    let changed = false;
    const hs = f.headers.map(([n, v]): [string, string] => {
      if (v.charCodeAt(0) === 0x20) {
        changed = true;
        return [n, v.slice(1)];
      }
      return [n, v];
    });
    return { ok: true, frame: changed ? { ...f, headers: hs } : f };
  }
  let out: [string, string][] | null = null;
  for (let i = 0; i < f.headers.length; i++) {
    const [n, v] = f.headers[i]!;
    if (!n.includes('\\') && !v.includes('\\')) {
      out?.push([n, v]);
      continue;
    }
    const un = unescape(n, version);
    const uv = unescape(v, version);
    if (un === null || uv === null) return { ok: false, detail: `undefined escape sequence in header ${JSON.stringify(n.slice(0, 64))}` };
    if (out === null) out = f.headers.slice(0, i);
    out.push([un, uv]);
  }
  return { ok: true, frame: out === null ? f : { ...f, headers: out } };
}

function unescape(s: string, version: StompVersion): string | null {
  if (!s.includes('\\')) return s;
  let r = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      r += c;
      continue;
    }
    const n = s[++i];
    if (n === 'n') r += '\n';
    else if (n === 'c') r += ':';
    else if (n === '\\') r += '\\';
    else if (n === 'r' && version === '1.2') r += '\r';
    else return null;
  }
  return r;
}

const ESC_12 = /[\\\r\n:]/g;
const ESC_11 = /[\\\n:]/g;
const ESC_MAP: Record<string, string> = { '\\': '\\\\', '\r': '\\r', '\n': '\\n', ':': '\\c' };

function escapeValue(s: string, mode: StompVersion | 'none'): string {
  if (mode === 'none') return s;
  // 1.0 has no escapes; we still escape (as EMQX does) so a value never breaks the framing.
  const re = mode === '1.1' ? ESC_11 : ESC_12;
  re.lastIndex = 0;
  return re.test(s) ? s.replace(re, (c) => ESC_MAP[c]!) : s;
}

/** Wire form; content-length is added when the body is not empty and the frame has none. */
export function encode(f: StompFrame): Buffer {
  if (f.command === '') return HEARTBEAT_BYTES;
  const mode = f.escape ?? '1.2';
  let head = f.command + '\n';
  let hasLength = false;
  for (const [n, v] of f.headers) {
    if (n === 'content-length') hasLength = true;
    head += escapeValue(n, mode) + ':' + escapeValue(v, mode) + '\n';
  }
  if (!hasLength && f.body.length > 0) head += 'content-length:' + f.body.length + '\n';
  head += '\n';
  const headLen = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headLen + f.body.length + 1);
  out.write(head, 0, 'utf8');
  f.body.copy(out, headLen);
  out[out.length - 1] = NUL;
  return out;
}

/** Log form: command and headers, body length only. */
export function format(f: StompFrame): string {
  if (f.command === '') return 'HEARTBEAT';
  const hs = f.headers.filter(([n]) => n !== 'passcode').map(([n, v]) => `${n}=${v.length > 64 ? v.slice(0, 64) + '…' : v}`);
  return `${f.command}(${hs.join(',')}${f.body.length > 0 ? `,body=${f.body.length}B` : ''})`;
}

/** The codec the stream drivers use, bound to one gateway's limits. */
export function stompCodec(limits: FrameLimits): StreamCodec<StompFrame> {
  return {
    decode: (buf) => decode(buf, limits),
    decodeStream: (buf) => decodeStream(buf, limits),
    encode,
    format,
  };
}
