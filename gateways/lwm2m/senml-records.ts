// SenML records (RFC 8428) as LwM2M 1.1 uses them (Core §7.4.4-5), shared by SenML JSON, SenML CBOR
// and the older LwM2M JSON (1.0 §6.4.4, whose "e" entries map one to one onto records).

import type { Lwm2mResource, Lwm2mValue, TypeLookup } from './model.js';
import { formatPath, isResourcePath, joinName, parsePath } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import { base64Bytes, numberValue, objlnkValue, stringValue } from './values.js';

/** One record after the format-specific parse; base fields already resolved per RFC 8428 §4.5. */
export interface SenmlRecord {
  bn?: string;
  bt?: number;
  n?: string;
  t?: number;
  v?: number | bigint;
  vs?: string;
  vb?: boolean;
  /** Bytes (CBOR) or base64url text (JSON). */
  vd?: Buffer | string;
  /** LwM2M 1.1 objlnk, "obj:inst". */
  vlo?: string;
}

function recordValue(r: SenmlRecord, o: number, res: number, types: TypeLookup): Lwm2mValue | undefined {
  const type = types(o, res);
  let count = 0;
  let value: Lwm2mValue | undefined;
  if (r.v !== undefined) {
    count++;
    value = numberValue(r.v, type);
  }
  if (r.vs !== undefined) {
    count++;
    value = stringValue(r.vs, type);
  }
  if (r.vb !== undefined) {
    count++;
    value = { kind: 'boolean', value: r.vb };
  }
  if (r.vd !== undefined) {
    count++;
    const b = typeof r.vd === 'string' ? base64Bytes(r.vd) : r.vd;
    value = b === undefined ? undefined : { kind: 'opaque', value: b };
  }
  if (r.vlo !== undefined) {
    count++;
    value = objlnkValue(r.vlo);
  }
  // RFC 8428 §4.2: a record has at most one value field; a read answer has exactly one.
  return count === 1 ? value : undefined;
}

export function recordsToResources(records: readonly SenmlRecord[], types: TypeLookup): Result<Lwm2mResource[]> {
  let bn = '';
  let bt: number | undefined;
  const out: Lwm2mResource[] = [];
  for (let k = 0; k < records.length; k++) {
    const r = records[k]!;
    if (r.bn !== undefined) bn = r.bn;
    if (r.bt !== undefined) bt = r.bt;
    const path = joinName(bn, r.n ?? '');
    const ids = parsePath(path);
    if (!isResourcePath(ids)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_PATH', `record ${k} names ${JSON.stringify(path)}`);
    const value = recordValue(r, ids[0]!, ids[2]!, types);
    if (value === undefined) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `record ${k} (${path}) has no single valid value`);
    // RFC 8428 §4.5.3: a record's time is bt + t once a base time has been given, else t as is.
    const time = bt !== undefined ? bt + (r.t ?? 0) : r.t;
    out.push(time === undefined ? { path: formatPath(ids), value } : { path: formatPath(ids), value, time });
  }
  return ok(out);
}

/** The base name for resources under `basePath`: "/3/0/" for a read of /3/0, "/3/0/0" for /3/0/0. */
function baseName(resources: readonly Lwm2mResource[], basePath: string | undefined): string {
  const base = basePath === undefined ? undefined : parsePath(basePath);
  if (base === undefined || base.length === 0) return '';
  const bn = formatPath(base);
  if (resources.length === 1 && resources[0]!.path === bn) return bn;
  const prefix = bn + '/';
  return resources.every((r) => r.path.startsWith(prefix)) ? prefix : '';
}

export type RecordValue =
  | { readonly field: 'v'; readonly value: number | bigint }
  | { readonly field: 'vs'; readonly value: string }
  | { readonly field: 'vb'; readonly value: boolean }
  | { readonly field: 'vd'; readonly value: Buffer }
  | { readonly field: 'vlo'; readonly value: string };

export interface OutRecord {
  readonly bn?: string;
  readonly n: string;
  readonly t?: number;
  readonly value: RecordValue;
}

export function valueField(v: Lwm2mValue): RecordValue {
  switch (v.kind) {
    case 'string':
      return { field: 'vs', value: v.value };
    case 'integer':
    case 'time':
      return { field: 'v', value: v.value >= BigInt(Number.MIN_SAFE_INTEGER) && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : v.value };
    case 'float':
      return { field: 'v', value: v.value };
    case 'boolean':
      return { field: 'vb', value: v.value };
    case 'opaque':
    case 'raw':
      return { field: 'vd', value: v.value };
    case 'objlnk':
      return { field: 'vlo', value: `${v.objectId}:${v.instanceId}` };
  }
}

/** Records for `resources`, the first carrying the base name; names are relative to it. */
export function resourcesToRecords(resources: readonly Lwm2mResource[], basePath: string | undefined): OutRecord[] {
  const bn = baseName(resources, basePath);
  return resources.map((r, k) => {
    const rec: { bn?: string; n: string; t?: number; value: RecordValue } = { n: r.path.slice(bn.length), value: valueField(r.value) };
    if (k === 0 && bn !== '') rec.bn = bn;
    if (r.time !== undefined) rec.t = r.time;
    return rec;
  });
}

/** A JSON number literal; bigint keeps all its digits (JSON.stringify cannot write one). */
export function jsonNumber(v: number | bigint): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) return undefined;
  return Object.is(v, -0) ? '-0' : JSON.stringify(v);
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses JSON without throwing. */
export function parseJson(buf: Buffer): Result<unknown> {
  try {
    return ok(JSON.parse(buf.toString('utf8')) as unknown);
  } catch (e) {
    return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `JSON: ${(e as Error).message}`);
  }
}
