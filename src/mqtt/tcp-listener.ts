// The plain MQTT/TCP listener ([mqtt] bind/port). It shares the accept gate of the TLS and
// WebSocket listeners (listeners/gate.ts): max_connections and max_conn_rate are enforced before
// a channel exists.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AcceptFn, ListenerHandle } from './listener.js';
import { AcceptGate } from './listeners/gate.js';

export interface TcpListenerOptions {
  id: string;
  bind: string;
  port: number;
  maxConnections: number;
  maxConnRate: string;
}

export async function startTcpListener(opts: TcpListenerOptions, accept: AcceptFn, log: Logger): Promise<ListenerHandle> {
  let port = opts.port;
  const gate = new AcceptGate({
    id: opts.id,
    bind: opts.bind,
    port: opts.port,
    maxConnections: opts.maxConnections,
    maxConnRate: opts.maxConnRate,
    log,
    handOver: (socket: Socket) => {
      // The gate's pre-handshake deadline is not needed past this point: the channel has
      // idle_timeout and keepalive of its own.
      gate.release(socket);
      // Request/response flows (QoS 1/2 acks) must not wait for Nagle + delayed ACK.
      socket.setNoDelay(true);
      socket.resume();
      accept({
        socket,
        listener: opts.id,
        peerHost: normalizeHost(socket.remoteAddress ?? ''),
        peerPort: socket.remotePort ?? 0,
        sockPort: socket.localPort ?? port,
      });
    },
  });
  port = await gate.listen();
  log.info({ listener: opts.id, bind: opts.bind, port }, 'listener_started');
  return {
    id: opts.id,
    port,
    bind: opts.bind,
    type: 'tcp',
    currentConnections: () => gate.current(),
    async close() {
      await gate.close();
      // Connections still open after their channels were ended are cut after a grace period.
      setTimeout(() => gate.destroyAll(), 2000).unref();
    },
    async reload(next: unknown) {
      const m = (next as Config).mqtt;
      gate.setLimits(m.max_connections, m.max_conn_rate);
    },
  };
}

/** '::ffff:127.0.0.1' -> '127.0.0.1' so ACL rules and bans written for IPv4 match. */
export function normalizeHost(h: string): string {
  return h.startsWith('::ffff:') ? h.slice(7) : h;
}
