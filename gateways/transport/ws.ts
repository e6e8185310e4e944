// WebSocket stream driver (STOMP over WebSocket, EMQX's `listeners.ws` with a path such as /stomp),
// plain or TLS (wss). Each message is fed to the same stream decoder as TCP bytes, since a client
// may put one or several frames (or part of one) in a message; each tick's frames go out as one
// message. Caps, deadlines, backpressure and close semantics are the connection core's.
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { StreamHub, type StreamPipe } from './stream-conn.js';
import type { PeerCert, StreamChannel, StreamOptions, StreamSslOptions } from './stream-types.js';
import { admitRawSockets, listenExclusive, peerAddr, peerCertOf, socketPeer, sslRefusal, tlsServerOptions, waitForDrain } from './tcp.js';

export interface WsOptions {
  bind: string;
  port: number;
  /** Upgrade path; any other path gets 404. */
  path: string;
  /** Subprotocols we speak, in our order of preference ('v12.stomp', 'v11.stomp', 'v10.stomp'). */
  subprotocols: string[];
  /** Refuse (400) a client that offers no subprotocol at all. */
  failIfNoSubprotocol?: boolean;
  /**
   * Message type we send: STOMP clients expect text. 'auto': text when the bytes are valid UTF-8,
   * binary otherwise (a text message with a binary body would be refused by the peer, 1007).
   */
  messageType?: 'text' | 'binary' | 'auto';
  /**
   * Largest WebSocket message accepted; ws buffers a whole message, so this bounds memory per
   * peer. Above it ws closes with 1009 and the channel hears frame_too_large. Default: twice the
   * stream cap (a message may end with a partial frame up to the cap after complete ones).
   */
  maxMessageBytes?: number;
  /** EMQX `ssl_options`: present makes this a wss listener. */
  ssl?: StreamSslOptions | null;
  stopGraceMs?: number;
}

/**
 * The subprotocol to answer with: our most preferred one the client offered (RFC 6455 §4.2.2: the
 * server selects one), '' when the client offered none, null when none of them fits.
 */
export function chooseSubprotocol(offered: ReadonlySet<string> | readonly string[], supported: readonly string[]): string | null {
  const list = [...offered];
  if (list.length === 0) return '';
  for (const p of supported) if (list.includes(p)) return p;
  return null;
}

function offeredProtocols(req: IncomingMessage): string[] {
  const h = req.headers['sec-websocket-protocol'];
  if (!h) return [];
  return h
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

function refuse(sock: Socket, status: number): void {
  if (sock.writable) sock.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  sock.destroy();
}

/** A WebSocket as the connection core drives it. */
export class WsPipe implements StreamPipe {
  private readonly sendOpts: { binary: boolean };
  private static readonly BINARY = { binary: true };
  private static readonly TEXT = { binary: false };
  constructor(
    private readonly ws: WebSocket,
    binary: boolean,
    /** Choose per message: text when valid UTF-8 (overrides `binary`). */
    private readonly auto = false,
  ) {
    this.sendOpts = { binary };
  }
  write(bufs: Buffer[], done: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    const opts = this.auto ? (isUtf8(data) ? WsPipe.TEXT : WsPipe.BINARY) : this.sendOpts;
    this.ws.send(data, opts, done);
  }
  get buffered(): number {
    return this.ws.bufferedAmount;
  }
  pauseReading(): void {
    this.ws.pause();
  }
  resumeReading(): void {
    this.ws.resume();
  }
  end(): void {
    this.ws.close(1000);
  }
  destroy(): void {
    this.ws.terminate();
  }
}

export class WsTransport<F, C extends StreamChannel<F>> {
  readonly hub: StreamHub<F, C>;
  private server: HttpServer | null = null;
  private wss: WebSocketServer | null = null;
  private boundPort = 0;

  constructor(
    private readonly wsOpts: WsOptions,
    private readonly opts: StreamOptions<F, C>,
  ) {
    this.hub = new StreamHub<F, C>(opts);
  }

  get running(): boolean {
    return this.server !== null;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const o = this.wsOpts;
    const ssl = o.ssl ?? null;
    const log = this.opts.log;
    const server: HttpServer = ssl ? createHttpsServer(tlsServerOptions(ssl, this.opts.listener)) : createHttpServer();
    const chosen = new WeakMap<IncomingMessage, string>();
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: o.maxMessageBytes ?? 2 * this.opts.maxBufferedBytes,
      handleProtocols: (_offered, req) => chosen.get(req) || false,
    });
    // Every TCP socket counts against the cap and the first-frame deadline until its upgrade.
    admitRawSockets(server, this.hub, this.opts);
    server.on('request', (_req, res) => {
      res.writeHead(426, { connection: 'close', upgrade: 'websocket' });
      res.end();
    });
    server.on('clientError', (_err, sock: Socket) => sock.destroy());
    server.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) => {
      const key = peerAddr(sock);
      const path = (req.url ?? '/').split('?')[0];
      if (path !== o.path) {
        log.info({ peer: key, path, reason: 'wrong_path' }, 'ws_upgrade_refused');
        this.hub.settle(key);
        return refuse(sock, 404);
      }
      const proto = chooseSubprotocol(offeredProtocols(req), o.subprotocols);
      if (proto === null || (proto === '' && o.failIfNoSubprotocol)) {
        log.info({ peer: key, offered: req.headers['sec-websocket-protocol'] ?? null, reason: 'subprotocol_not_supported' }, 'ws_upgrade_refused');
        this.hub.settle(key);
        return refuse(sock, 400);
      }
      let cert: PeerCert | null = null;
      if (ssl) {
        const bad = sslRefusal(ssl, sock as TLSSocket);
        if (bad) {
          this.opts.count?.('transport.tls_error');
          log.info({ peer: key, reason: bad }, 'tls_peer_cert_rejected');
          this.hub.settle(key);
          return refuse(sock, 403);
        }
        cert = peerCertOf(sock as TLSSocket);
      }
      if (proto !== '') chosen.set(req, proto);
      wss.handleUpgrade(req, sock, head, (ws) => this.ready(ws, sock, proto, cert));
    });
    const port = await listenExclusive(server, o.bind, o.port);
    server.on('error', (err) => log.warn({ err: err.message, reason: 'listener_error' }, 'ws_listener_error'));
    this.boundPort = port;
    this.server = server;
    this.wss = wss;
  }

  private ready(ws: WebSocket, sock: Socket, subprotocol: string, cert: PeerCert | null): void {
    const log = this.opts.log;
    const type = this.wsOpts.messageType ?? 'binary';
    const pipe = new WsPipe(ws, type === 'binary', type === 'auto');
    const conn = this.hub.accept(socketPeer(sock), pipe, { kind: this.wsOpts.ssl ? 'wss' : 'ws', sockPort: this.boundPort, cert, subprotocol });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws refuses an oversized message itself (close 1009); the channel hears it as a frame error.
      if (conn && err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') conn.messageTooLarge(err.message);
      else if (log.isLevelEnabled('debug')) log.debug({ peer: peerAddr(sock), err: err.message }, 'ws_error');
    });
    if (!conn) return;
    ws.on('message', (data: Buffer) => conn.input(data));
    // 1000 normal, 1001 going away, 1005 no status: an ordinary end; anything else is an error.
    ws.on('close', (code: number) => conn.lost(code === 1000 || code === 1001 || code === 1005 ? 'peer_closed' : 'socket_error'));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.hub.close();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await waitForDrain(this.hub, this.wsOpts.stopGraceMs ?? 1000);
    this.hub.destroyAll();
    server.closeAllConnections();
    this.wss?.close();
    this.wss = null;
    await closed;
  }
}
