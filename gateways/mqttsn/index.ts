// The MQTT-SN gateway: listeners (UDP v4/v6, serial lines), forwarder encapsulation, discovery
// (ADVERTISE, SEARCHGW/GWINFO) and QoS -1 from unconnected devices; one MqttsnChannel per client.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { AuthOutcome, Gateway, GatewayContext, GatewayModule, ListenerInfo } from '../gateway.js';
import { UdpTransport } from '../transport/udp.js';
import { DtlsGatewayListener, dtlsRestartShape, dtlsStats } from '../transport/dtls-listener.js';
import { authSecurity } from '../transport/peer-security.js';
import type { SerialTransport } from '../transport/serial.js';
import type { ChannelMux } from '../transport/mux.js';
import type { Codec, Demux, Link, MuxOptions, Peer, TransportCounter } from '../transport/types.js';
import type { mqttsnConfigSchema, MqttsnConfig } from './config.js';
import { decode, decodeStream, encode, format, ReturnCode, shortName, type Frame } from './frame.js';
import { MqttsnChannel, type MqttsnCounter } from './channel.js';
import { hasWildcard, PredefinedTopics } from './registry.js';
import { GENERATED_CLIENTID_LEN, NEGQOS_CLIENTID, PROTO_VER } from './params.js';

export type { MqttsnConfig } from './config.js';

export const mqttsnCodec: Codec<Frame> = { decode, decodeStream, encode, format };

/** Forwarder Encapsulation (MQTT-SN 1.2 §5.5): one client per (forwarder, wireless node id). */
export const forwarderDemux: Demux<Frame> = {
  unwrap(f) {
    if (f.type !== 'encapsulated') return null;
    const header = encode({ type: 'encapsulated', radius: 0, nodeId: f.nodeId, inner: Buffer.alloc(0) });
    return { sub: f.nodeId.toString('hex'), inner: f.inner, wrap: (b) => Buffer.concat([header, b]) };
  },
};

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function generateClientId(): string {
  const b = randomBytes(GENERATED_CLIENTID_LEN);
  let s = '';
  for (const x of b) s += ALPHABET[x % ALPHABET.length];
  return s;
}

/** IPv4 broadcast addresses of the chosen (or all external) interfaces. */
export function broadcastAddresses(interfaces: readonly string[]): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (interfaces.length > 0 ? !interfaces.includes(name) : false) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || (interfaces.length === 0 && a.internal)) continue;
      const ip = a.address.split('.').map(Number);
      const mask = a.netmask.split('.').map(Number);
      out.push(ip.map((o, i) => (o | (~mask[i]! & 0xff)) & 0xff).join('.'));
    }
  }
  return out;
}

type Transport =
  | { kind: 'udp'; id: string; t: UdpTransport<Frame, MqttsnChannel> }
  | { kind: 'dtls'; id: string; t: UdpTransport<Frame, MqttsnChannel>; dtls: DtlsGatewayListener }
  | { kind: 'serial'; id: string; t: SerialTransport<Frame, MqttsnChannel> };

export interface MqttsnGatewayOptions {
  /** Replaces the DTLS engine's factory for the dtls listeners (unit tests). */
  dtlsEngine?: ConstructorParameters<typeof DtlsGatewayListener>[4];
}

export class MqttsnGateway implements Gateway {
  private readonly transports: Transport[] = [];
  private predefined: PredefinedTopics;
  private advertiseTimer: ReturnType<GatewayContext['clock']['setTimeout']> | null = null;

  constructor(
    private readonly ctx: GatewayContext,
    private cfg: MqttsnConfig,
    private readonly opts: MqttsnGatewayOptions = {},
  ) {
    this.predefined = new PredefinedTopics(cfg.predefined);
  }

  /** The host prefixes `gateway.mqttsn.`. */
  private count = (name: MqttsnCounter | TransportCounter): void => this.ctx.metrics.inc(name);

  private muxOptions(listener: string, forwarder: boolean, maxChannels: number, mux: () => ChannelMux<Frame, MqttsnChannel> | null): MuxOptions<Frame, MqttsnChannel> {
    const log = this.ctx.log.child({ gw: 'mqttsn', listener });
    return {
      codec: mqttsnCodec,
      listener,
      clock: this.ctx.clock,
      log,
      idleMs: this.cfg.idle_timeout * 1000,
      maxChannels,
      demux: forwarder ? forwarderDemux : null,
      stateless: (f, link) => this.stateless(f, link, mux()),
      open: (link) =>
        new MqttsnChannel({
          ctx: this.ctx,
          config: this.cfg,
          predefined: this.predefined,
          link,
          generateClientId,
          count: (n) => this.count(n),
        }),
      count: (n) => this.count(n),
    };
  }

  /**
   * Messages from a peer without a channel: only CONNECT opens one. SEARCHGW is answered, QoS -1
   * PUBLISH is published, DISCONNECT is echoed, the rest is dropped as EMQX does (spec §3.1).
   */
  private stateless(f: Frame, link: Link<Frame>, mux: ChannelMux<Frame, MqttsnChannel> | null): boolean {
    switch (f.type) {
      case 'connect':
        return false;
      case 'pingreq':
        if (f.clientId !== null && mux && this.wakeFromNewAddress(f, link, mux)) return true;
        break;
      case 'searchgw':
        link.send({ type: 'gwinfo', gwId: this.cfg.gateway_id, gwAdd: null });
        return true;
      case 'disconnect':
        link.send({ type: 'disconnect', duration: null });
        return true;
      case 'publish':
        if (f.qos === -1) {
          this.publishUnconnected(f, link);
          return true;
        }
        break;
      default:
        break;
    }
    this.count('frames.dropped');
    this.ctx.log.debug({ gw: 'mqttsn', peer: link.key, frame: f.type, reason: 'not_connected' }, 'frame_dropped');
    return true;
  }

  /**
   * A sleeping device whose PINGREQ(ClientId) comes from another source port (its radio or NAT
   * rebinding) is still that device: its channel moves to the new address. EMQX 5.8.9 binds
   * channels to addresses and drops such a PINGREQ (spec §3.1).
   */
  private wakeFromNewAddress(f: Extract<Frame, { type: 'pingreq' }>, link: Link<Frame>, mux: ChannelMux<Frame, MqttsnChannel>): boolean {
    const ch = mux.channels().find((c) => c.clientId === f.clientId && (c.state === 'asleep' || c.state === 'awake'));
    if (!ch || !mux.rebind(ch.link, link)) return false;
    this.ctx.log.info({ gw: 'mqttsn', clientid: f.clientId, peer: link.key }, 'client_address_changed');
    ch.handleFrame(f);
    return true;
  }

  /** QoS -1 without a connection, to a predefined id or a short name (spec §6). */
  private publishUnconnected(f: Extract<Frame, { type: 'publish' }>, link: Link<Frame>): void {
    const puback = (rc: number): void => link.send({ type: 'puback', topicId: f.topicId, msgId: f.msgId, rc });
    if (!this.cfg.enable_qos3 || !this.cfg.qos3_unconnected) return puback(ReturnCode.NOT_SUPPORTED);
    let topic: string | undefined;
    if (f.topicIdType === 1) {
      topic = this.predefined.name(f.topicId, null);
      if (topic === undefined) return puback(ReturnCode.INVALID_TOPIC_ID);
    } else if (f.topicIdType === 2) {
      const n = shortName(f.topicId);
      if (n === null || hasWildcard(n)) return puback(ReturnCode.NOT_SUPPORTED);
      topic = n;
    } else {
      // Normal ids mean nothing without a session: dropped silently (EMQX).
      this.count('messages.qos3.dropped');
      return;
    }
    // The broker's chain decides, as for a CONNECT without credentials: no anonymous QoS -1 once
    // users exist unless allow_anonymous says so. The host counts and logs refusals once per peer.
    const o = this.cfg.clientinfo_override;
    const fill = (t: string | undefined): string | null => (t === undefined ? null : t.replaceAll('${clientid}', NEGQOS_CLIENTID));
    const username = fill(o.username);
    const password = fill(o.password);
    const device = { clientId: NEGQOS_CLIENTID, username, peerHost: link.peer.address, peerPort: link.peer.port, listener: link.listener, sockPort: link.sockPort, protoVer: PROTO_VER };
    const payload = f.payload;
    const retain = f.retain;
    let pending: ReturnType<GatewayContext['authenticate']>;
    try {
      pending = this.ctx.authenticate({ ...device, password: password === null ? null : Buffer.from(password), ...authSecurity(link.peer.security) });
    } catch (err) {
      pending = Promise.reject(err);
    }
    Promise.resolve(pending)
      .catch((): AuthOutcome => ({ ok: false, reason: 'server_unavailable' }))
      .then((a) => {
        if (!a.ok) {
          // Answered like an ACL refusal below, so the device can tell (MQTT-SN 1.2 §5.4.12 return codes).
          this.count('messages.qos3.dropped');
          puback(ReturnCode.NOT_AUTHORIZED);
          return;
        }
        const r = this.ctx.publishSessionless({ ...device, username: a.username, superuser: a.superuser }, topic, payload, { qos: 0, retain });
        if (!r.ok) {
          this.count('messages.qos3.dropped');
          this.ctx.log.info({ gw: 'mqttsn', peer: link.key, topic, reason: r.reason }, 'publish_refused');
          puback(r.reason === 'not_authorized' ? ReturnCode.NOT_AUTHORIZED : ReturnCode.NOT_SUPPORTED);
          return;
        }
        this.count('messages.qos3.received');
      });
  }

  async start(): Promise<void> {
    try {
      for (const [name, l] of Object.entries(this.cfg.listeners.udp)) {
        if (!l.enable) continue;
        const id = `udp:${name}`;
        let mux: ChannelMux<Frame, MqttsnChannel> | null = null;
        const t = new UdpTransport<Frame, MqttsnChannel>(
          { bind: l.bind, port: l.port, broadcast: this.cfg.advertise.enable },
          this.muxOptions(id, l.forwarder, l.max_connections, () => mux),
        );
        mux = t.mux;
        await t.start();
        this.transports.push({ kind: 'udp', id, t });
        this.ctx.log.info({ gw: 'mqttsn', listener: id, bind: t.bindAddress }, 'listener_started');
      }
      for (const [name, l] of Object.entries(this.cfg.listeners.dtls)) {
        if (!l.enable) continue;
        const id = `dtls:${name}`;
        const dtls = new DtlsGatewayListener(`gateway.mqttsn.listeners.dtls.${name}`, l, this.ctx.psk, this.ctx.log, this.opts.dtlsEngine);
        let mux: ChannelMux<Frame, MqttsnChannel> | null = null;
        // No forwarder encapsulation and no broadcast: a DTLS session is one device's.
        const t = new UdpTransport<Frame, MqttsnChannel>({ bind: l.bind, port: l.port, socketFactory: dtls.factory }, this.muxOptions(id, false, l.max_connections, () => mux));
        mux = t.mux;
        await t.start();
        this.transports.push({ kind: 'dtls', id, t, dtls });
        this.ctx.log.info({ gw: 'mqttsn', listener: id, bind: t.bindAddress }, 'listener_started');
      }
      // serialport (a native addon, ~1 MB of RSS, ~40 ms to load) only when a radio is configured.
      const serial = Object.values(this.cfg.listeners.serial).some((l) => l.enable) ? await import('../transport/serial.js') : null;
      for (const [name, l] of Object.entries(this.cfg.listeners.serial)) {
        if (!l.enable || serial === null) continue;
        const id = `serial:${name}`;
        let mux: ChannelMux<Frame, MqttsnChannel> | null = null;
        const t = new serial.SerialTransport<Frame, MqttsnChannel>(
          { device: l.device, baudRate: l.baud_rate, frameTimeoutMs: l.frame_timeout, reopenMs: l.reopen_interval * 1000, drainTimeoutMs: 5000 },
          this.muxOptions(id, l.forwarder, 0, () => mux),
        );
        mux = t.mux;
        // A radio that is not plugged in yet must not stop the daemon: keep trying to open it.
        await t.start({ retry: true });
        this.transports.push({ kind: 'serial', id, t });
        this.ctx.log.info({ gw: 'mqttsn', listener: id, device: l.device }, 'listener_started');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (this.cfg.advertise.enable) this.advertise();
  }

  /** ADVERTISE(GwId, Duration = interval) now and every interval (MQTT-SN 1.2 §6.1, spec §7). */
  private advertise(): void {
    const frame = encode({ type: 'advertise', gwId: this.cfg.gateway_id, duration: this.cfg.advertise.interval });
    const a = this.cfg.advertise;
    const targets = [...new Set([...a.addresses, ...broadcastAddresses(a.interfaces)])];
    for (const tr of this.transports) {
      if (tr.kind === 'dtls') continue;
      if (tr.kind === 'udp') {
        for (const address of targets) {
          const v6 = address.includes(':');
          if (v6 !== tr.t.bindAddress.startsWith('[')) continue;
          const peer: Peer = { address, port: a.port, family: v6 ? 'IPv6' : 'IPv4' };
          tr.t.sendTo(peer, frame);
        }
      } else {
        tr.t.sendRaw(frame);
      }
    }
    this.advertiseTimer = this.ctx.clock.setTimeout(() => this.advertise(), a.interval * 1000);
  }

  /**
   * New settings for new connections and unconnected traffic (predefined ids, QoS -1, timers,
   * advertise). Listener changes need a restart: throwing keeps the old settings.
   */
  async reload(config: unknown): Promise<void> {
    // The schema (zod) loads at the first reload, not at start: the daemon's start path stays free of it.
    const next = (await import('./config.js')).mqttsnConfigSchema.parse(config);
    if (JSON.stringify({ ...next.listeners, dtls: dtlsRestartShape(next.listeners.dtls) }) !== JSON.stringify({ ...this.cfg.listeners, dtls: dtlsRestartShape(this.cfg.listeners.dtls) })) throw new Error('gateway.mqttsn.listeners changed: restart to apply');
    if (next.idle_timeout !== this.cfg.idle_timeout) throw new Error('gateway.mqttsn.idle_timeout changed: restart to apply');
    this.cfg = next;
    // Certificates and keys are reread for new handshakes; established DTLS sessions stay up.
    for (const tr of this.transports) if (tr.kind === 'dtls') tr.dtls.reload(next.listeners.dtls[tr.id.slice('dtls:'.length)]!);
    this.predefined = new PredefinedTopics(next.predefined);
    if (this.advertiseTimer) this.ctx.clock.clearTimeout(this.advertiseTimer);
    this.advertiseTimer = null;
    if (next.advertise.enable && this.transports.length > 0) this.advertise();
  }

  async stop(): Promise<void> {
    if (this.advertiseTimer) this.ctx.clock.clearTimeout(this.advertiseTimer);
    this.advertiseTimer = null;
    const ts = this.transports.splice(0);
    await Promise.all(ts.map((x) => x.t.stop()));
  }

  listeners(): ListenerInfo[] {
    return this.transports.map((x) =>
      x.kind === 'dtls'
        ? { id: x.id, type: x.kind, bind: x.t.bindAddress, running: x.t.running, ...dtlsStats(x.dtls) }
        : x.kind !== 'serial'
        ? { id: x.id, type: x.kind, bind: x.t.bindAddress, running: x.t.running }
        : { id: x.id, type: 'serial' as const, bind: x.t.peer.address, running: x.t.running },
    );
  }

  /** Connected and sleeping clients on all listeners (tests, diagnostics). */
  channels(): MqttsnChannel[] {
    return this.transports.flatMap((x) => x.t.mux.channels());
  }
}

export const mqttsnGateway: GatewayModule<typeof mqttsnConfigSchema> = {
  name: 'mqttsn',
  protoName: 'MQTT-SN',
  sysName: 'mqtt-sn',
  loadConfigSchema: async () => (await import('./config.js')).mqttsnConfigSchema,
  create(ctx, config) {
    return new MqttsnGateway(ctx, config);
  },
};
