// The DTLS engine's contract with the gateways (see gateways/transport/dtls/README.md).
import type { DatagramSocket } from '../datagram.js';

/** identity -> key. Called during a handshake; must be synchronous and cheap. undefined = unknown
 *  identity (the handshake fails with an unknown_psk_identity alert). */
export interface PskSource {
  key(identity: string): Buffer | undefined;
  /** Optional server identity hint; default none. */
  hint?: string;
}

export interface DtlsCertOptions {
  certfile: string;
  keyfile: string;
  cacertfile?: string;
  verify: 'verify_peer' | 'verify_none';
  failIfNoPeerCert: boolean;
}

export interface DtlsListenerOptions {
  /** PSK suites are enabled when set. */
  psk?: PskSource;
  /** Certificate suites are enabled when set (EMQX dtls_options names). */
  certs?: DtlsCertOptions;
  /** OpenSSL names; default DEFAULT_CIPHERS (PSK-AES128-CCM8 first). */
  ciphers?: string[];
  /** Path MTU for handshake flights and records; default 1280. */
  mtu?: number;
  /** Sessions cap (established + half-open), default 10000. */
  maxPeers?: number;
  /** Half-open (post-cookie) handshakes cap, default 256. */
  maxHandshakes?: number;
  /** Evict a silent established session, default 10 min. */
  idleTimeoutMs?: number;
  /** Give up an unfinished handshake, default 30 s. */
  handshakeTimeoutMs?: number;
  /** First handshake retransmission timeout, doubling up to 60 s; default 1 s (RFC 6347). */
  retransmitMs?: number;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** Injected clock for idle and handshake deadlines. */
  now?: () => number;
}

export interface DtlsStats {
  /** Established sessions. */
  peers: number;
  /** Half-open handshakes (cookie checked out, not finished). */
  handshakes: number;
  handshakesDone: number;
  handshakeFailures: number;
  /** ClientHellos answered with a HelloVerifyRequest (no cookie, or a stale or forged one). */
  cookieRejects: number;
  /** Alerts other than close_notify, sent or received. */
  alerts: number;
  /** Established sessions closed for silence. */
  evicted: number;
  /** Valid-cookie handshakes refused because a cap was reached. */
  refused: number;
  /** Datagrams dropped: not DTLS for a known peer, or send() to a peer without a session. */
  dropped: number;
}

/** A bound DTLS listener: onMessage gives DECRYPTED application datagrams with
 *  RemoteInfo.security = { pskIdentity } or { cert }; send() encrypts to that established peer
 *  (dropped and counted if there is no session). */
export interface DtlsSocket extends DatagramSocket {
  /** Replace keys/certs for NEW handshakes; established sessions stay up (config reload). */
  reload(opts: Pick<DtlsListenerOptions, 'psk' | 'certs'>): void;
  /** Send close_notify and forget one peer's session (kick / unpair). */
  closePeer(address: string, port: number): void;
  stats(): DtlsStats;
}
