// MQTT over WebSocket (EMQX listeners.ws 8083 and listeners.wss 8084, path /mqtt). Each binary
// WebSocket message carries MQTT bytes; ws.createWebSocketStream turns the socket into the Duplex
// the MQTT front end reads like TCP (MQTT 5 §6: packets may span or share messages).
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createHttpServer, STATUS_CODES } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { AcceptFn, ListenerHandle } from '../listener.js';
import type { WebsocketOptions, WsListenerConfig, WssListenerConfig } from './config.js';
import { AcceptGate, gateOptions } from './gate.js';
import { peerCertificate, rejectBadPeerCert, secureContextOptions, serverOptions } from './tls-options.js';
import { certAsOf, configOf } from './util.js';

/** The first subprotocol the client offered that we support, '' when it offered none, null when none fit. */
export function pickSubprotocol(header: string | undefined, supported: readonly string[]): string | null {
  if (header === undefined || header.trim() === '') return '';
  const offered = header.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of offered) if (supported.includes(p)) return p;
  return null;
}

function refuse(sock: Socket, status: number): void {
  if (sock.writable) sock.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  sock.destroy();
}

function clientAddress(req: IncomingMessage, ws: WebsocketOptions): { host: string; port: number } {
  const host = req.socket.remoteAddress ?? '';
  const port = req.socket.remotePort ?? 0;
  if (ws.proxy_address_header === '') return { host, port };
  const v = req.headers[ws.proxy_address_header.toLowerCase()];
  const first = (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  return first ? { host: first, port } : { host, port };
}

export async function startWsListener(
  type: 'ws' | 'wss',
  name: string,
  cfg: WsListenerConfig | WssListenerConfig,
  accept: AcceptFn,
  log: Logger,
  /** Bound for one WebSocket message when max_frame_size is 0: ws buffers a whole message in memory. */
  defaultMaxFrame = 1024 * 1024 + 5,
): Promise<ListenerHandle> {
  const id = `${type}:${name}`;
  const llog = log.child({ listener: id });
  let current = cfg;
  const ssl = type === 'wss' ? (cfg as WssListenerConfig).ssl_options : null;
  const server: HttpServer = ssl ? createHttpsServer(serverOptions(ssl, id)) : createHttpServer();
  // Plain HTTP requests to a WebSocket endpoint get 426 and nothing else.
  server.on('request', (_req, res) => {
    res.writeHead(426, { connection: 'close', upgrade: 'websocket' });
    res.end();
  });
  server.on('tlsClientError', (err: Error, s: TLSSocket) => {
    llog.info({ peer: `${s.remoteAddress}:${s.remotePort}`, reason: err.message }, 'tls_handshake_failed');
  });
  server.on('clientError', (_err, sock: Socket) => sock.destroy());
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: false,
    maxPayload: cfg.websocket.max_frame_size > 0 ? cfg.websocket.max_frame_size : defaultMaxFrame,
    handleProtocols: (protocols) => {
      for (const p of protocols) if (current.websocket.supported_subprotocols.includes(p)) return p;
      return false;
    },
  });
  let port = 0;

  server.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) => {
    const w = current.websocket;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== w.mqtt_path) {
      llog.debug({ path }, 'ws_upgrade_wrong_path');
      return refuse(sock, 404);
    }
    if (w.check_origin_enable) {
      const origin = req.headers.origin;
      if (!origin || !w.check_origins.includes(origin)) {
        llog.info({ origin, peer: sock.remoteAddress }, 'ws_origin_rejected');
        return refuse(sock, 403);
      }
    }
    const proto = pickSubprotocol(req.headers['sec-websocket-protocol'], w.supported_subprotocols);
    if (proto === null || (proto === '' && w.fail_if_no_subprotocol)) {
      llog.info({ offered: req.headers['sec-websocket-protocol'] ?? null, peer: sock.remoteAddress }, 'ws_subprotocol_rejected');
      return refuse(sock, 400);
    }
    if (ssl) {
      const bad = rejectBadPeerCert(ssl, sock as TLSSocket);
      if (bad) {
        llog.info({ peer: `${sock.remoteAddress}:${sock.remotePort}`, reason: bad }, 'tls_peer_cert_rejected');
        return refuse(sock, 403);
      }
    }
    wss.handleUpgrade(req, sock, head, (ws) => {
      // The gate's deadline guarded the handshakes; from here MQTT keepalive applies.
      gate.release((sock as unknown as { _parent?: Socket })._parent ?? sock);
      const stream = createWebSocketStream(ws);
      // Behave like a TCP socket without half-open: once the peer's side has ended and everything
      // was read, close, so 'close' (connection counting, session cleanup) always follows.
      stream.once('end', () => stream.destroy());
      // Errors (a peer that vanishes mid-frame) surface as close on the stream; the front end logs those.
      ws.on('error', (err) => llog.debug({ err: err.message }, 'ws_error'));
      const addr = clientAddress(req, w);
      const cert = ssl ? peerCertificate(sock as TLSSocket) : undefined;
      accept({
        socket: stream,
        listener: id,
        peerHost: addr.host,
        peerPort: addr.port,
        sockPort: port,
        ...(cert ? { cert } : {}),
        ...certAsOf(current),
      });
    });
  });

  const gate = new AcceptGate(
    gateOptions(id, cfg, llog, (sock) => {
      server.emit('connection', sock);
      // The gate accepted with pauseOnConnect; TLS wraps the handle and reads by itself, plain HTTP
      // needs the socket resumed.
      if (!ssl) sock.resume();
    }),
  );
  port = await gate.listen();
  llog.info({ bind: cfg.bind, port, path: cfg.websocket.mqtt_path }, 'listener_started');
  return {
    id,
    type,
    bind: cfg.bind,
    get port() {
      return port;
    },
    currentConnections: () => gate.current(),
    close: async () => {
      await gate.close();
      wss.close();
    },
    async reload(config: unknown) {
      const next = configOf(config, type, name) as WsListenerConfig | WssListenerConfig | null;
      if (!next) throw new Error(`listener ${id} is no longer configured`);
      if (type === 'wss') {
        const ctx = secureContextOptions((next as WssListenerConfig).ssl_options, id);
        createSecureContext(ctx);
        (server as unknown as { setSecureContext(o: object): void }).setSecureContext(ctx);
      }
      gate.setLimits(next.max_connections, next.max_conn_rate);
      current = next;
      llog.info('listener_reloaded');
    },
  };
}
