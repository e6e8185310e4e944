// The ExProto gateway (EMQX 5's emqx.exproto.v1 contract): device listeners (TCP, SSL, UDP, DTLS) whose
// bytes and events go to the user's gRPC handler, and the ConnectionAdapter server through which
// that handler authenticates, publishes, subscribes, writes to and closes its devices.
import { randomBytes } from 'node:crypto';
import type { Gateway, GatewayContext, GatewayModule, ListenerInfo, QoS } from '../gateway.js';
import { TcpTransport } from '../transport/tcp.js';
import { UdpTransport } from '../transport/udp.js';
import { DtlsGatewayListener, dtlsStats } from '../transport/dtls-listener.js';
import type { StreamChannel, StreamCloseReason, StreamCodec, StreamLink, StreamOptions } from '../transport/stream-types.js';
import type { Link, TransportChannel } from '../transport/types.js';
import { AdapterServer, type AdapterBackend } from './adapter-server.js';
import { ExprotoChannel, type DeviceSocket, type ExprotoCounter } from './channel.js';
import type { exprotoConfigSchema, ExprotoConfig } from './config.js';
import { HandlerClient } from './handler-client.js';
import { KEEPALIVE_SWEEP_MS } from './params.js';
import { code, type CodeResponse } from './proto.js';

export type { ExprotoConfig } from './config.js';

/** ExProto has no framing of its own: each read (or datagram) is one chunk for OnReceivedBytes. */
export const rawCodec: StreamCodec<Buffer> = {
  decode: (buf) => ({ kind: 'frame', frame: buf, rest: Buffer.alloc(0) }),
  decodeStream: (buf) => ({ kind: 'frame', frame: buf, rest: Buffer.alloc(0) }),
  encode: (b) => b,
  format: (b) => `${b.length} bytes`,
};

/** base64url of 12 random bytes: opaque to the handler, unguessable, URL-safe (spec §6). */
const CONN_RE = /^[A-Za-z0-9_-]{16}$/;
export function newConnId(): string {
  return randomBytes(12).toString('base64url');
}

/** Stream close reasons in EMQX's words (OnSocketClosed.reason). */
function streamReason(r: StreamCloseReason, ssl: boolean): string {
  switch (r) {
    case 'peer_closed':
      return ssl ? 'ssl_closed' : 'tcp_closed';
    case 'socket_error':
      return ssl ? 'ssl_error' : 'tcp_error';
    case 'first_frame_timeout':
    case 'idle_timeout':
      return 'idle_timeout';
    default:
      return r;
  }
}

/** A stream connection's ExProto channel, as the TCP/TLS driver sees it. */
class StreamSide implements StreamChannel<Buffer> {
  constructor(readonly ch: ExprotoChannel) {}
  handleFrame(b: Buffer): void {
    this.ch.input(b);
  }
  handleFrameError(): void {}
  handleIdle(): boolean {
    return false;
  }
  handleTransportClosed(): void {
    this.ch.transportClosed();
  }
  handleClosed(reason: StreamCloseReason): void {
    const r = streamReason(reason, this.ch.connInfo().socktype === 'SSL');
    this.ch.socketClosed(r, r === 'idle_timeout' ? 'idle_timeout' : r === 'tcp_closed' || r === 'ssl_closed' ? 'tcp_closed' : 'sock_closed');
  }
}

/** A UDP peer's ExProto channel, as the datagram mux sees it. */
class DatagramSide implements TransportChannel<Buffer> {
  constructor(readonly ch: ExprotoChannel) {}
  handleFrame(b: Buffer): void {
    this.ch.input(b);
  }
  handleFrameError(): void {}
  handleIdle(): boolean {
    return this.ch.idle();
  }
  handleTransportClosed(): void {
    this.ch.transportClosed();
  }
}

type Listener =
  | { kind: 'tcp' | 'ssl'; id: string; t: TcpTransport<Buffer, StreamSide> }
  | { kind: 'udp'; id: string; t: UdpTransport<Buffer, DatagramSide> }
  | { kind: 'dtls'; id: string; t: UdpTransport<Buffer, DatagramSide>; dtls: DtlsGatewayListener };

export class ExprotoGateway implements Gateway {
  private readonly conns = new Map<string, ExprotoChannel>();
  private readonly transports: Listener[] = [];
  private handler: HandlerClient | null = null;
  private adapter: AdapterServer | null = null;
  private sweepTimer: ReturnType<GatewayContext['clock']['setTimeout']> | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly cfg: ExprotoConfig,
    private readonly genConn: () => string = newConnId,
  ) {}

  private readonly inc = (name: ExprotoCounter | string): void => this.ctx.metrics.inc(name);

  /** Live connections by conn (tests, diagnostics). */
  get connections(): ReadonlyMap<string, ExprotoChannel> {
    return this.conns;
  }

  /** Port the ConnectionAdapter server bound (the real one after port 0). */
  get adapterPort(): number {
    return this.adapter?.port ?? 0;
  }

  // ---- AdapterBackend ----

  channel(conn: string): ExprotoChannel | undefined | null {
    if (!CONN_RE.test(conn)) return null;
    const ch = this.conns.get(conn);
    return ch && ch.open ? ch : undefined;
  }

  /** Publish without a connection: as the gateway itself ('exproto'), no ACL, no mountpoint (spec §3). */
  rawPublish(topic: string, qos: number, payload: Buffer): CodeResponse {
    if (qos !== 0 && qos !== 1 && qos !== 2) return code('PARAMS_TYPE_ERROR', 'qos must be 0, 1 or 2');
    const r = this.ctx.publishSessionless({ clientId: 'exproto', username: null, peerHost: '', peerPort: 0, listener: 'exproto:server', superuser: true }, topic, payload, { qos: qos as QoS, retain: false, noMountpoint: true });
    if (!r.ok) {
      this.ctx.log.info({ topic, reason: r.reason }, 'raw_publish_refused');
      return code(r.reason === 'topic_invalid' ? 'PARAMS_TYPE_ERROR' : 'UNKNOWN', r.reason);
    }
    return code('SUCCESS');
  }

  countAdapter = (method: string): void => this.inc(`adapter.${method}`);

  // ---- connections ----

  private openChannel(socket: DeviceSocket): ExprotoChannel | null {
    if (this.stopped || !this.handler) return null;
    let conn = this.genConn();
    while (this.conns.has(conn)) conn = this.genConn();
    const ch = new ExprotoChannel({
      conn,
      ctx: this.ctx,
      socket,
      handler: this.handler,
      log: this.ctx.log.child({ gw: 'exproto', listener: socket.listener, peer: `${socket.peerHost}:${socket.peerPort}`, conn }),
      maxQueued: this.cfg.max_queued_events,
      placeholderId: `exproto-${randomBytes(8).toString('hex')}`,
      count: this.inc,
      gone: (c) => this.conns.delete(c),
    });
    this.conns.set(conn, ch);
    ch.start();
    return ch;
  }

  private streamSocket(link: StreamLink<Buffer>, bind: string): DeviceSocket {
    return {
      socktype: link.kind === 'ssl' ? 'SSL' : 'TCP',
      peerHost: link.peer.address,
      peerPort: link.peer.port,
      sockHost: bind,
      sockPort: link.sockPort,
      cert: link.cert ? { cn: link.cert.commonName ?? '', dn: link.cert.subject ?? '' } : null,
      listener: link.listener,
      stream: true,
      send: (b) => link.send(b),
      close: () => link.close(),
      keepaliveStarted: () => link.waiveFirstFrame?.(),
    };
  }

  private datagramSocket(link: Link<Buffer>, bind: string, port: () => number): DeviceSocket {
    // Over DTLS the handshake proved a PSK identity or a certificate: the handler sees DTLS and the
    // certificate (ConnInfo.peercert), and authentication takes either.
    const sec = link.peer.security;
    const cert = sec?.cert;
    return {
      socktype: sec ? 'DTLS' : 'UDP',
      peerHost: link.peer.address,
      peerPort: link.peer.port,
      sockHost: bind,
      sockPort: port(),
      cert: cert ? { cn: cert.commonName ?? '', dn: cert.subject ?? '' } : null,
      ...(sec?.pskIdentity !== undefined ? { pskIdentity: sec.pskIdentity } : {}),
      listener: link.listener,
      stream: false,
      send: (b) => link.send(b),
      close: () => link.close(),
      // The mux asks idle() before dropping a peer; the channel answers from its keepalive.
      keepaliveStarted: () => {},
    };
  }

  private streamOptions(id: string, maxConnections: number, bind: string): StreamOptions<Buffer, StreamSide> {
    return {
      codec: rawCodec,
      listener: id,
      clock: this.ctx.clock,
      log: this.ctx.log.child({ gw: 'exproto', listener: id }),
      // Keepalive is the handler's (StartTimer); idle_timeout only bounds the wait for the first bytes (EMQX).
      idleMs: 0,
      maxConnections,
      firstFrameMs: this.cfg.idle_timeout * 1000,
      maxBufferedBytes: 1 << 20,
      writeHighWater: 1 << 20,
      drainTimeoutMs: 15_000,
      open: (link) => {
        const ch = this.openChannel(this.streamSocket(link, bind));
        return ch ? new StreamSide(ch) : null;
      },
      count: (n) => this.inc(n),
    };
  }

  async start(): Promise<void> {
    this.stopped = false;
    const log = this.ctx.log.child({ gw: 'exproto' });
    try {
      this.handler = new HandlerClient(this.cfg.handler, log);
      this.adapter = new AdapterServer(this.cfg.server, { channel: (c) => this.channel(c), rawPublish: (t, q, p) => this.rawPublish(t, q, p), count: this.countAdapter }, log);
      await this.adapter.start();
      const streams = [
        ...Object.entries(this.cfg.listeners.tcp).map(([name, l]) => ({ kind: 'tcp' as const, name, l, ssl: null })),
        ...Object.entries(this.cfg.listeners.ssl).map(([name, l]) => ({ kind: 'ssl' as const, name, l, ssl: l.ssl_options })),
      ];
      for (const { kind, name, l, ssl } of streams) {
        if (!l.enable) continue;
        const id = `${kind}:${name}`;
        const t = new TcpTransport<Buffer, StreamSide>({ bind: l.bind, port: l.port, ssl }, this.streamOptions(id, l.max_connections, l.bind));
        await t.start();
        this.transports.push({ kind, id, t });
        log.info({ listener: id, bind: t.bindAddress }, 'listener_started');
      }
      for (const [name, l] of Object.entries(this.cfg.listeners.udp)) {
        if (!l.enable) continue;
        const id = `udp:${name}`;
        const t = await this.startDatagram(id, l);
        this.transports.push({ kind: 'udp', id, t });
        log.info({ listener: id, bind: t.bindAddress }, 'listener_started');
      }
      for (const [name, l] of Object.entries(this.cfg.listeners.dtls)) {
        if (!l.enable) continue;
        const id = `dtls:${name}`;
        const dtls = new DtlsGatewayListener(`gateway.exproto.listeners.dtls.${name}`, l, this.ctx.psk, this.ctx.log);
        const t = await this.startDatagram(id, l, dtls);
        this.transports.push({ kind: 'dtls', id, t, dtls });
        log.info({ listener: id, bind: t.bindAddress }, 'listener_started');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.armSweep();
  }

  /** A datagram listener (plain UDP, or DTLS through the engine's socket factory): one channel per peer. */
  private async startDatagram(id: string, l: { bind: string; port: number; max_connections: number }, dtls?: DtlsGatewayListener): Promise<UdpTransport<Buffer, DatagramSide>> {
    let t: UdpTransport<Buffer, DatagramSide> | null = null;
    const port = (): number => t?.port ?? l.port;
    t = new UdpTransport<Buffer, DatagramSide>(
      { bind: l.bind, port: l.port, ...(dtls ? { socketFactory: dtls.factory } : {}) },
      {
        codec: rawCodec,
        listener: id,
        clock: this.ctx.clock,
        log: this.ctx.log.child({ gw: 'exproto', listener: id }),
        idleMs: this.cfg.idle_timeout * 1000,
        maxChannels: l.max_connections,
        open: (link) => {
          const ch = this.openChannel(this.datagramSocket(link, l.bind, port));
          return ch ? new DatagramSide(ch) : null;
        },
        count: (n) => this.inc(n),
      },
    );
    await t.start();
    return t;
  }

  private armSweep(): void {
    if (this.stopped) return;
    this.sweepTimer = this.ctx.clock.setTimeout(() => {
      const now = this.ctx.clock.now();
      for (const ch of [...this.conns.values()]) ch.checkKeepalive(now);
      this.armSweep();
    }, KEEPALIVE_SWEEP_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) this.ctx.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    const ts = this.transports.splice(0);
    await Promise.all(ts.map((x) => x.t.stop()));
    // Give the handler a moment to take the OnSocketClosed calls of the closed devices.
    const until = Date.now() + 1000;
    while (this.conns.size > 0 && Date.now() < until) await new Promise<void>((r) => setTimeout(r, 10));
    await this.adapter?.stop();
    this.adapter = null;
    this.handler?.close();
    this.handler = null;
  }

  /** Nothing of ExProto's applies live (sockets, the adapter, the handler channel): a change needs a restart. */
  async reload(config: unknown): Promise<void> {
    const next = (await import('./config.js')).exprotoConfigSchema.parse(config);
    if (JSON.stringify(next) !== JSON.stringify(this.cfg)) throw new Error('gateway.exproto changed: restart to apply');
  }

  listeners(): ListenerInfo[] {
    return this.transports.map((x) => ({ id: x.id, type: x.kind, bind: x.t.bindAddress, running: x.t.running, ...(x.kind === 'dtls' ? dtlsStats(x.dtls) : {}) }));
  }
}

export const exprotoGateway: GatewayModule<typeof exprotoConfigSchema> = {
  name: 'exproto',
  protoName: 'exproto',
  sysName: 'exproto',
  loadConfigSchema: async () => (await import('./config.js')).exprotoConfigSchema,
  create(ctx, config) {
    return new ExprotoGateway(ctx, config);
  },
};
