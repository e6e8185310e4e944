// One DTLS listener of a UDP gateway: turns `[gateway.<name>.listeners.dtls.<id>]` into the DTLS
// engine's options, opens the socket through the engine's factory (so endpoints and channels see
// plain datagrams with RemoteInfo.security), and keeps what the gateway needs afterwards: reload
// of keys and certificates, and ending the sessions of a PSK identity that was revoked (unpair).
import type { PskLookup } from '../gateway.js';
import type { BindOptions, DatagramSocket, RemoteInfo, SocketFactory } from './datagram.js';
import { dtlsSocketFactory, type DtlsListenerOptions, type DtlsSocket } from './dtls/index.js';
import type { DtlsListenerConfig } from './dtls-config.js';

interface Log {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

/** Whether a cipher list offers a PSK key exchange (PSK-*, DHE-PSK-*, ECDHE-PSK-*, RSA-PSK-*). */
export function offersPsk(ciphers: readonly string[]): boolean {
  return ciphers.some((c) => /(^|-)PSK-/.test(c));
}

/** The engine's options for a listener's config; PSK suites only when the cipher list offers them. */
export function dtlsEngineOptions(cfg: DtlsListenerConfig, psk: PskLookup | undefined, log?: Log): DtlsListenerOptions {
  const o = cfg.dtls_options;
  return {
    ...keyMaterial(cfg, psk),
    ...(o.ciphers.length > 0 ? { ciphers: o.ciphers } : {}),
    maxPeers: cfg.max_connections,
    handshakeTimeoutMs: Math.round(o.handshake_timeout * 1000),
    ...(log ? { log } : {}),
  };
}

function keyMaterial(cfg: DtlsListenerConfig, psk: PskLookup | undefined): Pick<DtlsListenerOptions, 'psk' | 'certs'> {
  const o = cfg.dtls_options;
  const pskOn = psk !== undefined && (o.ciphers.length === 0 || offersPsk(o.ciphers));
  const out: Pick<DtlsListenerOptions, 'psk' | 'certs'> = {};
  // A fresh object, not the store itself: the engine sees exactly the PskSource contract.
  if (pskOn) out.psk = { key: (identity: string) => psk.key(identity) };
  if (o.certfile !== '') {
    out.certs = { certfile: o.certfile, keyfile: o.keyfile, verify: o.verify, failIfNoPeerCert: o.fail_if_no_peer_cert };
    if (o.cacertfile !== '') out.certs.cacertfile = o.cacertfile;
  }
  return out;
}

/**
 * A dtls listener's settings that need a restart, for a gateway's reload check: everything but
 * the key material the engine rereads live (certfile, keyfile, cacertfile, verify,
 * fail_if_no_peer_cert). Ciphers, timeouts and binds are fixed when the socket opens.
 */
export function dtlsRestartShape(listeners: Record<string, DtlsListenerConfig>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, l] of Object.entries(listeners)) {
    const { certfile: _c, keyfile: _k, cacertfile: _ca, verify: _v, fail_if_no_peer_cert: _f, ...fixed } = l.dtls_options;
    out[name] = { ...l, dtls_options: fixed };
  }
  return out;
}

/** Peers remembered for revocation at most (beyond it the oldest are forgotten; the engine caps sessions anyway). */
const MAX_TRACKED = 20_000;

export class DtlsGatewayListener {
  private socket: DtlsSocket | null = null;
  /** "address|port" -> PSK identity of the session last seen there. */
  private readonly identities = new Map<string, string>();

  constructor(
    /** Listener key for messages: `gateway.coap.listeners.dtls.default`. */
    readonly key: string,
    private cfg: DtlsListenerConfig,
    private readonly psk: PskLookup | undefined,
    private readonly log: Log,
    /** Replaces the engine's factory in unit tests. */
    private readonly engine: (opts: DtlsListenerOptions) => (bind: string, port: number, o?: BindOptions) => Promise<DtlsSocket> = dtlsSocketFactory,
  ) {
    psk?.onRevoked((identity) => this.closeIdentity(identity));
  }

  /** The SocketFactory the gateway's endpoint or UdpTransport binds with. */
  readonly factory: SocketFactory = async (bind, port, o) => {
    let s: DtlsSocket;
    try {
      // The engine's handshake failures and alerts name the listener they happened on.
      const log: Log = { info: (x, m) => this.log.info({ listener: this.key, ...x }, m), warn: (x, m) => this.log.warn({ listener: this.key, ...x }, m) };
      s = await this.engine(dtlsEngineOptions(this.cfg, this.psk, log))(bind, port, o);
    } catch (err) {
      throw new Error(`${this.key}: ${(err as Error).message}`);
    }
    this.socket = s;
    return this.track(s);
  };

  /** New keys and certificates for new handshakes; established sessions stay up. */
  reload(cfg: DtlsListenerConfig): void {
    this.cfg = cfg;
    this.socket?.reload(keyMaterial(cfg, this.psk));
  }

  /** End every session that authenticated with `identity` (close_notify); the device must handshake again. */
  closeIdentity(identity: string): number {
    const s = this.socket;
    if (s === null) return 0;
    let n = 0;
    for (const [k, id] of this.identities) {
      if (id !== identity) continue;
      const at = k.lastIndexOf('|');
      s.closePeer(k.slice(0, at), Number(k.slice(at + 1)));
      this.identities.delete(k);
      n++;
    }
    if (n > 0) this.log.info({ listener: this.key, psk_identity: identity, sessions: n }, 'dtls_sessions_closed: psk identity revoked');
    return n;
  }

  stats(): ReturnType<DtlsSocket['stats']> | null {
    return this.socket?.stats() ?? null;
  }

  /** The socket as the gateway sees it, remembering which PSK identity each peer proved. */
  private track(s: DtlsSocket): DatagramSocket {
    return {
      onMessage: (l) =>
        s.onMessage((msg: Buffer, from: RemoteInfo) => {
          const id = from.security?.pskIdentity;
          if (id !== undefined) {
            const k = `${from.address}|${from.port}`;
            if (this.identities.get(k) !== id) {
              if (this.identities.size >= MAX_TRACKED) this.identities.delete(this.identities.keys().next().value!);
              this.identities.set(k, id);
            }
          }
          l(msg, from);
        }),
      onError: (l) => s.onError(l),
      send: (msg, port, address) => s.send(msg, port, address),
      address: () => s.address(),
      closePeer: (address, port) => {
        this.identities.delete(`${address}|${port}`);
        s.closePeer(address, port);
      },
      close: async () => {
        this.socket = null;
        this.identities.clear();
        await s.close();
      },
    };
  }
}

/** `{ dtls: counters }` for a gateway's ListenerInfo when the listener is running, else nothing. */
export function dtlsStats(l: DtlsGatewayListener | null | undefined): { dtls?: Readonly<Record<string, number>> } {
  const s = l?.stats();
  return s ? { dtls: { ...s } } : {};
}
