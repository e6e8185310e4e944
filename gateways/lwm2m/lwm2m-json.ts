// application/vnd.oma.lwm2m+json (11543), the LwM2M 1.0 JSON format (OMA-TS-LightweightM2M 1.0 §6.4.4):
// {"bn":"/3/0/","bt":..,"e":[{"n":"0","sv":"..."},{"n":"9","v":100},{"n":"..","bv":true},{"n":"..","ov":"3:0"}]}.
// Opaque values travel as base64 in "sv" (§6.4.4 Table 21).

import type { Lwm2mResource, TypeLookup } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import type { SenmlRecord } from './senml-records.js';
import { isObject, jsonNumber, parseJson, recordsToResources, resourcesToRecords } from './senml-records.js';

export const LWM2M_JSON_CONTENT_FORMAT = 11543;

export function decodeLwm2mJson(buf: Buffer, types: TypeLookup): Result<Lwm2mResource[]> {
  const parsed = parseJson(buf);
  if (parsed.kind === 'error') return parsed;
  const doc = parsed.value;
  if (!isObject(doc) || !Array.isArray(doc.e)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', 'LwM2M JSON needs an object with an "e" array');
  if (doc.bn !== undefined && typeof doc.bn !== 'string') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', '"bn" is not a string');
  if (doc.bt !== undefined && typeof doc.bt !== 'number') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', '"bt" is not a number');
  const records: SenmlRecord[] = [];
  for (let k = 0; k < doc.e.length; k++) {
    const e: unknown = doc.e[k];
    if (!isObject(e)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `e[${k}] is not an object`);
    const rec: SenmlRecord = {};
    if (k === 0) {
      if (doc.bn !== undefined) rec.bn = doc.bn;
      if (doc.bt !== undefined) rec.bt = doc.bt;
    }
    if (e.n !== undefined) {
      if (typeof e.n !== 'string') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `e[${k}].n is not a string`);
      rec.n = e.n;
    }
    if (e.t !== undefined) {
      if (typeof e.t !== 'number') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `e[${k}].t is not a number`);
      rec.t = e.t;
    }
    if (e.v !== undefined) {
      if (typeof e.v !== 'number') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `e[${k}].v is not a number`);
      rec.v = e.v;
    }
    if (e.sv !== undefined) {
      if (typeof e.sv !== 'string') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `e[${k}].sv is not a string`);
      rec.vs = e.sv;
    }
    if (e.bv !== undefined) {
      if (typeof e.bv !== 'boolean') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `e[${k}].bv is not a boolean`);
      rec.vb = e.bv;
    }
    if (e.ov !== undefined) {
      if (typeof e.ov !== 'string') return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `e[${k}].ov is not a string`);
      rec.vlo = e.ov;
    }
    records.push(rec);
  }
  return recordsToResources(records, types);
}

export function encodeLwm2mJson(resources: readonly Lwm2mResource[], basePath?: string): Result<Buffer> {
  const records = resourcesToRecords(resources, basePath);
  const bn = records[0]?.bn;
  const entries: string[] = [];
  for (const r of records) {
    let s = r.n === '' ? '{' : `{"n":${JSON.stringify(r.n)},`;
    const f = r.value;
    if (f.field === 'v') {
      const num = jsonNumber(f.value);
      if (num === undefined) return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `${r.n}: JSON has no NaN or Infinity`);
      s += `"v":${num}`;
    } else if (f.field === 'vs') s += `"sv":${JSON.stringify(f.value)}`;
    else if (f.field === 'vb') s += `"bv":${f.value}`;
    else if (f.field === 'vd') s += `"sv":${JSON.stringify(f.value.toString('base64'))}`;
    else s += `"ov":${JSON.stringify(f.value)}`;
    if (r.t !== undefined) s += `,"t":${jsonNumber(r.t) ?? 0}`;
    entries.push(s + '}');
  }
  const head = bn === undefined ? '{' : `{"bn":${JSON.stringify(bn)},`;
  return ok(Buffer.from(`${head}"e":[${entries.join(',')}]}`, 'utf8'));
}
