// EMQX ssl_options -> Node TLS server options, and the verified client certificate -> the fields
// the front end and authentication use (CN, DN, SAN, fingerprint).
import type { TLSSocket, TlsOptions } from 'node:tls';
import { certFields, hasPeerCert, secureContextOptions as contextOptions } from '../../core/tls-options.js';
import type { PeerCertificate } from '../listener.js';
import type { SslOptions } from './config.js';

export { parseSan } from '../../core/tls-options.js';

/** The parts of the options that setSecureContext can swap at run time (certs, versions, ciphers). */
export function secureContextOptions(o: SslOptions, listenerId: string): TlsOptions {
  return contextOptions(o, listenerId);
}

/**
 * Full server options. With verify_peer and fail_if_no_peer_cert = false a client without a
 * certificate is let in, one with a bad certificate is not (checked in rejectBadPeerCert, since
 * Node's rejectUnauthorized cannot tell the two apart).
 */
export function serverOptions(o: SslOptions, listenerId: string): TlsOptions {
  return {
    ...secureContextOptions(o, listenerId),
    requestCert: o.verify === 'verify_peer',
    rejectUnauthorized: o.verify === 'verify_peer' && o.fail_if_no_peer_cert,
    handshakeTimeout: Math.round(o.handshake_timeout * 1000),
  };
}

/** A reason to refuse this socket under verify_peer, or null when it may go on. */
export function rejectBadPeerCert(o: SslOptions, s: TLSSocket): string | null {
  if (o.verify !== 'verify_peer') return null;
  if (s.authorized) return null;
  if (!hasPeerCert(s)) return o.fail_if_no_peer_cert ? 'no peer certificate' : null;
  return String(s.authorizationError ?? 'peer certificate not trusted');
}

/** The verified client certificate, or undefined without one. */
export function peerCertificate(s: TLSSocket): PeerCertificate | undefined {
  return certFields(s);
}
