// Stable error codes of the LwM2M content-format codecs and object loader. Codecs return these as
// values ({kind:'error', code, detail}); callers branch on `code`, never on `detail`.

export const LWM2M_CODEC_ERRORS = {
  OUTPOST_ERR_LWM2M_TRUNCATED: 'input ends inside an element',
  OUTPOST_ERR_LWM2M_BAD_LENGTH: 'a value has a length its type does not allow',
  OUTPOST_ERR_LWM2M_BAD_VALUE: 'a value does not parse as its type',
  OUTPOST_ERR_LWM2M_BAD_PATH: 'a path is not /O[/I[/R[/RI]]] with ids 0..65535',
  OUTPOST_ERR_LWM2M_BAD_STRUCTURE: 'elements are nested in a way the format does not allow',
  OUTPOST_ERR_LWM2M_BAD_SYNTAX: 'the payload is not well-formed for its format',
  OUTPOST_ERR_LWM2M_UNSUPPORTED_FORMAT: 'no codec for this content format',
  OUTPOST_ERR_LWM2M_NOT_ENCODABLE: 'the resources cannot be expressed in this format',
  OUTPOST_ERR_LWM2M_BAD_OBJECT_XML: 'an object definition XML file is not a valid LWM2M object',
  OUTPOST_ERR_LWM2M_DUPLICATE_OBJECT: 'two object definition files define the same object id',
  OUTPOST_ERR_LWM2M_READ_FAILED: 'an object definition file or directory cannot be read',
  OUTPOST_ERR_LWM2M_BAD_COMMAND: 'an MQTT command does not have the shape EMQX accepts',
} as const;

export type Lwm2mErrorCode = keyof typeof LWM2M_CODEC_ERRORS;

export interface Lwm2mError {
  readonly kind: 'error';
  readonly code: Lwm2mErrorCode;
  readonly detail: string;
}

export function lwm2mError(code: Lwm2mErrorCode, detail: string): Lwm2mError {
  return { kind: 'error', code, detail };
}

export interface Decoded<T> {
  readonly kind: 'ok';
  readonly value: T;
}

export type Result<T> = Decoded<T> | Lwm2mError;

export function ok<T>(value: T): Decoded<T> {
  return { kind: 'ok', value };
}
