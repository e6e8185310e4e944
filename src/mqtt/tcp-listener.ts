// The plain MQTT/TCP listener ([mqtt] bind/port). TLS and WebSocket listeners live in listeners/.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AcceptFn, ListenerHandle } from './listener.js';

export async function startTcpListener(opts: { id: string; bind: string; port: number; maxConnections: number }, accept: AcceptFn, log: Logger): Promise<ListenerHandle> {
  let current = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket: Socket) => {
    if (opts.maxConnections > 0 && current >= opts.maxConnections) {
      log.warn({ listener: opts.id, max: opts.maxConnections }, 'connection_refused: max_connections reached');
      socket.destroy();
      return;
    }
    current++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Request/response flows (QoS 1/2 acks) must not wait for Nagle + delayed ACK.
    socket.setNoDelay(true);
    socket.once('close', () => current--);
    accept({
      socket,
      listener: opts.id,
      peerHost: normalizeHost(socket.remoteAddress ?? ''),
      peerPort: socket.remotePort ?? 0,
      sockPort: socket.localPort ?? 0,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.bind, port: opts.port, backlog: 1024 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err, listener: opts.id }, 'listener_error'));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ listener: opts.id, bind: opts.bind, port }, 'listener_started');
  return {
    id: opts.id,
    port,
    bind: opts.bind,
    type: 'tcp',
    currentConnections: () => current,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Connections still open after their channels were ended are cut after a grace period.
        setTimeout(() => {
          for (const sock of sockets) sock.destroy();
        }, 2000).unref();
      }),
  };
}

/** '::ffff:127.0.0.1' -> '127.0.0.1' so ACL rules and bans written for IPv4 match. */
export function normalizeHost(h: string): string {
  return h.startsWith('::ffff:') ? h.slice(7) : h;
}
