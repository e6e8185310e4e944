// MQTT 5 User Properties as ordered (name, value) pairs. The server forwards them unaltered and in
// the order received, a name may repeat [MQTT-3.3.2-17], [MQTT-3.3.2-18]; mqtt-packet's object
// form cannot hold that (a repeated name becomes an array, so interleaved names lose their order).
// The wire helpers live on the ground floor because the MQTT front and the bridge, which may not
// import each other, both read and write them. Pure functions; they never throw on bad input.
import type { UserProperties } from './types.js';

/** Pairs from mqtt-packet's object form (or a JSON map): key order, an array's values in turn. */
export function userPropertiesFromObject(o: Readonly<Record<string, string | readonly string[]>>): UserProperties {
  const out: [string, string][] = [];
  for (const k of Object.keys(o)) {
    const v = o[k]!;
    if (typeof v === 'string') out.push([k, v]);
    else for (const s of v) out.push([k, s]);
  }
  return out;
}

/** The object form EMQX renders (and mqtt-packet writes): a repeated name becomes an array. */
export function userPropertiesToObject(up: UserProperties): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const [k, v] of up) {
    const prev = o[k];
    o[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return o;
}

/** Every value of one name, in order. */
export function userPropertyValues(up: UserProperties | undefined, name: string): string[] {
  const out: string[] = [];
  if (up) for (const [k, v] of up) if (k === name) out.push(v);
  return out;
}

/**
 * Accepts what a stored row holds: the pair list, or the object form rows were written in before
 * the order was kept. Anything else is null (a damaged column must not stop the box from starting).
 */
export function userPropertiesFromJson(v: unknown): UserProperties | null {
  if (Array.isArray(v)) {
    const out: [string, string][] = [];
    for (const e of v) {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string') return null;
      out.push([e[0], e[1]]);
    }
    return out;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x !== 'string' && !(Array.isArray(x) && x.every((s) => typeof s === 'string'))) return null;
  }
  return userPropertiesFromObject(o as Record<string, string | string[]>);
}

// MQTT 5 §2.2.2.2 Table 2-4: the value type of every property id, to walk a property list.
const BYTE = 1;
const U16 = 2;
const U32 = 4;
const VARINT = 5;
const STR = 6;
const BIN = 7;
const PAIR = 8;
const TYPE_OF: ReadonlyMap<number, number> = new Map([
  [0x01, BYTE], [0x02, U32], [0x03, STR], [0x08, STR], [0x09, BIN], [0x0b, VARINT], [0x11, U32], [0x12, STR],
  [0x13, U16], [0x15, STR], [0x16, BIN], [0x17, BYTE], [0x18, U32], [0x19, BYTE], [0x1a, STR], [0x1c, STR],
  [0x1f, STR], [0x21, U16], [0x22, U16], [0x23, U16], [0x24, BYTE], [0x25, BYTE], [0x26, PAIR], [0x27, U32],
  [0x28, BYTE], [0x29, BYTE], [0x2a, BYTE],
]);

/** Variable Byte Integer at off: [value, next offset], value -1 when bad. */
export function readVarint(b: Buffer, off: number, end: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (off >= end) return [-1, off];
    const c = b[off++]!;
    v += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) return [v, off];
    mul *= 128;
  }
  return [-1, off];
}

/**
 * The User Properties of the v5 property list that starts (with its length) at `off`, in wire order;
 * [] when there are none, null when the list is malformed or holds an unknown id.
 */
export function readUserProperties(b: Buffer, off: number, end: number): UserProperties | null {
  const [len, start] = readVarint(b, off, end);
  if (len < 0 || start + len > end) return null;
  const stop = start + len;
  const out: [string, string][] = [];
  let p = start;
  const str = (): string | null => {
    if (p + 2 > stop) return null;
    const e = p + 2 + b.readUInt16BE(p);
    if (e > stop) return null;
    const s = b.toString('utf8', p + 2, e);
    p = e;
    return s;
  };
  while (p < stop) {
    const t = TYPE_OF.get(b[p++]!);
    if (t === undefined) return null;
    if (t === BYTE || t === U16 || t === U32) p += t;
    else if (t === VARINT) {
      const [v, n] = readVarint(b, p, stop);
      if (v < 0) return null;
      p = n;
    } else if (t === PAIR) {
      const k = str();
      if (k === null) return null;
      const v = str();
      if (v === null) return null;
      out.push([k, v]);
    } else if (str() === null) return null; // STR and BIN share the 2-byte length layout
  }
  return p === stop ? out : null;
}

function varintLen(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVarint(buf: Buffer, off: number, n: number): number {
  do {
    let c = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) c |= 0x80;
    buf[off++] = c;
  } while (n > 0);
  return off;
}

/** Wire bytes of the pairs as User Property entries (0x26, name, value), in order. */
export function encodeUserProperties(up: UserProperties): Buffer {
  let n = 0;
  for (const [k, v] of up) n += 5 + Buffer.byteLength(k) + Buffer.byteLength(v);
  const buf = Buffer.allocUnsafe(n);
  let off = 0;
  for (const [k, v] of up) {
    buf[off++] = 0x26;
    const kl = buf.write(k, off + 2, 'utf8');
    buf.writeUInt16BE(kl, off);
    off += 2 + kl;
    const vl = buf.write(v, off + 2, 'utf8');
    buf.writeUInt16BE(vl, off);
    off += 2 + vl;
  }
  return buf;
}

/**
 * A v5 PUBLISH frame (as mqtt-packet generates it, without user properties) with the pairs appended
 * to its property list, lengths fixed up. The frame is returned as is when there is nothing to add
 * or it cannot be read.
 */
export function appendUserProperties(frame: Buffer, up: UserProperties): Buffer {
  if (up.length === 0) return frame;
  const [, bodyAt] = readVarint(frame, 1, frame.length);
  if (bodyAt + 2 > frame.length) return frame;
  const qos = (frame[0]! >> 1) & 3;
  const propsAt = bodyAt + 2 + frame.readUInt16BE(bodyAt) + (qos > 0 ? 2 : 0);
  const [plen, listAt] = readVarint(frame, propsAt, frame.length);
  if (plen < 0 || listAt + plen > frame.length) return frame;
  const extra = encodeUserProperties(up);
  const newPlen = plen + extra.length;
  const remaining = propsAt - bodyAt + varintLen(newPlen) + newPlen + (frame.length - listAt - plen);
  const out = Buffer.allocUnsafe(1 + varintLen(remaining) + remaining);
  out[0] = frame[0]!;
  let off = writeVarint(out, 1, remaining);
  off += frame.copy(out, off, bodyAt, propsAt);
  off = writeVarint(out, off, newPlen);
  off += frame.copy(out, off, listAt, listAt + plen);
  off += extra.copy(out, off);
  frame.copy(out, off, listAt + plen);
  return out;
}
