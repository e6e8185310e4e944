// What a DTLS handshake proved about a peer (RemoteInfo.security), in the forms gateways need: the
// fields of an authentication request, and one comparable string per identity.
import type { PeerSecurity } from './datagram.js';

/** AuthRequest's `pskIdentity` / `cert` for a peer; empty on plain UDP. */
export function authSecurity(s: PeerSecurity | undefined): { pskIdentity?: string; cert?: PeerSecurity['cert'] } {
  if (s?.pskIdentity !== undefined) return { pskIdentity: s.pskIdentity };
  if (s?.cert !== undefined) return { cert: s.cert };
  return {};
}

/** 'psk:<identity>', 'cert:<fingerprint>', or '' on plain UDP. */
export function securityKey(s: PeerSecurity | undefined): string {
  if (s?.pskIdentity !== undefined) return `psk:${s.pskIdentity}`;
  if (s?.cert !== undefined) return `cert:${s.cert.fingerprint ?? s.cert.subject ?? ''}`;
  return '';
}
