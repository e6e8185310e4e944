// application/vnd.oma.lwm2m+tlv (11542), OMA-TS-LightweightM2M 1.0 §6.4.3 (1.1 Core §7.4.3).
// Element: Type[1] Identifier[1|2] Length[0|1|2|3] Value. The TLV carries only the ids below the
// request path, so decoding and encoding both take that path (/O, /O/I, /O/I/R or /O/I/R/RI).

import type { Lwm2mResource, Lwm2mValue, PathIds, TypeLookup } from './model.js';
import { formatPath, parsePath } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';

export const TLV_CONTENT_FORMAT = 11542;

/** Type byte bits 7-6 (§6.4.3 Table 14). */
const OBJECT_INSTANCE = 0;
const RESOURCE_INSTANCE = 1;
const MULTIPLE_RESOURCE = 2;
const RESOURCE = 3;

interface Element {
  readonly type: number;
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

function readElements(buf: Buffer, start: number, end: number): Result<Element[]> {
  const out: Element[] = [];
  let i = start;
  while (i < end) {
    const t = buf[i]!;
    const idLen = t & 0x20 ? 2 : 1;
    const lenType = (t >> 3) & 3;
    const headerEnd = i + 1 + idLen + lenType;
    if (headerEnd > end) return lwm2mError('OUTPOST_ERR_LWM2M_TRUNCATED', `TLV header at offset ${i}`);
    const id = idLen === 2 ? buf.readUInt16BE(i + 1) : buf[i + 1]!;
    let len = t & 7;
    if (lenType !== 0) {
      len = buf.readUIntBE(i + 1 + idLen, lenType);
      // §6.4.3: bits 2-0 carry the length only when the length type is 00.
      if ((t & 7) !== 0) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `TLV type 0x${t.toString(16)} at offset ${i}`);
    }
    const valueEnd = headerEnd + len;
    if (valueEnd > end) return lwm2mError('OUTPOST_ERR_LWM2M_TRUNCATED', `TLV value at offset ${i} needs ${len} bytes`);
    out.push({ type: t >> 6, id, start: headerEnd, end: valueEnd });
    i = valueEnd;
  }
  return ok(out);
}

function signed(buf: Buffer, start: number, len: number): bigint | undefined {
  switch (len) {
    case 1:
      return BigInt(buf.readInt8(start));
    case 2:
      return BigInt(buf.readInt16BE(start));
    case 4:
      return BigInt(buf.readInt32BE(start));
    case 8:
      return buf.readBigInt64BE(start);
    default:
      return undefined;
  }
}

function decodeValue(buf: Buffer, el: Element, objectId: number, resourceId: number, types: TypeLookup): Result<Lwm2mValue> {
  const len = el.end - el.start;
  const bad = (what: string) => lwm2mError('OUTPOST_ERR_LWM2M_BAD_LENGTH', `${what} of ${len} bytes at /${objectId}/x/${resourceId}`);
  switch (types(objectId, resourceId)) {
    case 'String':
    case 'Corelnk':
      return ok({ kind: 'string', value: buf.toString('utf8', el.start, el.end) });
    case 'Integer': {
      const v = signed(buf, el.start, len);
      return v === undefined ? bad('Integer') : ok({ kind: 'integer', value: v });
    }
    case 'Time': {
      const v = signed(buf, el.start, len);
      return v === undefined ? bad('Time') : ok({ kind: 'time', value: v });
    }
    case 'UnsignedInteger': {
      // 1.1 Core §7.4.3: unsigned, 1, 2, 4 or 8 bytes; the 8-byte form may exceed int64, so it stays bigint.
      if (len !== 1 && len !== 2 && len !== 4 && len !== 8) return bad('UnsignedInteger');
      return ok({ kind: 'integer', value: BigInt('0x' + (buf.toString('hex', el.start, el.end) || '0')) });
    }
    case 'Float':
      if (len === 4) return ok({ kind: 'float', value: buf.readFloatBE(el.start) });
      if (len === 8) return ok({ kind: 'float', value: buf.readDoubleBE(el.start) });
      return bad('Float');
    case 'Boolean': {
      if (len !== 1) return bad('Boolean');
      const b = buf[el.start]!;
      if (b > 1) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `Boolean byte ${b}`);
      return ok({ kind: 'boolean', value: b === 1 });
    }
    case 'Objlnk':
      if (len !== 4) return bad('Objlnk');
      return ok({ kind: 'objlnk', objectId: buf.readUInt16BE(el.start), instanceId: buf.readUInt16BE(el.start + 2) });
    case 'Opaque':
      return ok({ kind: 'opaque', value: Buffer.from(buf.subarray(el.start, el.end)) });
    default:
      // Unknown object or resource (or type None): the bytes pass through untyped.
      return ok({ kind: 'raw', value: Buffer.from(buf.subarray(el.start, el.end)) });
  }
}

/** Resource-level elements (Resource or Multiple Resource) of instance /o/i. */
function decodeResources(buf: Buffer, els: readonly Element[], o: number, i: number, only: number | undefined, types: TypeLookup, out: Lwm2mResource[]): Result<null> {
  for (const el of els) {
    if (only !== undefined && el.id !== only) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_STRUCTURE', `resource ${el.id} in a read of resource ${only}`);
    if (el.type === RESOURCE) {
      const v = decodeValue(buf, el, o, el.id, types);
      if (v.kind === 'error') return v;
      out.push({ path: formatPath([o, i, el.id]), value: v.value });
    } else if (el.type === MULTIPLE_RESOURCE) {
      const inner = readElements(buf, el.start, el.end);
      if (inner.kind === 'error') return inner;
      for (const ri of inner.value) {
        if (ri.type !== RESOURCE_INSTANCE) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_STRUCTURE', `type ${ri.type} inside multiple resource ${el.id}`);
        const v = decodeValue(buf, ri, o, el.id, types);
        if (v.kind === 'error') return v;
        out.push({ path: formatPath([o, i, el.id, ri.id]), value: v.value });
      }
    } else {
      return lwm2mError('OUTPOST_ERR_LWM2M_BAD_STRUCTURE', `type ${el.type} where a resource belongs`);
    }
  }
  return ok(null);
}

export function decodeTlv(buf: Buffer, basePath: string, types: TypeLookup): Result<Lwm2mResource[]> {
  const base = parsePath(basePath);
  if (base === undefined || base.length === 0) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_PATH', `TLV base path ${basePath}`);
  const top = readElements(buf, 0, buf.length);
  if (top.kind === 'error') return top;
  const out: Lwm2mResource[] = [];
  const o = base[0]!;
  for (const el of top.value) {
    let r: Result<null>;
    if (el.type === OBJECT_INSTANCE) {
      if (base.length !== 1) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_STRUCTURE', `object instance under ${basePath}`);
      const inner = readElements(buf, el.start, el.end);
      if (inner.kind === 'error') return inner;
      r = decodeResources(buf, inner.value, o, el.id, undefined, types, out);
    } else if (el.type === RESOURCE_INSTANCE) {
      if (base.length < 3 || (base.length === 4 && base[3] !== el.id)) {
        return lwm2mError('OUTPOST_ERR_LWM2M_BAD_STRUCTURE', `resource instance ${el.id} under ${basePath}`);
      }
      const v = decodeValue(buf, el, o, base[2]!, types);
      if (v.kind === 'error') return v;
      out.push({ path: formatPath([o, base[1]!, base[2]!, el.id]), value: v.value });
      continue;
    } else {
      if (base.length < 2 || base.length > 3) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_STRUCTURE', `resource ${el.id} under ${basePath}`);
      r = decodeResources(buf, [el], o, base[1]!, base[2], types, out);
    }
    if (r.kind === 'error') return r;
  }
  return ok(out);
}

function header(type: number, id: number, len: number): Buffer {
  const idLen = id > 255 ? 2 : 1;
  const lenLen = len < 8 ? 0 : len < 0x100 ? 1 : len < 0x10000 ? 2 : 3;
  const h = Buffer.allocUnsafe(1 + idLen + lenLen);
  h[0] = (type << 6) | (idLen === 2 ? 0x20 : 0) | (lenLen << 3) | (lenLen === 0 ? len : 0);
  h.writeUIntBE(id, 1, idLen);
  if (lenLen > 0) h.writeUIntBE(len, 1 + idLen, lenLen);
  return h;
}

function element(type: number, id: number, value: Buffer): Buffer[] {
  return [header(type, id, value.length), value];
}

function integerBytes(v: bigint): Buffer {
  // Shortest of the 1, 2, 4 and 8 byte forms that holds the value (§6.4.3.x Integer).
  if (v >= -0x80n && v <= 0x7fn) return Buffer.from([Number(v) & 0xff]);
  const b = Buffer.allocUnsafe(v >= -0x8000n && v <= 0x7fffn ? 2 : v >= -0x80000000n && v <= 0x7fffffffn ? 4 : 8);
  if (b.length === 2) b.writeInt16BE(Number(v));
  else if (b.length === 4) b.writeInt32BE(Number(v));
  else if (v > 0x7fffffffffffffffn) b.writeBigUInt64BE(v);
  else b.writeBigInt64BE(v);
  return b;
}

export function tlvValueBytes(v: Lwm2mValue): Buffer {
  switch (v.kind) {
    case 'string':
      return Buffer.from(v.value, 'utf8');
    case 'integer':
    case 'time':
      return integerBytes(v.value);
    case 'float': {
      // 4 bytes when float32 holds the value exactly, else 8 (both allowed by §6.4.3).
      if (Object.is(Math.fround(v.value), v.value) || Number.isNaN(v.value)) {
        const b = Buffer.allocUnsafe(4);
        b.writeFloatBE(v.value);
        return b;
      }
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(v.value);
      return b;
    }
    case 'boolean':
      return Buffer.from([v.value ? 1 : 0]);
    case 'objlnk': {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt16BE(v.objectId, 0);
      b.writeUInt16BE(v.instanceId, 2);
      return b;
    }
    case 'opaque':
    case 'raw':
      return v.value;
  }
}

/** Groups the paths' next id in first-appearance order. */
function groupBy<T>(items: readonly T[], key: (t: T) => number): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const it of items) {
    const k = key(it);
    const g = m.get(k);
    if (g === undefined) m.set(k, [it]);
    else g.push(it);
  }
  return m;
}

interface Item {
  readonly ids: PathIds;
  readonly value: Lwm2mValue;
}

function resourceElements(items: readonly Item[], out: Buffer[]): Result<null> {
  for (const [rid, group] of groupBy(items, (it) => it.ids[2]!)) {
    if (group.length === 1 && group[0]!.ids.length === 3) {
      out.push(...element(RESOURCE, rid, tlvValueBytes(group[0]!.value)));
      continue;
    }
    const inner: Buffer[] = [];
    for (const it of group) {
      if (it.ids.length !== 4) return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `resource ${formatPath(it.ids)} is both single and multiple`);
      inner.push(...element(RESOURCE_INSTANCE, it.ids[3]!, tlvValueBytes(it.value)));
    }
    out.push(...element(MULTIPLE_RESOURCE, rid, Buffer.concat(inner)));
  }
  return ok(null);
}

/** Encodes resources for a request on `basePath` (the nesting follows the path depth, §6.4.3.1-3). */
export function encodeTlv(resources: readonly Lwm2mResource[], basePath: string): Result<Buffer> {
  const base = parsePath(basePath);
  if (base === undefined || base.length === 0) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_PATH', `TLV base path ${basePath}`);
  const items: Item[] = [];
  for (const r of resources) {
    const ids = parsePath(r.path);
    if (ids === undefined || ids.length < 3 || base.some((id, k) => ids[k] !== id)) {
      return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `${r.path} is not a resource under ${basePath}`);
    }
    items.push({ ids, value: r.value });
  }
  // §6.4.3: a length field has at most 24 bits; checked up front so header() never sees a longer value.
  let total = 0;
  for (const it of items) total += tlvValueBytes(it.value).length + 6;
  if (total > 0xffffff - 6) return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', 'TLV payload longer than 16 MiB');
  const out: Buffer[] = [];
  if (base.length === 4) {
    for (const it of items) out.push(...element(RESOURCE_INSTANCE, it.ids[3]!, tlvValueBytes(it.value)));
  } else if (base.length === 1) {
    for (const [iid, group] of groupBy(items, (it) => it.ids[1]!)) {
      const inner: Buffer[] = [];
      const r = resourceElements(group, inner);
      if (r.kind === 'error') return r;
      out.push(...element(OBJECT_INSTANCE, iid, Buffer.concat(inner)));
    }
  } else {
    if (base.length === 2 && new Set(items.map((it) => it.ids[1])).size > 1) {
      return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `several instances under ${basePath}`);
    }
    const r = resourceElements(items, out);
    if (r.kind === 'error') return r;
  }
  return ok(Buffer.concat(out));
}
