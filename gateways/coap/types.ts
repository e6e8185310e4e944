// Shared CoAP gateway vocabulary: counter names, reply texts (gateways/coap/SPEC.md §6) and the
// device-request API shapes (§7).

/** Counters the CoAP gateway increments through GatewayContext.metrics (EMQX names where EMQX has one). */
export const COAP_COUNTERS = [
  'coap.datagrams.received',
  'coap.datagrams.dropped',
  'coap.frames.malformed',
  'coap.requests.received',
  'coap.requests.duplicate',
  'coap.publish.received',
  'coap.publish.rejected',
  'coap.observe.registered',
  'coap.notify.sent',
  'coap.notify.acked',
  'coap.notify.reset',
  'coap.notify.timeout',
  'coap.retransmit',
  'coap.blockwise.block1',
  'coap.blockwise.block2',
  'coap.login.failed',
  'coap.auth.refused',
  'coap.channels.rejected',
  'delivery.dropped',
  'delivery.dropped.no_subid',
  'delivery.dropped.queue_full',
] as const;

export type CoapCounter = (typeof COAP_COUNTERS)[number];

/** Reply payloads devices see, word for word as EMQX sends them. */
export const MSG = {
  invalidTopic: 'invalid topic',
  invalidObserve: 'invalid observe value',
  observeWithoutToken: 'observe without token',
  clientIdRequired: 'Login Failed: clientid is required',
  loginFailed: 'Login Failed: ',
  alreadyConnected: 'Bad Request: client has connected',
  missingToken: 'Missing token or clientid in connection mode',
  connectionModeOff: 'connection mode is not enabled',
} as const;

/** A request the operator sends to a device (POST /api/v5/gateways/coap/clients/{id}/request). */
export interface DeviceRequest {
  /** CoAP method code: 1 GET, 2 POST, 3 PUT, 4 DELETE. */
  method: 1 | 2 | 3 | 4;
  /** CoAP token (at most 8 bytes are used); random when absent. */
  token?: string;
  /** Uri-Path segments; EMQX sends none. */
  path?: string[];
  payload: Buffer;
  /** Content-Format option number (0 text/plain, 42 octet-stream, 50 json). */
  contentFormat?: number;
  timeoutMs: number;
}

export type DeviceResponse =
  | { ok: true; code: number; payload: Buffer; contentFormat: number | null }
  | { ok: false; reason: 'not_found' | 'timeout' | 'reset' | 'closed' };
