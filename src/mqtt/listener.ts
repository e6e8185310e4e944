// A listener's only job: accept a byte stream and hand it to the MQTT front end with where it came
// from. TCP, TLS and WebSocket streams are all Duplex, so one channel serves them all.
import type { Duplex } from 'node:stream';

export interface PeerCertificate {
  commonName?: string;
  subject?: string;
  san?: string[];
  fingerprint?: string;
}

export interface AcceptedConnection {
  socket: Duplex;
  /** Listener id, e.g. 'tcp:default', 'ssl:default', 'ws:default'. */
  listener: string;
  peerHost: string;
  peerPort: number;
  /** Port of the listener the client connected to (for $SYS events' sockport). */
  sockPort: number;
  /** Verified client certificate (mTLS), when there is one. */
  cert?: PeerCertificate;
  /** Identity overrides configured on the listener (peer_cert_as_username / _clientid). */
  certAs?: { username?: 'cn' | 'dn' | 'san'; clientId?: 'cn' | 'dn' | 'san' };
}

export type AcceptFn = (c: AcceptedConnection) => void;

export interface ListenerHandle {
  readonly id: string;
  /** Bound port (after listen on port 0). */
  readonly port: number;
  readonly bind: string;
  readonly type: 'tcp' | 'ssl' | 'ws' | 'wss';
  currentConnections(): number;
  close(): Promise<void>;
  /** Re-read certificates and other reloadable settings; throws (and keeps the old ones) on error. */
  reload?(config: unknown): Promise<void>;
}
