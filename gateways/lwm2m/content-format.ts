// One entry point over the LwM2M value formats: decode a payload of any supported Content-Format to
// the resource list, and encode a resource list in the format a device asked for.

import type { Lwm2mResource, TypeLookup } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError } from './errors.js';
import { decodeOpaque, decodeText, encodeOpaque, encodeText, OPAQUE_CONTENT_FORMAT, TEXT_CONTENT_FORMAT } from './text-plain.js';
import { decodeTlv, encodeTlv, TLV_CONTENT_FORMAT } from './tlv.js';
import { decodeLwm2mJson, encodeLwm2mJson, LWM2M_JSON_CONTENT_FORMAT } from './lwm2m-json.js';
import { decodeSenmlJson, encodeSenmlJson, SENML_JSON_CONTENT_FORMAT } from './senml-json.js';
import { decodeSenmlCbor, encodeSenmlCbor, SENML_CBOR_CONTENT_FORMAT } from './senml-cbor.js';

/** Value formats this gateway reads and writes (link-format, 40, is separate: see link-format.ts). */
export const VALUE_CONTENT_FORMATS = [
  TEXT_CONTENT_FORMAT,
  OPAQUE_CONTENT_FORMAT,
  TLV_CONTENT_FORMAT,
  LWM2M_JSON_CONTENT_FORMAT,
  SENML_JSON_CONTENT_FORMAT,
  SENML_CBOR_CONTENT_FORMAT,
] as const;

export type ValueContentFormat = (typeof VALUE_CONTENT_FORMATS)[number];

export function isValueContentFormat(cf: number): cf is ValueContentFormat {
  return (VALUE_CONTENT_FORMATS as readonly number[]).includes(cf);
}

/** `path` is the request path: TLV, text and opaque carry no ids above it. */
export function decodeContent(cf: number, buf: Buffer, path: string, types: TypeLookup): Result<Lwm2mResource[]> {
  switch (cf) {
    case TEXT_CONTENT_FORMAT:
      return decodeText(buf, path, types);
    case OPAQUE_CONTENT_FORMAT:
      return decodeOpaque(buf, path);
    case TLV_CONTENT_FORMAT:
      return decodeTlv(buf, path, types);
    case LWM2M_JSON_CONTENT_FORMAT:
      return decodeLwm2mJson(buf, types);
    case SENML_JSON_CONTENT_FORMAT:
      return decodeSenmlJson(buf, types);
    case SENML_CBOR_CONTENT_FORMAT:
      return decodeSenmlCbor(buf, types);
    default:
      return lwm2mError('OUTPOST_ERR_LWM2M_UNSUPPORTED_FORMAT', `content format ${cf}`);
  }
}

export function encodeContent(cf: number, resources: readonly Lwm2mResource[], path: string): Result<Buffer> {
  switch (cf) {
    case TEXT_CONTENT_FORMAT:
      return encodeText(resources);
    case OPAQUE_CONTENT_FORMAT:
      return encodeOpaque(resources);
    case TLV_CONTENT_FORMAT:
      return encodeTlv(resources, path);
    case LWM2M_JSON_CONTENT_FORMAT:
      return encodeLwm2mJson(resources, path);
    case SENML_JSON_CONTENT_FORMAT:
      return encodeSenmlJson(resources, path);
    case SENML_CBOR_CONTENT_FORMAT:
      return encodeSenmlCbor(resources, path);
    default:
      return lwm2mError('OUTPOST_ERR_LWM2M_UNSUPPORTED_FORMAT', `content format ${cf}`);
  }
}
