// The TCP accept gate every extra listener shares: a plain net.Server that counts connections
// (max_connections) and paces new ones (max_conn_rate) before any TLS or HTTP work is done, then
// injects the socket into the TLS/HTTP server with emit('connection'). Pacing happens ahead of the
// handshake so a connection flood costs no crypto (EMQX pauses its acceptors the same way, §2).
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Connections per ms for "1000/s" style rates; null for "infinity". */
export function parseConnRate(rate: string): number | null {
  if (rate === 'infinity') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)\s*$/i.exec(rate);
  if (!m) throw new Error(`bad rate ${JSON.stringify(rate)}`);
  return Number(m[1]) / (Number(m[2] ?? 1) * UNIT_MS[m[3]!.toLowerCase()]!);
}

/** Connections waiting for their turn under max_conn_rate; beyond this they are dropped. */
const MAX_WAITING = 1024;
/** A socket the layer above has not taken over (TLS or WebSocket handshake done) this long after
 * it was let through is dropped, as EMQX's handshake_timeout (15 s) does. */
const PRE_ACCEPT_IDLE_MS = 15_000;
/** How often that deadline is checked, at most: one timer per gate, not one per socket. */
const PRE_ACCEPT_SWEEP_MS = 1_000;

/** Socket errors during accept need no log: the layer above reports what matters. */
function ignoreError(): void {}

export interface GateOptions {
  id: string;
  bind: string;
  port: number;
  maxConnections: number;
  maxConnRate: string;
  log: Logger;
  /** Hand the raw socket on (emit 'connection' into the TLS/HTTP server). */
  handOver(sock: Socket): void;
  /** Time the layer above has to release a socket (default 15 s). */
  preAcceptMs?: number;
}

/** The part of a listener's config the gate needs (TLS, WS and WSS listeners share these keys). */
export interface GateConfig {
  bind: string;
  port: number;
  max_connections: number;
  max_conn_rate: string;
}

/** Gate options from a listener's config section. */
export function gateOptions(id: string, cfg: GateConfig, log: Logger, handOver: (sock: Socket) => void): GateOptions {
  return { id, bind: cfg.bind, port: cfg.port, maxConnections: cfg.max_connections, maxConnRate: cfg.max_conn_rate, log, handOver };
}

export class AcceptGate {
  readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Sockets not yet released by the layer above -> when they must be; insertion order is deadline order. */
  private readonly pending = new Map<Socket, number>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** One 'close' listener shared by every socket (`this` is the socket): per-socket closures and timers
   * were ~0.45 KiB of each idle connection (bench idle-conns, heap snapshot 2026-11-22). */
  private readonly forget: (this: Socket) => void;
  private rate: number | null;
  private tokens: number;
  private last = Date.now();
  private waiting = 0;
  private refusedFull = 0;
  private refusedRate = 0;

  constructor(private opts: GateOptions) {
    this.rate = parseConnRate(opts.maxConnRate);
    this.tokens = this.capacity();
    this.server = createServer({ pauseOnConnect: true, noDelay: true }, (s) => this.onConnection(s));
    const gate = this;
    this.forget = function (this: Socket) {
      gate.sockets.delete(this);
      gate.pending.delete(this);
    };
  }

  private capacity(): number {
    return this.rate === null ? Infinity : Math.max(1, this.rate * 1000);
  }

  /** Apply new limits (reload). */
  setLimits(maxConnections: number, maxConnRate: string): void {
    this.rate = parseConnRate(maxConnRate);
    this.tokens = Math.min(this.tokens, this.capacity());
    this.opts = { ...this.opts, maxConnections, maxConnRate };
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.opts.port, host: this.opts.bind, backlog: 1024 }, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.opts.log.error({ err, listener: this.opts.id }, 'listener_error'));
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  current(): number {
    return this.sockets.size;
  }

  private onConnection(sock: Socket): void {
    const max = this.opts.maxConnections;
    if (max > 0 && this.sockets.size >= max) {
      // Logged on the first refusal and then every 1000th, so a flood cannot flood the log.
      if (this.refusedFull++ % 1000 === 0) this.opts.log.warn({ listener: this.opts.id, max_connections: max, refused: this.refusedFull, peer: sock.remoteAddress }, 'listener_max_connections_reached');
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.on('close', this.forget);
    sock.on('error', ignoreError);
    const limit = this.opts.preAcceptMs ?? PRE_ACCEPT_IDLE_MS;
    this.pending.set(sock, Date.now() + limit);
    this.sweeper ??= setInterval(() => this.dropLate(), Math.min(PRE_ACCEPT_SWEEP_MS, limit)).unref();
    const wait = this.takeToken();
    if (wait <= 0) {
      this.pass(sock);
      return;
    }
    if (this.waiting >= MAX_WAITING) {
      if (this.refusedRate++ % 1000 === 0) this.opts.log.warn({ listener: this.opts.id, max_conn_rate: this.opts.maxConnRate, dropped: this.refusedRate }, 'listener_conn_rate_exceeded');
      sock.destroy();
      return;
    }
    this.waiting++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.waiting--;
      if (!sock.destroyed) this.pass(sock);
    }, wait);
    this.timers.add(t);
  }

  /**
   * The layer above has taken the socket over (the plain TCP listener at once, TLS and WebSocket after
   * their handshakes): from here MQTT's idle_timeout and keepalive apply, not the gate's deadline.
   */
  release(sock: Socket): void {
    // The sweeper stops itself once it finds nothing pending: stopping it here would start and stop
    // an interval for every plain TCP connection, which is released as soon as it is let through.
    this.pending.delete(sock);
  }

  private dropLate(): void {
    const now = Date.now();
    for (const [sock, deadline] of this.pending) {
      if (deadline > now) break;
      this.pending.delete(sock);
      sock.destroy();
    }
    if (this.pending.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private takeToken(): number {
    if (this.rate === null) return 0;
    const now = Date.now();
    this.tokens = Math.min(this.capacity(), this.tokens + (now - this.last) * this.rate);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.rate);
  }

  private pass(sock: Socket): void {
    try {
      this.opts.handOver(sock);
    } catch (err) {
      this.opts.log.error({ err, listener: this.opts.id }, 'listener_handover_failed');
      sock.destroy();
    }
  }

  /** Stop accepting; sockets still in the gate (waiting or handshaking) are dropped. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.stopSweeper();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close();
      // server.close's callback waits for every connection; the listening socket is gone now.
      setImmediate(resolve);
    });
  }

  /** Every socket that came through this listener, for a forced shutdown. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
