// EMQX ssl_options -> Node TLS options, and a verified client certificate -> the fields front ends and
// authentication use (CN, DN, SAN, fingerprint). Protocol-free: the MQTT listeners use it directly, the
// gateways through gateways/gateway.ts.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureVersion, TLSSocket, TlsOptions } from 'node:tls';

export type TlsVersionName = 'tlsv1' | 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3';

/** The ssl_options fields that make a secure context, defaults already applied ('' = not set). */
export interface TlsContextFields {
  certfile: string;
  keyfile: string;
  cacertfile: string;
  password: string;
  versions: readonly TlsVersionName[];
  ciphers: readonly string[];
  verify: 'verify_none' | 'verify_peer';
}

/** What a verified client certificate says, as AuthRequest.cert carries it. */
export interface CertFields {
  commonName?: string;
  /** DN in certificate order, comma-joined: "C=DE,O=Acme,CN=sensor-1". */
  subject?: string;
  san?: string[];
  fingerprint?: string;
}

const VERSION: Record<TlsVersionName, SecureVersion> = {
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

/**
 * The parts of the options that setSecureContext can swap at run time (certs, versions, ciphers).
 * `label` prefixes the field name in a file-read error ('' -> "certfile …", 'ssl_options.' -> "ssl_options.certfile …").
 */
export function secureContextOptions(o: TlsContextFields, listenerId: string, label = ''): TlsOptions {
  if (o.certfile === '' || o.keyfile === '') throw new Error(`listener ${listenerId}: ssl_options.certfile and ssl_options.keyfile are required`);
  if (o.verify === 'verify_peer' && o.cacertfile === '') throw new Error(`listener ${listenerId}: verify_peer needs ssl_options.cacertfile`);
  const versions = o.versions.map((v) => VERSION[v]).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const opts: TlsOptions = {
    cert: read(o.certfile, `${label}certfile`),
    key: read(o.keyfile, `${label}keyfile`),
    minVersion: versions[0]!,
    maxVersion: versions[versions.length - 1]!,
  };
  if (o.password !== '') opts.passphrase = o.password;
  if (o.cacertfile !== '') opts.ca = read(o.cacertfile, `${label}cacertfile`);
  if (o.ciphers.length > 0) opts.ciphers = o.ciphers.join(':');
  return opts;
}

export function hasPeerCert(s: TLSSocket): boolean {
  const c = s.getPeerCertificate();
  return !!c && Object.keys(c).length > 0;
}

/** "DNS:a, IP Address:1.2.3.4" -> ["a", "1.2.3.4"]. */
export function parseSan(san: string | undefined): string[] {
  if (!san) return [];
  return san
    .split(/,\s*/)
    .map((p) => p.replace(/^[A-Za-z ]+:/, '').trim())
    .filter((p) => p !== '');
}

/** The verified client certificate's fields, or undefined without one. */
export function certFields(s: TLSSocket): CertFields | undefined {
  if (!s.authorized) return undefined;
  const c = s.getPeerCertificate();
  if (!c || Object.keys(c).length === 0) return undefined;
  const out: CertFields = {};
  const cn = (c.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  if (commonName) out.commonName = commonName;
  try {
    out.subject = new X509Certificate(c.raw).subject.split('\n').join(',');
  } catch {
    /* a certificate the handshake accepted always parses; keep going without the DN */
  }
  const san = parseSan(c.subjectaltname);
  if (san.length > 0) out.san = san;
  if (c.fingerprint256) out.fingerprint = c.fingerprint256;
  return out;
}
