// The STOMP gateway: TCP (61613), TLS and WebSocket (/stomp, v10/v11/v12.stomp) listeners on the
// shared stream drivers, one StompChannel per connection.
import { randomBytes } from 'node:crypto';
import type { Gateway, GatewayContext, GatewayModule, ListenerInfo } from '../gateway.js';
import { TcpTransport } from '../transport/tcp.js';
import { WsTransport } from '../transport/ws.js';
import type { StreamCounter, StreamOptions, StreamSslOptions } from '../transport/stream-types.js';
import type { stompConfigSchema, StompConfig } from './config.js';
import { stompCodec, type FrameLimits, type StompFrame } from './frame.js';
import { StompChannel, type StompCounter } from './channel.js';

export type { StompConfig } from './config.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** EMQX gives a STOMP client a random 16-character id unless clientinfo_override names one. */
function generateClientId(): string {
  let s = '';
  for (const x of randomBytes(16)) s += ALPHABET[x % ALPHABET.length];
  return s;
}

type Listener =
  | { kind: 'tcp' | 'ssl'; id: string; t: TcpTransport<StompFrame, StompChannel> }
  | { kind: 'ws'; id: string; t: WsTransport<StompFrame, StompChannel> };

export function frameLimits(cfg: StompConfig): FrameLimits {
  return { maxHeaders: cfg.frame.max_headers, maxHeaderLength: cfg.frame.max_headers_length, maxBodyLength: cfg.frame.max_body_length };
}

export class StompGateway implements Gateway {
  private readonly listenersList: Listener[] = [];

  constructor(
    private readonly ctx: GatewayContext,
    private cfg: StompConfig,
  ) {}

  /** The host prefixes `gateway.stomp.`. */
  private count = (name: StompCounter | StreamCounter): void => this.ctx.metrics.inc(name);

  private streamOptions(listener: string, maxConnections: number): StreamOptions<StompFrame, StompChannel> {
    const cfg = this.cfg;
    const limits = frameLimits(cfg);
    // Room for a whole frame at the limits: command, headers, body, EOLs and NUL.
    const maxFrame = 64 + limits.maxHeaders * (limits.maxHeaderLength + 3) + limits.maxBodyLength + 64;
    const idleMs = cfg.idle_timeout * 1000;
    return {
      codec: stompCodec(limits),
      listener,
      clock: this.ctx.clock,
      log: this.ctx.log.child({ gw: 'stomp', listener }),
      idleMs,
      maxConnections,
      firstFrameMs: idleMs,
      maxBufferedBytes: maxFrame,
      writeHighWater: 1024 * 1024,
      drainTimeoutMs: 10_000,
      // An auto-ack (QoS 0) subscriber that does not read: bounded here, not only by the drain timeout.
      maxWriteBuffer: 32 * 1024 * 1024,
      open: (link) =>
        new StompChannel({
          ctx: this.ctx,
          config: this.cfg,
          link,
          generateClientId,
          count: (n) => this.count(n),
        }),
      count: (n) => this.count(n),
    };
  }

  async start(): Promise<void> {
    const ls = this.cfg.listeners;
    try {
      for (const [name, l] of Object.entries(ls.tcp)) {
        if (!l.enable) continue;
        const id = `tcp:${name}`;
        const t = new TcpTransport<StompFrame, StompChannel>({ bind: l.bind, port: l.port }, this.streamOptions(id, l.max_connections));
        await t.start();
        this.listenersList.push({ kind: 'tcp', id, t });
        this.ctx.log.info({ gw: 'stomp', listener: id, bind: t.bindAddress }, 'listener_started');
      }
      for (const [name, l] of Object.entries(ls.ssl)) {
        if (!l.enable) continue;
        const id = `ssl:${name}`;
        const t = new TcpTransport<StompFrame, StompChannel>({ bind: l.bind, port: l.port, ssl: sslOf(l.ssl_options) }, this.streamOptions(id, l.max_connections));
        await t.start();
        this.listenersList.push({ kind: 'ssl', id, t });
        this.ctx.log.info({ gw: 'stomp', listener: id, bind: t.bindAddress }, 'listener_started');
      }
      for (const [name, l] of Object.entries(ls.ws)) {
        if (!l.enable) continue;
        const id = `ws:${name}`;
        const subprotocols = l.supported_subprotocols
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');
        const t = new WsTransport<StompFrame, StompChannel>(
          { bind: l.bind, port: l.port, path: l.path, subprotocols, failIfNoSubprotocol: l.fail_if_no_subprotocol, messageType: 'auto' },
          this.streamOptions(id, l.max_connections),
        );
        await t.start();
        this.listenersList.push({ kind: 'ws', id, t });
        this.ctx.log.info({ gw: 'stomp', listener: id, port: t.port, path: l.path }, 'listener_started');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Settings for new connections; listener and frame changes need a restart (throwing keeps the old ones). */
  async reload(config: unknown): Promise<void> {
    const next = (await import('./config.js')).stompConfigSchema.parse(config);
    if (JSON.stringify(next.listeners) !== JSON.stringify(this.cfg.listeners)) throw new Error('gateway.stomp.listeners changed: restart to apply');
    if (JSON.stringify(next.frame) !== JSON.stringify(this.cfg.frame)) throw new Error('gateway.stomp.frame changed: restart to apply');
    if (next.idle_timeout !== this.cfg.idle_timeout) throw new Error('gateway.stomp.idle_timeout changed: restart to apply');
    this.cfg = next;
  }

  async stop(): Promise<void> {
    const ls = this.listenersList.splice(0);
    await Promise.all(ls.map((x) => x.t.stop()));
  }

  listeners(): ListenerInfo[] {
    return this.listenersList.map((x) => {
      if (x.kind === 'ws') {
        const bind = this.cfg.listeners.ws[x.id.slice(3)]?.bind ?? '0.0.0.0';
        return { id: x.id, type: 'ws' as const, bind: bind.includes(':') ? `[${bind}]:${x.t.port}` : `${bind}:${x.t.port}`, running: x.t.running };
      }
      return { id: x.id, type: x.kind, bind: x.t.bindAddress, running: x.t.running };
    });
  }

  /** Connected clients on all listeners (tests, diagnostics). */
  channels(): StompChannel[] {
    return this.listenersList.flatMap((x) => x.t.hub.channels());
  }
}

function sslOf(o: StompConfig['listeners']['ssl'][string]['ssl_options']): StreamSslOptions {
  const s: StreamSslOptions = { certfile: o.certfile, keyfile: o.keyfile, versions: o.versions, ciphers: o.ciphers, verify: o.verify, fail_if_no_peer_cert: o.fail_if_no_peer_cert };
  if (o.cacertfile !== undefined) s.cacertfile = o.cacertfile;
  if (o.password !== undefined) s.password = o.password;
  return s;
}

export const stompGateway: GatewayModule<typeof stompConfigSchema> = {
  name: 'stomp',
  protoName: 'STOMP',
  sysName: 'stomp',
  loadConfigSchema: async () => (await import('./config.js')).stompConfigSchema,
  create(ctx: GatewayContext, config) {
    return new StompGateway(ctx, config);
  },
};
