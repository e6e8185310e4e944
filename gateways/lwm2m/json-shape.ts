// The JSON EMQX 5 publishes and accepts on the MQTT side of its LwM2M gateway, mapped to and from the
// resource model (spec lwm2m-gateway.md B.4-B.5). Pure: no topics, no I/O, no clock.
// Where EMQX 5.8.9's emqx_lwm2m_message.erl is not spec-correct on the device side, the codecs follow
// the spec and the JSON stays EMQX's: TLV Time is read signed (EMQX: unsigned); positive integers are
// written in the shortest *signed* form (EMQX writes 128 as one byte, which a device reads as -128);
// a 3-level basePath write always carries the Multiple Resource wrapper (EMQX sends a single resource
// when the batch has one item); LwM2M JSON "t" is a timestamp, never the value (EMQX reports it as value).

import { codeName, formatCode } from '../codecs/coap/codes.js';
import type { Lwm2mResource, Lwm2mValue } from './model.js';
import { formatPath, isResourcePath, joinName, parsePath } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import type { Link, RegistrationLinks } from './link-format.js';
import { formatLink } from './link-format.js';
import { base64Bytes, objlnkValue, textValue } from './values.js';
import { isObject } from './senml-records.js';

export type EmqxValue = string | number | boolean;

export interface EmqxContentItem {
  readonly path: string;
  readonly value: EmqxValue;
}

/**
 * B.4 "Value typing in content": String -> string, Integer/Time/Float -> number, Boolean -> true/false,
 * Opaque -> base64, Objlnk -> "obj:inst". An integer beyond 2^53 becomes a decimal string (a JS number
 * would silently round it); NaN and the infinities, which JSON cannot carry, become strings too.
 * An untyped ('raw') value has no EMQX form (EMQX answers 4.00); we pass it through as base64.
 */
export function toEmqxValue(v: Lwm2mValue): EmqxValue {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'integer':
    case 'time':
      return v.value >= BigInt(Number.MIN_SAFE_INTEGER) && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : v.value.toString();
    case 'float':
      return Number.isFinite(v.value) ? v.value : String(v.value);
    case 'boolean':
      return v.value;
    case 'objlnk':
      return `${v.objectId}:${v.instanceId}`;
    case 'opaque':
    case 'raw':
      return v.value.toString('base64');
  }
}

/** The `content` array of a read/observe/notify answer: `[{"path":"/3/0/0","value":"ACME"}, ...]`. */
export function toEmqxContent(resources: readonly Lwm2mResource[]): EmqxContentItem[] {
  return resources.map((r) => ({ path: r.path, value: toEmqxValue(r.value) }));
}

/** The `content` of a discover answer: one link string per link (example C.4). */
export function toEmqxDiscoverContent(links: readonly Link[]): string[] {
  return links.map(formatLink);
}

/** "2.05" from a CoAP code byte (class in bits 7-5, detail in 4-0). */
export const coapCodeText = formatCode;

/** CoAP response code -> EMQX `codeMsg`. */
export function codeMsg(code: string): string {
  return codeName(code) ?? 'unknown';
}

export interface EmqxResponseData {
  readonly reqPath: string;
  readonly code: string;
  readonly codeMsg: string;
  readonly content?: readonly EmqxContentItem[] | readonly string[];
}

/** `data` of a response event (B.4): reqPath without its query, code, codeMsg and, when given, content. */
export function responseData(reqPath: string, code: string, content?: readonly EmqxContentItem[] | readonly string[]): EmqxResponseData {
  const q = reqPath.indexOf('?');
  const path = q < 0 ? reqPath : reqPath.slice(0, q);
  return content === undefined ? { reqPath: path, code, codeMsg: codeMsg(code) } : { reqPath: path, code, codeMsg: codeMsg(code), content };
}

export type EmqxValueType = 'String' | 'Integer' | 'Float' | 'Boolean' | 'Opaque' | 'Time' | 'Objlnk';

function bad(detail: string) {
  return lwm2mError('OUTPOST_ERR_LWM2M_BAD_COMMAND', detail);
}

/**
 * A write/create value as EMQX takes it (B.5): numbers may be JSON numbers or numeric strings,
 * Boolean is "true"/"false", Opaque is base64 (or hex with 6.x's `"encoding":"hex"`), Objlnk "3:0".
 */
export function fromEmqxValue(type: unknown, value: unknown, encoding: 'base64' | 'hex' = 'base64'): Result<Lwm2mValue> {
  const str = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (str === undefined) return bad(`value ${JSON.stringify(value)} is not a string, number or boolean`);
  let v: Lwm2mValue | undefined;
  switch (type) {
    case 'String':
      v = { kind: 'string', value: str };
      break;
    case 'Integer':
    case 'Time':
      v = textValue(str.trim(), type);
      break;
    case 'Float':
      v = textValue(str.trim(), 'Float');
      break;
    case 'Boolean':
      v = textValue(str, 'Boolean');
      break;
    case 'Opaque': {
      const b = encoding === 'hex' ? (/^([0-9a-fA-F]{2})*$/.test(str) ? Buffer.from(str, 'hex') : undefined) : base64Bytes(str);
      v = b === undefined ? undefined : { kind: 'opaque', value: b };
      break;
    }
    case 'Objlnk':
      v = objlnkValue(str);
      break;
    default:
      return bad(`type ${JSON.stringify(type)}`);
  }
  return v === undefined ? bad(`${JSON.stringify(value)} is not a valid ${String(type)}`) : ok(v);
}

export interface WriteRequest {
  /** Path the CoAP request goes to (B.5: `path`, or `basePath` for batch write and create). */
  readonly basePath: string;
  readonly resources: Lwm2mResource[];
}

function item(base: string, x: unknown, encoding: 'base64' | 'hex'): Result<Lwm2mResource> {
  if (!isObject(x) || typeof x.path !== 'string') return bad('a content item needs a string "path"');
  const path = base === '' ? x.path : joinName(base, x.path);
  const ids = parsePath(path);
  if (!isResourcePath(ids)) return bad(`path ${JSON.stringify(path)} is not a resource`);
  const v = fromEmqxValue(x.type, x.value, encoding);
  return v.kind === 'error' ? v : ok({ path: formatPath(ids), value: v.value });
}

/**
 * The resources of a `write` or `create` command's `data`: single `{path,type,value}` or batch
 * `{basePath, content:[{path,type,value}]}` whose item paths are relative to basePath ("13" under
 * /3/0, "0/1" under /31024 for create, instance ids under a 3-level basePath).
 */
export function writeCommandResources(data: unknown, encoding: 'base64' | 'hex' = 'base64'): Result<WriteRequest> {
  if (!isObject(data)) return bad('"data" is not an object');
  if (typeof data.basePath === 'string') {
    const base = parsePath(data.basePath);
    if (base === undefined || base.length === 0) return bad(`basePath ${JSON.stringify(data.basePath)}`);
    if (!Array.isArray(data.content) || data.content.length === 0) return bad('"content" is not a non-empty array');
    const resources: Lwm2mResource[] = [];
    for (const x of data.content) {
      const r = item(formatPath(base), x, encoding);
      if (r.kind === 'error') return r;
      resources.push(r.value);
    }
    return ok({ basePath: formatPath(base), resources });
  }
  const r = item('', data, encoding);
  return r.kind === 'error' ? r : ok({ basePath: r.value.path, resources: [r.value] });
}

export type RegistrationEventData = Record<string, string | number | string[]>;

/**
 * `data` of an up/register or up/update event (B.4): every query parameter as a string, `lt` as an
 * integer, plus `alternatePath` and `objectList` when the payload had links. Parameters in `redact`
 * (by default EMQX's `password` extension) are left out: secrets never reach MQTT (issue 17).
 */
export function registrationEventData(
  query: Readonly<Record<string, string>>,
  links: RegistrationLinks | undefined,
  redact: readonly string[] = ['password'],
): RegistrationEventData {
  const out: RegistrationEventData = {};
  for (const [k, v] of Object.entries(query)) {
    if (redact.includes(k)) continue;
    out[k] = k === 'lt' && /^\d+$/.test(v) ? Number(v) : v;
  }
  if (links !== undefined) {
    out.alternatePath = links.alternatePath;
    out.objectList = links.objects.map((o) => o.path);
  }
  return out;
}
