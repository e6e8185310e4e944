// application/senml+cbor (112), RFC 8428 §6: the SenML records as CBOR maps with integer labels
// (Table 4: bn -2, bt -3, n 0, v 2, vs 3, vb 4, t 6, vd 8); LwM2M 1.1 Core §7.4.5 adds "vlo" as a text label.

import { Decoder, Encoder } from 'cbor-x';
import type { Lwm2mResource, TypeLookup } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import type { SenmlRecord } from './senml-records.js';
import { recordsToResources, resourcesToRecords } from './senml-records.js';

export const SENML_CBOR_CONTENT_FORMAT = 112;

// Maps stay Maps so integer labels survive (cbor-x returns 64-bit integers as bigint by default).
// Records and byte-string tagging are cbor-x extensions a SenML peer would not understand.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false });

const LABELS: ReadonlyMap<number | string, keyof SenmlRecord> = new Map<number | string, keyof SenmlRecord>([
  [-2, 'bn'],
  [-3, 'bt'],
  [0, 'n'],
  [2, 'v'],
  [3, 'vs'],
  [4, 'vb'],
  [6, 't'],
  [8, 'vd'],
  ['vlo', 'vlo'],
]);

function fieldOk(field: keyof SenmlRecord, x: unknown): boolean {
  switch (field) {
    case 'bn':
    case 'n':
    case 'vs':
    case 'vlo':
      return typeof x === 'string';
    case 'bt':
    case 't':
      return typeof x === 'number';
    case 'v':
      return typeof x === 'number' || typeof x === 'bigint';
    case 'vb':
      return typeof x === 'boolean';
    case 'vd':
      return x instanceof Uint8Array;
  }
}

export function decodeSenmlCbor(buf: Buffer, types: TypeLookup): Result<Lwm2mResource[]> {
  let doc: unknown;
  try {
    // cbor-x throws on malformed input (the codec contract is an error value instead) and caches a
    // `dataView` property on the object it reads, so it gets a fresh view, never the caller's Buffer.
    doc = decoder.decode(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
  } catch (e) {
    return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `CBOR: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', 'SenML CBOR is an array of records');
  const records: SenmlRecord[] = [];
  for (let k = 0; k < doc.length; k++) {
    const m: unknown = doc[k];
    if (!(m instanceof Map)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `record ${k} is not a map`);
    const rec: Record<string, unknown> = {};
    for (const [label, x] of m as Map<unknown, unknown>) {
      const field = typeof label === 'number' || typeof label === 'string' ? LABELS.get(label) : undefined;
      if (field === undefined) continue;
      if (!fieldOk(field, x)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_SYNTAX', `record ${k}: label ${String(label)} has the wrong type`);
      rec[field] = field === 'vd' ? Buffer.from(x as Uint8Array) : x;
    }
    records.push(rec as SenmlRecord);
  }
  return recordsToResources(records, types);
}

const VALUE_LABEL = { v: 2, vs: 3, vb: 4, vd: 8, vlo: 'vlo' } as const;

export function encodeSenmlCbor(resources: readonly Lwm2mResource[], basePath?: string): Result<Buffer> {
  const maps = resourcesToRecords(resources, basePath).map((r) => {
    const m = new Map<number | string, unknown>();
    if (r.bn !== undefined) m.set(-2, r.bn);
    if (r.n !== '') m.set(0, r.n);
    m.set(VALUE_LABEL[r.value.field], r.value.value);
    if (r.t !== undefined) m.set(6, r.t);
    return m;
  });
  try {
    return ok(Buffer.from(encoder.encode(maps)));
  } catch (e) {
    return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `CBOR: ${(e as Error).message}`);
  }
}
