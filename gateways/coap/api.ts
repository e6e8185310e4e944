// The EMQX device-request API shapes (gateways/coap/SPEC.md §7):
// POST /api/v5/gateways/coap/clients/{clientid}/request. Pure translation between the HTTP JSON
// and DeviceRequest/DeviceResponse, so the admin route is a thin shim over CoapGateway.request().
import { codeName } from '../codecs/coap/codes.js';
import { Code, formatCode } from '../codecs/coap/frame.js';
import type { DeviceRequest, DeviceResponse } from './types.js';

const METHODS = { get: Code.GET, post: Code.POST, put: Code.PUT, delete: Code.DELETE } as const;

/** RFC 7252 §12.3 content-format numbers for the three content types EMQX accepts. */
const CONTENT_FORMATS = { 'text/plain': 0, 'application/octet-stream': 42, 'application/json': 50 } as const;
type ContentType = keyof typeof CONTENT_FORMATS;

export interface ParsedDeviceRequest {
  req: DeviceRequest;
  contentType: ContentType;
}

/** Parses `10s`, `500ms`, `1m`, or a bare number of seconds; null when malformed or not positive. */
export function parseTimeout(v: unknown): number | null {
  if (typeof v === 'number') return v > 0 ? v * 1000 : null;
  if (typeof v !== 'string') return null;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(v.trim());
  if (m === null) return null;
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  return ms > 0 ? ms : null;
}

/** Validates the request body; the error text is meant for a 400 BAD_REQUEST reply. */
export function parseDeviceRequestBody(body: unknown): { ok: true; value: ParsedDeviceRequest } | { ok: false; message: string } {
  if (typeof body !== 'object' || body === null) return { ok: false, message: 'body must be a JSON object' };
  const b = body as Record<string, unknown>;
  const method = typeof b.method === 'string' ? METHODS[b.method.toLowerCase() as keyof typeof METHODS] : undefined;
  if (method === undefined) return { ok: false, message: 'method must be get, post, put or delete' };
  const contentType = (b.content_type ?? 'text/plain') as ContentType;
  if (!(contentType in CONTENT_FORMATS)) return { ok: false, message: 'content_type must be text/plain, application/json or application/octet-stream' };
  const timeoutMs = parseTimeout(b.timeout ?? '10s');
  if (timeoutMs === null) return { ok: false, message: 'timeout must be a duration such as "10s"' };
  if (b.token !== undefined && typeof b.token !== 'string') return { ok: false, message: 'token must be a string' };
  const raw = b.payload ?? '';
  if (typeof raw !== 'string') return { ok: false, message: 'payload must be a string' };
  const payload = contentType === 'application/octet-stream' ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  const req: DeviceRequest = { method, payload, contentFormat: CONTENT_FORMATS[contentType], timeoutMs };
  if (typeof b.token === 'string' && b.token !== '') req.token = b.token;
  return { ok: true, value: { req, contentType } };
}

export type DeviceRequestReply =
  | { status: 200; body: { id: string; token: string; method: string; payload: string } }
  | { status: 404; body: { code: 'CLIENT_NOT_FOUND'; message: string } }
  | { status: 504; body: { code: 'CLIENT_NOT_RESPONSE'; message: string } };

/** The HTTP reply for a device response; binary payloads are base64 when the request was octet-stream. */
export function deviceRequestReply(clientId: string, p: ParsedDeviceRequest, r: DeviceResponse): DeviceRequestReply {
  if (!r.ok) {
    if (r.reason === 'not_found' || r.reason === 'closed') return { status: 404, body: { code: 'CLIENT_NOT_FOUND', message: `client ${clientId} is not connected` } };
    return { status: 504, body: { code: 'CLIENT_NOT_RESPONSE', message: r.reason === 'reset' ? 'device reset the request' : 'device did not answer in time' } };
  }
  const code = formatCode(r.code);
  const name = codeName(code) ?? code;
  const ok = r.code >> 5 === 2;
  const binary = r.contentFormat === 42 || (r.contentFormat === null && p.contentType === 'application/octet-stream');
  return {
    status: 200,
    body: {
      id: clientId,
      token: p.req.token ?? '',
      method: `{${ok ? 'ok' : 'error'},${name}}`,
      payload: binary ? r.payload.toString('base64') : r.payload.toString('utf8'),
    },
  };
}
