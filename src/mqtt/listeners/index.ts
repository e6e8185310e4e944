// The listeners beyond plain TCP: MQTT/TLS, MQTT over WebSocket and over secure WebSocket, one per
// enabled [listeners.<type>.<name>] section. Each hands every connection to `accept` as a Duplex;
// the MQTT front end does the rest.
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { AcceptFn, AcceptedConnection, ListenerHandle } from '../listener.js';
// TLS and WebSocket code (and the ws package) load only when such a listener is configured.

export { parseConnRate } from './gate.js';

/**
 * Start every enabled ssl/ws/wss listener. If one cannot start (port taken, certificate missing),
 * those already started are closed and the error names the listener.
 */
export async function startExtraListeners(config: Config, accept: AcceptFn, log: Logger): Promise<ListenerHandle[]> {
  const started: ListenerHandle[] = [];
  const l = config.listeners;
  const jobs: [string, () => Promise<ListenerHandle>][] = [];
  // A WebSocket message is buffered whole before the channel sees it; by default allow one
  // largest MQTT packet (max_packet_size plus its fixed header) per message.
  const maxFrame = (config.mqtt?.max_packet_size ?? 1048576) + 5;
  for (const [name, c] of Object.entries(l.ssl)) if (c.enable) jobs.push([`ssl:${name}`, async () => (await import('./tls-listener.js')).startTlsListener(name, c, accept, log)]);
  for (const [name, c] of Object.entries(l.ws)) if (c.enable) jobs.push([`ws:${name}`, async () => (await import('./ws-listener.js')).startWsListener('ws', name, c, accept, log, maxFrame)]);
  for (const [name, c] of Object.entries(l.wss)) if (c.enable) jobs.push([`wss:${name}`, async () => (await import('./ws-listener.js')).startWsListener('wss', name, c, accept, log, maxFrame)]);
  for (const [id, start] of jobs) {
    try {
      started.push(await start());
    } catch (err) {
      for (const h of started) await h.close().catch(() => {});
      const e = new Error(`listener ${id} failed to start: ${(err as Error).message}`);
      (e as Error & { code: string }).code = 'OUTPOST_ERR_LISTENER_START';
      throw e;
    }
  }
  return started;
}

/**
 * Wrap the front end's accept with a global connection cap (auth's ConnectionCounter or anything
 * with tryAcquire): over the cap the socket is closed at once; otherwise the slot is released when
 * the socket closes. Use the same wrapped accept for the TCP listener and these listeners.
 */
export function withConnectionCap(accept: AcceptFn, cap: { tryAcquire(): (() => void) | null }, log: Logger): AcceptFn {
  let refused = 0;
  return (c: AcceptedConnection) => {
    const release = cap.tryAcquire();
    if (!release) {
      if (refused++ % 1000 === 0) log.warn({ listener: c.listener, peer: `${c.peerHost}:${c.peerPort}`, refused }, 'max_connections_reached');
      c.socket.destroy();
      return;
    }
    c.socket.once('close', release);
    accept(c);
  };
}
