// Conversions between mqtt-packet's PUBLISH properties and the broker's MessageProperties, and
// one-line error descriptions for logs and status (TLS verification failures named as such).
import type { IPublishPacket } from 'mqtt-packet';
import type { MessageProperties } from '../broker/types.js';

export function wireProps(p: MessageProperties | null): IPublishPacket['properties'] | undefined {
  if (!p) return undefined;
  const o: NonNullable<IPublishPacket['properties']> = {};
  if (p.payloadFormatIndicator !== undefined) o.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.responseTopic !== undefined) o.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) o.correlationData = p.correlationData;
  if (p.userProperties !== undefined) o.userProperties = p.userProperties;
  return o;
}

export function messageProps(pr: NonNullable<IPublishPacket['properties']>): MessageProperties | null {
  const o: MessageProperties = {};
  let any = false;
  if (pr.payloadFormatIndicator !== undefined) ((o.payloadFormatIndicator = pr.payloadFormatIndicator), (any = true));
  if (pr.contentType !== undefined) ((o.contentType = pr.contentType), (any = true));
  if (pr.responseTopic !== undefined) ((o.responseTopic = pr.responseTopic), (any = true));
  if (pr.correlationData !== undefined) ((o.correlationData = pr.correlationData), (any = true));
  if (pr.userProperties !== undefined) ((o.userProperties = pr.userProperties), (any = true));
  return any ? o : null;
}

/** One line that says what went wrong, TLS verification failures by name. */
export function describeError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return `TLS certificate verification failed (${code}): the upstream certificate is not signed by the configured CA: ${err.message}`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS certificate verification failed (${code}): the certificate does not name this server: ${err.message}`;
    case 'CERT_HAS_EXPIRED':
      return `TLS certificate verification failed (${code}): ${err.message}`;
    case 'ECONNREFUSED':
      return `connection refused: ${err.message}`;
    default:
      return code ? `${code}: ${err.message}` : err.message;
  }
}
