// text/plain (0) and opaque (42): one value of one resource or resource instance (LwM2M 1.0 §6.4.1-2).

import type { Lwm2mResource, TypeLookup } from './model.js';
import { formatPath, isResourcePath, parsePath } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import { textValue, valueText } from './values.js';

export const TEXT_CONTENT_FORMAT = 0;
export const OPAQUE_CONTENT_FORMAT = 42;

export function decodeText(buf: Buffer, path: string, types: TypeLookup): Result<Lwm2mResource[]> {
  const ids = parsePath(path);
  if (!isResourcePath(ids)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_PATH', `text/plain needs a resource path, got ${path}`);
  const text = buf.toString('utf8');
  const value = textValue(text, types(ids[0]!, ids[2]!));
  if (value === undefined) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_VALUE', `text/plain value at ${path}`);
  return ok([{ path: formatPath(ids), value }]);
}

export function encodeText(resources: readonly Lwm2mResource[]): Result<Buffer> {
  if (resources.length !== 1) return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', `text/plain holds one value, got ${resources.length}`);
  return ok(Buffer.from(valueText(resources[0]!.value), 'utf8'));
}

export function decodeOpaque(buf: Buffer, path: string): Result<Lwm2mResource[]> {
  const ids = parsePath(path);
  if (!isResourcePath(ids)) return lwm2mError('OUTPOST_ERR_LWM2M_BAD_PATH', `opaque needs a resource path, got ${path}`);
  return ok([{ path: formatPath(ids), value: { kind: 'opaque', value: Buffer.from(buf) } }]);
}

export function encodeOpaque(resources: readonly Lwm2mResource[]): Result<Buffer> {
  const v = resources.length === 1 ? resources[0]!.value : undefined;
  if (v === undefined || (v.kind !== 'opaque' && v.kind !== 'raw')) {
    return lwm2mError('OUTPOST_ERR_LWM2M_NOT_ENCODABLE', 'opaque holds one Opaque value');
  }
  return ok(v.value);
}
