// The one internal model every LwM2M content format decodes to and encodes from: a flat list of
// resources, each a path (/O/I/R or /O/I/R/RI for a multi-instance resource) and a typed value.
// Types come from the object model (object-registry.ts); an unknown resource keeps its bytes ('raw').

/** Resource data types of OMA-TS-LightweightM2M_Core 1.1 §C (Appendix C, "Data Types"). */
export type ResourceType =
  | 'String'
  | 'Integer'
  | 'UnsignedInteger'
  | 'Float'
  | 'Boolean'
  | 'Opaque'
  | 'Time'
  | 'Objlnk'
  | 'Corelnk'
  | 'None';

export type Lwm2mValue =
  | { readonly kind: 'string'; readonly value: string }
  /** Integer and UnsignedInteger: 64-bit on the wire (TLV 8-byte form), hence bigint. */
  | { readonly kind: 'integer'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'opaque'; readonly value: Buffer }
  /** Seconds since the Unix epoch, signed (LwM2M Time). */
  | { readonly kind: 'time'; readonly value: bigint }
  | { readonly kind: 'objlnk'; readonly objectId: number; readonly instanceId: number }
  /** Bytes of a resource whose type is unknown (no object definition): passed through, never an error. */
  | { readonly kind: 'raw'; readonly value: Buffer };

export interface Lwm2mResource {
  /** "/3/0/0" or "/3/0/7/1". */
  readonly path: string;
  readonly value: Lwm2mValue;
  /** Absolute time in seconds (JSON bt+t, SenML bt+t) when the device stamped the value. */
  readonly time?: number;
}

/** Ids of a path: 1 to 4 numbers (object, instance, resource, resource instance), each 0..65535. */
export type PathIds = readonly number[];

const MAX_ID = 65535;

/** Parses "/3/0/7/1" (leading slash optional, trailing slash allowed); undefined when not an LwM2M path. */
export function parsePath(path: string): PathIds | undefined {
  const ids: number[] = [];
  let i = path.charCodeAt(0) === 47 ? 1 : 0;
  const end = path.length > i && path.charCodeAt(path.length - 1) === 47 ? path.length - 1 : path.length;
  if (i >= end) return path === '/' ? ids : undefined;
  let cur = -1;
  for (; i <= end; i++) {
    const c = i === end ? 47 : path.charCodeAt(i);
    if (c === 47) {
      if (cur < 0 || ids.length === 4) return undefined;
      ids.push(cur);
      cur = -1;
    } else if (c >= 48 && c <= 57) {
      cur = cur < 0 ? c - 48 : cur * 10 + (c - 48);
      if (cur > MAX_ID) return undefined;
    } else {
      return undefined;
    }
  }
  return ids;
}

export function formatPath(ids: PathIds): string {
  return ids.length === 0 ? '/' : '/' + ids.join('/');
}

/** A resource path has 3 (single value) or 4 (resource instance) ids. */
export function isResourcePath(ids: PathIds | undefined): ids is PathIds {
  return ids !== undefined && (ids.length === 3 || ids.length === 4);
}

/** Type lookup for /O/I/R[/RI]: undefined when the object or resource has no definition. */
export type TypeLookup = (objectId: number, resourceId: number) => ResourceType | undefined;

export const noTypes: TypeLookup = () => undefined;

/** Value equality; 'raw' and 'opaque' are both just bytes, so the same bytes are the same value. */
export function sameValue(a: Lwm2mValue, b: Lwm2mValue): boolean {
  if ((a.kind === 'opaque' || a.kind === 'raw') && (b.kind === 'opaque' || b.kind === 'raw')) return a.value.equals(b.value);
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'objlnk':
      return b.kind === 'objlnk' && a.objectId === b.objectId && a.instanceId === b.instanceId;
    case 'float':
      return b.kind === 'float' && Object.is(a.value, b.value);
    default:
      return a.value === (b as { value: unknown }).value;
  }
}

/** Joins a base name and a name the way LwM2M JSON and SenML do (bn "/3/0/" + n "1"), tolerating a missing slash. */
export function joinName(bn: string, n: string): string {
  if (bn === '' || n === '') return bn + n;
  const slashEnd = bn.charCodeAt(bn.length - 1) === 47;
  const slashStart = n.charCodeAt(0) === 47;
  if (slashEnd && slashStart) return bn + n.slice(1);
  return slashEnd || slashStart ? bn + n : bn + '/' + n;
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
