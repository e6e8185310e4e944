// application/senml+json (110), RFC 8428 §4 as profiled by LwM2M 1.1 Core §7.4.4: an array of records
// with bn/bt/n/t and one of v, vs, vb, vd (base64url, §4.3 of RFC 8428) or vlo (LwM2M objlnk).

import type { Lwm2mResource, TypeLookup } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import type { SenmlRecord } from './senml-records.js';
import { isObject, jsonNumber, parseJson, recordsToResources, resourcesToRecords } from './senml-records.js';

export const SENML_JSON_CONTENT_FORMAT = 110;

const FIELD_TYPES: Readonly<Record<string, 'string' | 'number' | 'boolean'>> = {
  bn: 'string',
  bt: 'number',
  n: 'string',
  t: 'number',
  v: 'number',
  vs: 'string',
  vb: 'boolean',
  vd: 'string',
  vlo: 'string',
};

export function decodeSenmlJson(buf: Buffer, types: TypeLookup): Result<Lwm2mResource[]> {
  const parsed = parseJson(buf);
  if (parsed.kind === 'error') return parsed;
  const doc = parsed.value;
  if (!Array.isArray(doc)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', 'SenML JSON is an array of records');
  const records: SenmlRecord[] = [];
  for (let k = 0; k < doc.length; k++) {
    const r: unknown = doc[k];
    if (!isObject(r)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `record ${k} is not an object`);
    const rec: Record<string, unknown> = {};
    for (const key of Object.keys(FIELD_TYPES)) {
      const x = r[key];
      if (x === undefined) continue;
      if (typeof x !== FIELD_TYPES[key]) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `record ${k}: "${key}" is not a ${FIELD_TYPES[key]}`);
      rec[key] = x;
    }
    records.push(rec as SenmlRecord);
  }
  return recordsToResources(records, types);
}

export function encodeSenmlJson(resources: readonly Lwm2mResource[], basePath?: string): Result<Buffer> {
  const out: string[] = [];
  for (const r of resourcesToRecords(resources, basePath)) {
    const parts: string[] = [];
    if (r.bn !== undefined) parts.push(`"bn":${JSON.stringify(r.bn)}`);
    if (r.n !== '') parts.push(`"n":${JSON.stringify(r.n)}`);
    const f = r.value;
    if (f.field === 'v') {
      const num = jsonNumber(f.value);
      if (num === undefined) return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `${r.n}: JSON has no NaN or Infinity`);
      parts.push(`"v":${num}`);
    } else if (f.field === 'vd') parts.push(`"vd":${JSON.stringify(f.value.toString('base64url'))}`);
    else parts.push(`"${f.field}":${JSON.stringify(f.value)}`);
    if (r.t !== undefined) parts.push(`"t":${jsonNumber(r.t) ?? 0}`);
    out.push(`{${parts.join(',')}}`);
  }
  return ok(Buffer.from(`[${out.join(',')}]`, 'utf8'));
}
