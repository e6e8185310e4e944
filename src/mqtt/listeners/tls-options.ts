// EMQX ssl_options -> Node TLS server options, and the verified client certificate -> the fields
// the front end and authentication use (CN, DN, SAN, fingerprint).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureVersion, TLSSocket, TlsOptions } from 'node:tls';
import type { PeerCertificate } from '../listener.js';
import type { SslOptions } from './config.js';

const VERSION: Record<SslOptions['versions'][number], SecureVersion> = {
  tlsv1: 'TLSv1',
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
};
const ORDER: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${what} ${path}: ${(err as Error).message}`);
  }
}

/** The parts of the options that setSecureContext can swap at run time (certs, versions, ciphers). */
export function secureContextOptions(o: SslOptions, listenerId: string): TlsOptions {
  if (o.certfile === '' || o.keyfile === '') throw new Error(`listener ${listenerId}: ssl_options.certfile and ssl_options.keyfile are required`);
  if (o.verify === 'verify_peer' && o.cacertfile === '') throw new Error(`listener ${listenerId}: verify_peer needs ssl_options.cacertfile`);
  const versions = o.versions.map((v) => VERSION[v]).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const opts: TlsOptions = {
    cert: read(o.certfile, 'certfile'),
    key: read(o.keyfile, 'keyfile'),
    minVersion: versions[0]!,
    maxVersion: versions[versions.length - 1]!,
  };
  if (o.password !== '') opts.passphrase = o.password;
  if (o.cacertfile !== '') opts.ca = read(o.cacertfile, 'cacertfile');
  if (o.ciphers.length > 0) opts.ciphers = o.ciphers.join(':');
  return opts;
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

function hasPeerCert(s: TLSSocket): boolean {
  const c = s.getPeerCertificate();
  return !!c && Object.keys(c).length > 0;
}

/** A reason to refuse this socket under verify_peer, or null when it may go on. */
export function rejectBadPeerCert(o: SslOptions, s: TLSSocket): string | null {
  if (o.verify !== 'verify_peer') return null;
  if (s.authorized) return null;
  if (!hasPeerCert(s)) return o.fail_if_no_peer_cert ? 'no peer certificate' : null;
  return String(s.authorizationError ?? 'peer certificate not trusted');
}

/** "DNS:a, IP Address:1.2.3.4" -> ["a", "1.2.3.4"]. */
export function parseSan(san: string | undefined): string[] {
  if (!san) return [];
  return san
    .split(/,\s*/)
    .map((p) => p.replace(/^[A-Za-z ]+:/, '').trim())
    .filter((p) => p !== '');
}

/** The verified client certificate, or undefined without one. */
export function peerCertificate(s: TLSSocket): PeerCertificate | undefined {
  if (!s.authorized) return undefined;
  const c = s.getPeerCertificate();
  if (!c || Object.keys(c).length === 0) return undefined;
  const out: PeerCertificate = {};
  const cn = (c.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  if (commonName) out.commonName = commonName;
  try {
    // DN in certificate order, comma-joined: "C=DE,O=Acme,CN=sensor-1".
    out.subject = new X509Certificate(c.raw).subject.split('\n').join(',');
  } catch {
    /* a certificate the handshake accepted always parses; keep going without the DN */
  }
  const san = parseSan(c.subjectaltname);
  if (san.length > 0) out.san = san;
  if (c.fingerprint256) out.fingerprint = c.fingerprint256;
  return out;
}
