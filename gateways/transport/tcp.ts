// TCP and TLS stream driver (STOMP 61613, ExProto 7993): owns the listening socket, one channel per
// connection through the shared connection core (stream-conn.ts). Framing is the codec's
// (decodeStream); this file only adapts node:net / node:tls sockets and EMQX's ssl_options.
import net from 'node:net';
import tls, { type TLSSocket, type TlsOptions } from 'node:tls';
import { certFields, hasPeerCert, secureContextOptions } from '../gateway.js';
import { StreamHub, type StreamPipe } from './stream-conn.js';
import type { PeerCert, StreamChannel, StreamOptions, StreamSslOptions } from './stream-types.js';
import type { Peer } from './types.js';

export interface TcpOptions {
  /** Address to bind ('0.0.0.0', '::', '127.0.0.1'). */
  bind: string;
  port: number;
  /** EMQX `ssl_options`: present makes this an ssl listener. */
  ssl?: StreamSslOptions | null;
  /** Longest stop() waits for peers to take their last frames before dropping them (ms). */
  stopGraceMs?: number;
}

/**
 * EMQX ssl_options -> Node TLS server options. With verify_peer and fail_if_no_peer_cert false a
 * client without a certificate is let in and one with a bad certificate is not (sslRefusal), since
 * Node's rejectUnauthorized cannot tell the two apart.
 */
export function tlsServerOptions(o: StreamSslOptions, listener: string): TlsOptions {
  const verifyPeer = o.verify === 'verify_peer';
  const fields = {
    certfile: o.certfile ?? '',
    keyfile: o.keyfile ?? '',
    cacertfile: o.cacertfile ?? '',
    password: o.password ?? '',
    versions: o.versions && o.versions.length > 0 ? o.versions : (['tlsv1.2', 'tlsv1.3'] as const),
    ciphers: o.ciphers ?? [],
    verify: o.verify ?? 'verify_none',
  };
  return {
    ...secureContextOptions(fields, listener, 'ssl_options.'),
    requestCert: verifyPeer,
    rejectUnauthorized: verifyPeer && (o.fail_if_no_peer_cert ?? false),
  };
}

/** Why this handshaken socket must be refused under verify_peer, or null. */
export function sslRefusal(o: StreamSslOptions, s: TLSSocket): string | null {
  if (o.verify !== 'verify_peer' || s.authorized) return null;
  if (!hasPeerCert(s)) return o.fail_if_no_peer_cert ? 'no_peer_certificate' : null;
  return String(s.authorizationError ?? 'peer_certificate_not_trusted');
}

/** The verified client certificate in AuthRequest.cert's fields, or null without one. */
export function peerCertOf(s: TLSSocket): PeerCert | null {
  return certFields(s) ?? null;
}

export function socketPeer(s: net.Socket): Peer {
  return { address: s.remoteAddress ?? '', port: s.remotePort ?? 0, family: s.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
}

export function peerAddr(s: net.Socket): string {
  return s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

/** A net.Socket (or TLSSocket) as the connection core drives it. */
export class SocketPipe implements StreamPipe {
  constructor(private readonly socket: net.Socket) {}
  write(bufs: Buffer[], done: (err?: Error | null) => void): void {
    const s = this.socket;
    if (!s.writable) return;
    if (bufs.length === 1) {
      s.write(bufs[0]!, done);
      return;
    }
    // cork/uncork turns the tick's frames into one writev.
    s.cork();
    const last = bufs.length - 1;
    for (let i = 0; i < last; i++) s.write(bufs[i]!);
    s.write(bufs[last]!, done);
    s.uncork();
  }
  get buffered(): number {
    return this.socket.writableLength;
  }
  pauseReading(): void {
    this.socket.pause();
  }
  resumeReading(): void {
    this.socket.resume();
  }
  end(): void {
    this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }
}

export class TcpTransport<F, C extends StreamChannel<F>> {
  readonly hub: StreamHub<F, C>;
  private server: net.Server | null = null;
  private boundPort = 0;

  constructor(
    private readonly tcp: TcpOptions,
    private readonly opts: StreamOptions<F, C>,
  ) {
    this.hub = new StreamHub<F, C>(opts);
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** The bound port (after start), the real one with port 0. */
  get port(): number {
    return this.boundPort;
  }

  get bindAddress(): string {
    return this.tcp.bind.includes(':') ? `[${this.tcp.bind}]:${this.boundPort}` : `${this.tcp.bind}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    const ssl = this.tcp.ssl ?? null;
    // allowHalfOpen: a peer's FIN must not end our side before its last frames are answered.
    const server = ssl ? tls.createServer({ ...tlsServerOptions(ssl, this.opts.listener), allowHalfOpen: true }) : net.createServer({ allowHalfOpen: true });
    if (ssl) this.wireTls(server as tls.Server, ssl);
    else server.on('connection', (s: net.Socket) => this.ready(s, null));
    server.on('error', (err) => this.opts.log.warn({ err: err.message, reason: 'listener_error' }, 'tcp_listener_error'));
    this.boundPort = await listenExclusive(server, this.tcp.bind, this.tcp.port);
    this.server = server;
  }

  private wireTls(server: tls.Server, ssl: StreamSslOptions): void {
    const log = this.opts.log;
    admitRawSockets(server, this.hub, this.opts);
    server.on('secureConnection', (s: TLSSocket) => {
      const bad = sslRefusal(ssl, s);
      if (bad) {
        this.opts.count?.('transport.tls_error');
        this.hub.settle(peerAddr(s));
        log.info({ peer: peerAddr(s), reason: bad }, 'tls_peer_cert_rejected');
        s.on('error', () => {});
        s.destroy();
        return;
      }
      this.ready(s, peerCertOf(s));
    });
  }

  /** A plain socket, or a TLS socket after its handshake: open its connection and channel. */
  private ready(s: net.Socket, cert: PeerCert | null): void {
    s.setNoDelay(true);
    s.on('error', (err) => {
      if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: peerAddr(s), err: err.message }, 'socket_error');
    });
    const conn = this.hub.accept(socketPeer(s), new SocketPipe(s), { kind: this.tcp.ssl ? 'ssl' : 'tcp', sockPort: this.boundPort, cert, subprotocol: null });
    if (!conn) return;
    s.on('data', (chunk: Buffer) => conn.input(chunk));
    s.on('end', () => conn.peerEnded());
    s.on('drain', () => conn.onWritten());
    s.on('close', (hadError: boolean) => conn.lost(hadError ? 'socket_error' : 'peer_closed'));
  }

  /** Stop listening, tell every channel, flush their last frames, then drop what is left. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.hub.close();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await waitForDrain(this.hub, this.tcp.stopGraceMs ?? 1000);
    this.hub.destroyAll();
    await closed;
  }
}

/**
 * Every raw TCP socket counts against the cap and the first-frame deadline from accept on (until its
 * TLS handshake or WebSocket upgrade hands it to hub.accept), so a peer that never finishes is dropped
 * by the sweep; a failed TLS handshake is counted and logged.
 */
export function admitRawSockets<F, C extends StreamChannel<F>>(server: net.Server, hub: StreamHub<F, C>, opts: StreamOptions<F, C>): void {
  server.on('connection', (raw: net.Socket) => {
    const key = peerAddr(raw);
    if (!hub.admit(key, () => raw.destroy())) {
      raw.destroy();
      return;
    }
    raw.once('close', () => hub.settle(key));
  });
  server.on('tlsClientError', (err: Error, s: TLSSocket) => {
    opts.count?.('transport.tls_error');
    hub.settle(peerAddr(s));
    opts.log.info({ peer: peerAddr(s), reason: err.message }, 'tls_handshake_failed');
  });
}

/** Listen with exclusive: true; a bind error rejects instead of reaching the 'error' listeners. Resolves to the bound port. */
export async function listenExclusive(server: net.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

/** Wait (real time, bounded) until every connection has finished closing. */
export async function waitForDrain(hub: { readonly live: number }, graceMs: number): Promise<void> {
  const until = Date.now() + graceMs;
  await new Promise<void>((resolve) => setImmediate(resolve));
  while (hub.live > 0 && Date.now() < until) await new Promise<void>((resolve) => setTimeout(resolve, 10));
}
