// CoAP response codes as text, shared by the gateways that speak CoAP (CoAP, LwM2M): pure, and
// importing nothing, so any gateway may use it without reaching into another gateway's folder.

/** "2.05" from a CoAP code byte (class in bits 7-5, detail in 4-0), RFC 7252 §3. */
export function formatCode(c: number): string {
  const d = c & 31;
  return `${c >> 5}.${d < 10 ? '0' : ''}${d}`;
}

/** EMQX's names for response codes (the atoms of emqx_coap_message; RFC 7252 §12.1.2). */
const CODE_NAMES: Readonly<Record<string, string>> = {
  '2.01': 'created',
  '2.02': 'deleted',
  '2.03': 'valid',
  '2.04': 'changed',
  '2.05': 'content',
  '2.31': 'continue',
  '4.00': 'bad_request',
  '4.01': 'unauthorized',
  '4.02': 'bad_option',
  '4.03': 'forbidden',
  '4.04': 'not_found',
  '4.05': 'method_not_allowed',
  '4.06': 'not_acceptable',
  '4.08': 'request_entity_incomplete',
  '4.12': 'precondition_failed',
  '4.13': 'request_entity_too_large',
  '4.15': 'unsupported_content_format',
  '5.00': 'internal_server_error',
  '5.01': 'not_implemented',
  '5.02': 'bad_gateway',
  '5.03': 'service_unavailable',
  '5.04': 'gateway_timeout',
  '5.05': 'proxying_not_supported',
};

/** EMQX's name for a code given as text ("2.05" -> "content"), or undefined for a code it has no name for. */
export function codeName(code: string): string | undefined {
  return CODE_NAMES[code];
}
