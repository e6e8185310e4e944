// The bridge's error catalogue: stable codes for logs, status (lastErrorCode) and the API. Code
// branches on `code`, never on message text (style anchors §5).

export const BRIDGE_ERRORS = {
  OUTPOST_ERR_BRIDGE_TEMPLATE: 'invalid topic or payload template',
  OUTPOST_ERR_BRIDGE_SERVER_ADDRESS: 'cannot parse the server address',
  OUTPOST_ERR_BRIDGE_TLS_SETUP: 'TLS files could not be read',
  OUTPOST_ERR_BRIDGE_TLS_VERIFY: 'TLS certificate verification failed',
  OUTPOST_ERR_BRIDGE_CONNECT_FAILED: 'connection to the upstream failed',
  OUTPOST_ERR_BRIDGE_CONNECT_REFUSED: 'the upstream refused the connection',
  OUTPOST_ERR_BRIDGE_CONNECT_TIMEOUT: 'no CONNACK within connect_timeout',
  OUTPOST_ERR_BRIDGE_KEEPALIVE_TIMEOUT: 'keepalive timeout: no packet from the upstream',
  OUTPOST_ERR_BRIDGE_WINDOW_STALLED: 'in-flight window stalled: no acknowledgement within stall_timeout',
  OUTPOST_ERR_BRIDGE_UPSTREAM_CLOSED: 'the upstream closed the connection',
  OUTPOST_ERR_BRIDGE_MALFORMED: 'malformed packet from the upstream',
  OUTPOST_ERR_BRIDGE_SUBSCRIBE_REFUSED: 'the upstream refused an ingress subscription',
  OUTPOST_ERR_BRIDGE_RESTART: 'restart requested',
} as const;

export type BridgeErrorCode = keyof typeof BRIDGE_ERRORS;

export class BridgeError extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    detail?: string,
  ) {
    super(detail ? `${BRIDGE_ERRORS[code]}: ${detail}` : BRIDGE_ERRORS[code]);
  }
}

const TLS_VERIFY_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/** Code and one log-ready line for anything that ended a connection attempt or a link. */
export function classifyError(err: Error | null): { code: BridgeErrorCode; message: string } {
  if (err === null) return { code: 'OUTPOST_ERR_BRIDGE_UPSTREAM_CLOSED', message: BRIDGE_ERRORS.OUTPOST_ERR_BRIDGE_UPSTREAM_CLOSED };
  if (err instanceof BridgeError) return { code: err.code, message: err.message };
  const sys = (err as NodeJS.ErrnoException).code;
  if (sys !== undefined && TLS_VERIFY_CODES.has(sys)) {
    const why =
      sys === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? 'the certificate does not name this server'
        : sys === 'CERT_HAS_EXPIRED' || sys === 'CERT_NOT_YET_VALID'
          ? 'the certificate is outside its validity period'
          : 'the upstream certificate is not signed by the configured CA';
    return { code: 'OUTPOST_ERR_BRIDGE_TLS_VERIFY', message: `TLS certificate verification failed (${sys}): ${why}: ${err.message}` };
  }
  return { code: 'OUTPOST_ERR_BRIDGE_CONNECT_FAILED', message: sys ? `${sys}: ${err.message}` : err.message };
}
