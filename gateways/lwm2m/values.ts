// Typed values from the self-describing formats (LwM2M JSON, SenML, text/plain): the object model's
// type wins when it is known; an unknown resource keeps the kind its encoding implies.

import type { Lwm2mValue, ResourceType } from './model.js';
import { INT64_MAX, INT64_MIN } from './model.js';

const INTEGER_TEXT = /^[+-]?\d{1,20}$/;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const OBJLNK_TEXT = /^(\d{1,5}):(\d{1,5})$/;
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

function int64(v: bigint): bigint | undefined {
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** A JSON/SenML/CBOR number ("v") as the value of a resource of type `type`. */
export function numberValue(n: number | bigint, type: ResourceType | undefined): Lwm2mValue | undefined {
  if (typeof n === 'bigint') {
    if (type === 'Float') return { kind: 'float', value: Number(n) };
    const v = int64(n);
    if (v === undefined) return undefined;
    return { kind: type === 'Time' ? 'time' : 'integer', value: v };
  }
  if (type === 'Float') return { kind: 'float', value: n };
  if (type === 'Integer' || type === 'UnsignedInteger' || type === 'Time') {
    if (!Number.isInteger(n)) return undefined;
    return { kind: type === 'Time' ? 'time' : 'integer', value: BigInt(n) };
  }
  // Unknown resource: an integral number is an integer, anything else a float.
  return Number.isSafeInteger(n) ? { kind: 'integer', value: BigInt(n) } : { kind: 'float', value: n };
}

/** An objlnk as text "obj:inst" (LwM2M 1.0 JSON "ov", SenML "vlo", text/plain). */
export function objlnkValue(s: string): Lwm2mValue | undefined {
  const m = OBJLNK_TEXT.exec(s);
  if (m === null) return undefined;
  const objectId = Number(m[1]);
  const instanceId = Number(m[2]);
  if (objectId > 65535 || instanceId > 65535) return undefined;
  return { kind: 'objlnk', objectId, instanceId };
}

/** Base64 or base64url, padding optional (SenML "vd" is base64url, RFC 8428 §4.3; LwM2M JSON uses base64). */
export function base64Bytes(s: string): Buffer | undefined {
  if (!BASE64_TEXT.test(s) || s.length % 4 === 1) return undefined;
  return Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
}

/** A string value ("sv"/"vs") as the value of `type`: Opaque is base64, Corelnk and String stay text. */
export function stringValue(s: string, type: ResourceType | undefined): Lwm2mValue | undefined {
  if (type === 'Opaque') {
    const b = base64Bytes(s);
    return b === undefined ? undefined : { kind: 'opaque', value: b };
  }
  return { kind: 'string', value: s };
}

/** text/plain (LwM2M 1.1 Core §7.3.1): decimal numbers, "0"/"1" booleans, "obj:inst", base64 opaque. */
export function textValue(s: string, type: ResourceType | undefined): Lwm2mValue | undefined {
  switch (type) {
    case 'Integer':
    case 'UnsignedInteger':
    case 'Time': {
      if (!INTEGER_TEXT.test(s)) return undefined;
      const v = int64(BigInt(s));
      if (v === undefined || (type === 'UnsignedInteger' && v < 0n)) return undefined;
      return { kind: type === 'Time' ? 'time' : 'integer', value: v };
    }
    case 'Float':
      return FLOAT_TEXT.test(s) ? { kind: 'float', value: Number(s) } : undefined;
    case 'Boolean':
      // 1.0 §6.4.1 says "0"/"1"; some clients (and EMQX's write path) use "false"/"true".
      if (s === '1' || s === 'true') return { kind: 'boolean', value: true };
      if (s === '0' || s === 'false') return { kind: 'boolean', value: false };
      return undefined;
    case 'Objlnk':
      return objlnkValue(s);
    case 'Opaque':
      return stringValue(s, 'Opaque');
    default:
      return { kind: 'string', value: s };
  }
}

/** The text/plain form of a value, also used for EMQX's string-typed JSON fields. */
export function valueText(v: Lwm2mValue): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'integer':
    case 'time':
      return v.value.toString();
    case 'float':
      // String(-0) is "0"; keep the sign so the value reads back as written.
      return Object.is(v.value, -0) ? '-0' : String(v.value);
    case 'boolean':
      return v.value ? '1' : '0';
    case 'objlnk':
      return `${v.objectId}:${v.instanceId}`;
    case 'opaque':
    case 'raw':
      return v.value.toString('base64');
  }
}
