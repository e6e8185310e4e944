// The broker side of gateways/gateway.ts: one GatewayContext per gateway. Gateway devices get
// ordinary broker sessions (listed, kickable, ACL-checked, $SYS events under gateway/{name}/),
// with the gateway's mountpoint applied on the way in and stripped on the way out.
import type { Logger } from 'pino';
import type {
  AuthOutcome,
  DeliverySink,
  DeviceInfo,
  GatewayContext,
  GatewayMetrics,
  GatewaySession,
  PskLookup,
  OpenSessionOptions,
  PublishOutcome,
  SessionlessDevice,
  SubscribeOutcome,
  WillMessage,
} from '../../gateways/gateway.js';
import { SessionRefusedError } from '../../gateways/gateway.js';
import type { Broker } from '../broker/broker.js';
import type { AuthRequest, AuthResult, Authenticator } from '../core/hooks.js';
import type { Session, WillSpec } from '../broker/session.js';
import { isValidFilter, parseFilter, renderPlaceholders } from '../broker/topic.js';
import type { ClientIdentity, Delivery, DisconnectReason, MessageProperties, Outlet, Publisher, QoS, SubscriptionOptions } from '../core/types.js';
import type { PublishFromResult } from '../broker/api.js';

export interface GatewayHostOptions {
  name: string;
  broker: Broker;
  authenticator: () => Authenticator;
  log: Logger;
  /** proto_name for client lists and $SYS events, from the gateway module (EMQX's spelling). */
  protoName?: string;
  /** The gateway's name in $SYS topics (EMQX's spelling); defaults to `name`. */
  sysName?: string;
  /** Mountpoint template with ${clientid}, ${username}, ${endpoint_name}. */
  mountpoint: string;
  /** Predefined topic ids from the device registry (pairing), by client id. */
  topicIds?: (clientId: string) => readonly { id: number; topic: string }[];
  /** DTLS pre-shared keys (auth's PskStore). */
  psk?: PskLookup;
}


class SinkOutlet implements Outlet {
  constructor(
    public sink: DeliverySink,
    private readonly session: Session,
  ) {}
  deliver(d: Delivery): void {
    const mp = this.session.mountpoint;
    if (mp && d.message.topic.startsWith(mp)) {
      // Gateways see topics without their mountpoint.
      const m = d.message.with({ topic: d.message.topic.slice(mp.length) });
      this.sink.deliver({ message: m, qos: d.qos, pid: d.pid, dup: d.dup, retain: d.retain, subIds: d.subIds, filter: d.filter });
    } else this.sink.deliver(d);
  }
  kick(reason: DisconnectReason): void {
    this.sink.kick(reason);
  }
}

function toWill(w: WillMessage | null | undefined): WillSpec | null {
  if (!w) return null;
  return { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, props: w.props ?? null, delay: w.delayInterval ?? 0, expiry: 0 };
}

class HostedSession implements GatewaySession {
  private outlet: SinkOutlet;
  private closed = false;

  constructor(
    private readonly host: GatewayHost,
    private readonly s: Session,
    sink: DeliverySink,
    readonly resumed: boolean,
  ) {
    this.outlet = new SinkOutlet(sink, s);
  }

  get outletForAttach(): SinkOutlet {
    return this.outlet;
  }
  get clientId(): string {
    return this.s.clientId;
  }
  get username(): string | null {
    return this.s.username;
  }

  publish(topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; props?: MessageProperties | null; expiryInterval?: number }): PublishOutcome {
    return this.host.publishAs(this.s, topic, payload, opts);
  }

  subscribe(filter: string, opts: Partial<SubscriptionOptions> & { qos: QoS }): SubscribeOutcome {
    const broker = this.host.broker;
    const s = this.s;
    const parsed = parseFilter(filter);
    if (!parsed || !isValidFilter(parsed.filter)) return { ok: false, reason: 'topic_filter_invalid' };
    const mp = s.mountpoint;
    const mounted = mp + parsed.filter;
    const raw = parsed.group === null ? (parsed.exclusive ? `$exclusive/${mounted}` : mounted) : parsed.group === '$queue' && filter.startsWith('$queue/') ? `$queue/${mounted}` : `$share/${parsed.group}/${mounted}`;
    const d = broker.authorize(s, 'subscribe', mounted, opts.qos, false);
    if (d !== 'allow') {
      this.host.log.info({ clientid: s.clientId, topic: mounted }, 'authorization_denied: subscribe');
      return { ok: false, reason: 'not_authorized' };
    }
    const r = broker.subscribe(s, broker.rewriteTopic('subscribe', raw, s), { qos: opts.qos, nl: opts.nl ?? false, rap: opts.rap ?? false, rh: opts.rh ?? 0, subId: opts.subId ?? 0 });
    if (r.rc >= 0x80) return { ok: false, reason: r.rc === 0x97 ? 'quota_exceeded' : r.rc === 0x87 ? 'not_authorized' : 'topic_filter_invalid' };
    if ('retained' in r && r.retained.length) {
      // After the gateway has answered the subscribe request.
      const sub = r.sub;
      const msgs = r.retained;
      setImmediate(() => {
        if (!this.closed) broker.deliverRetained(s, sub, msgs);
      });
    }
    return { ok: true, qos: r.rc as QoS };
  }

  unsubscribe(filter: string): boolean {
    const parsed = parseFilter(filter);
    if (!parsed) return false;
    const mp = this.s.mountpoint;
    const raw = parsed.group === null ? mp + parsed.filter : parsed.group === '$queue' && filter.startsWith('$queue/') ? `$queue/${mp}${parsed.filter}` : `$share/${parsed.group}/${mp}${parsed.filter}`;
    return this.host.broker.unsubscribe(this.s, this.host.broker.rewriteTopic('subscribe', raw, this.s));
  }

  subscriptions(): { filter: string; opts: SubscriptionOptions }[] {
    const mp = this.s.mountpoint;
    return [...this.s.subs.values()].map((sub) => ({ filter: mp && sub.filter.startsWith(mp) ? sub.filter.slice(mp.length) : sub.filter, opts: { ...sub.opts } }));
  }

  ack(pid: number): void {
    this.s.puback(pid);
  }
  received(pid: number): void {
    this.s.pubrec(pid);
  }
  complete(pid: number): void {
    this.s.pubcomp(pid);
  }
  reject(pid: number): void {
    this.s.requeue(pid);
  }
  setWill(will: WillMessage | null): void {
    this.s.will = toWill(will);
  }
  setInflightWindow(n: number): void {
    this.s.window = Math.max(1, n);
    this.s.pump();
  }
  queuedCount(): number {
    return this.s.queuedCount();
  }
  inflightCount(): number {
    return this.s.inflight.size;
  }
  touch(): void {
    this.s.lastSeen = this.host.broker.now();
  }
  detach(): void {
    if (this.s.outlet === this.outlet) this.s.paused = true;
  }
  attach(sink: DeliverySink): void {
    if (this.closed) return;
    this.outlet.sink = sink;
    // Waking: inflight messages are resent (DUP), then the queue drains.
    if (this.s.outlet === this.outlet && this.s.paused) this.s.attach(this.outlet, this.s.window);
  }
  close(reason: DisconnectReason, opts?: { sendWill?: boolean }): void {
    if (this.closed) return;
    this.closed = true;
    this.host.broker.connectionClosed(this.s, this.outlet, reason, opts?.sendWill ?? false);
  }
}

export class GatewayHost implements GatewayContext {
  readonly name: string;
  readonly log: Logger;
  readonly broker: Broker;
  readonly metrics: GatewayMetrics;
  private mountpointTpl: string;
  private readonly protoName: string;
  private readonly sysName: string;
  private readonly authenticator: () => Authenticator;
  private readonly refusalsLogged = new OncePerKey(4096);
  private readonly topicIds: GatewayHostOptions['topicIds'];
  readonly psk: PskLookup | undefined;

  constructor(o: GatewayHostOptions) {
    this.topicIds = o.topicIds;
    this.psk = o.psk;
    this.name = o.name;
    this.broker = o.broker;
    this.log = o.log;
    this.mountpointTpl = o.mountpoint;
    this.protoName = o.protoName ?? o.name.toUpperCase();
    this.sysName = o.sysName ?? o.name;
    this.authenticator = o.authenticator;
    const prefix = `gateway.${o.name}.`;
    this.metrics = { inc: (n, by = 1) => o.broker.metrics.inc(prefix + n, by) };
  }

  get clock() {
    return this.broker.clock;
  }
  get node(): string {
    return this.broker.node;
  }
  get store() {
    return this.broker.store;
  }

  /** A gateway names its listeners 'udp:default'; clients, $SYS events and auth see 'coap:udp:default', as in EMQX. */
  private listenerId(id: string): string {
    return `${this.name}:${id}`;
  }

  setMountpoint(tpl: string): void {
    this.mountpointTpl = tpl;
  }

  /**
   * The broker's chain for every gateway device: bans, then the same authenticator MQTT CONNECT
   * uses, whose `allow_anonymous` rule decides for a request without credentials.
   */
  authenticate(req: Omit<AuthRequest, 'protocol'>): AuthOutcome | Promise<AuthOutcome> {
    const banned = this.broker.guard.checkBanned(req.clientId, req.username, req.peerHost);
    if (banned) return this.refused(req, 'banned', banned);
    let r: AuthResult | Promise<AuthResult>;
    try {
      r = this.authenticator().authenticate({ ...req, listener: this.listenerId(req.listener), protocol: this.name });
    } catch (err) {
      return this.authFailed(req, err);
    }
    // A local answer stays synchronous: a connectionless CoAP request is served in the same turn.
    if (!(r instanceof Promise)) return this.authOutcome(req, r);
    return r.then(
      (x) => this.authOutcome(req, x),
      (err: unknown) => this.authFailed(req, err),
    );
  }

  predefinedTopics(clientId: string): readonly { id: number; topic: string }[] {
    try {
      return this.topicIds?.(clientId) ?? [];
    } catch (err) {
      // The registry is a convenience for pairing: a failing read must not refuse the device.
      this.log.warn({ err, clientid: clientId }, 'predefined_topics_unavailable');
      return [];
    }
  }

  isBanned(req: { clientId: string; username: string | null; peerHost: string; peerPort: number; listener: string }): boolean {
    const banned = this.broker.guard.checkBanned(req.clientId, req.username, req.peerHost);
    if (banned === null) return false;
    this.refused({ ...req, password: null }, 'banned', banned);
    return true;
  }

  private authOutcome(req: Omit<AuthRequest, 'protocol'>, r: AuthResult): AuthOutcome {
    if (!r.ok) return this.refused(req, r.reason, null);
    return { ok: true, superuser: r.superuser, username: r.username !== undefined ? r.username : req.username };
  }

  private authFailed(req: Omit<AuthRequest, 'protocol'>, err: unknown): AuthOutcome {
    this.log.error({ err }, 'authenticator_failed');
    return this.refused(req, 'server_unavailable', null);
  }

  /**
   * Counts every refusal; logs it once per peer address, since a sessionless device (CoAP
   * connectionless, MQTT-SN QoS -1) is refused on every datagram it sends.
   */
  private refused(req: Omit<AuthRequest, 'protocol'>, reason: Extract<AuthOutcome, { ok: false }>['reason'], detail: string | null): AuthOutcome {
    this.metrics.inc('auth.refused');
    if (this.refusalsLogged.first(`${req.peerHost}|${req.peerPort}`)) {
      this.log.info({ clientid: req.clientId, username: req.username, peer: `${req.peerHost}:${req.peerPort}`, listener: this.listenerId(req.listener), reason, detail }, reason === 'banned' ? 'client_banned' : 'gateway_auth_refused');
    }
    return { ok: false, reason };
  }

  openSession(device: DeviceInfo, opts: OpenSessionOptions, sink: DeliverySink): GatewaySession {
    // As for MQTT CONNECT: no persistent session the store could not keep (it would acknowledge and then lose).
    if ((!opts.cleanStart || opts.expiryInterval > 0) && this.broker.refusesPersistentSessions()) {
      this.metrics.inc('sessions.refused.store_failing');
      this.log.warn({ clientid: device.clientId, reason: 'store_failing' }, 'gateway_session_refused');
      throw new SessionRefusedError('the store is failing: persistent sessions are refused until it recovers');
    }
    const mp = renderPlaceholders(this.mountpointTpl, { clientid: device.clientId, username: device.username, endpoint_name: device.endpointName ?? null }) ?? '';
    const { session, present } = this.broker.openSession({
      clientId: device.clientId,
      username: device.username,
      superuser: device.superuser ?? false,
      protocol: this.name,
      protoName: device.protoName ?? this.protoName,
      sysName: device.sysName ?? this.sysName,
      protoVer: device.protoVer ?? '1.0',
      listener: this.listenerId(device.listener),
      peerHost: device.peerHost,
      peerPort: device.peerPort,
      sockPort: device.sockPort ?? 0,
      keepalive: device.keepalive ?? 0,
      cleanStart: opts.cleanStart,
      expiryInterval: opts.expiryInterval,
      will: toWill(opts.will),
      mountpoint: mp,
    });
    const hs = new HostedSession(this, session, sink, present);
    this.broker.attach(session, hs.outletForAttach, opts.inflightWindow ?? 65535);
    return hs;
  }

  publishAs(s: Session, topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; props?: MessageProperties | null; expiryInterval?: number }): PublishOutcome {
    s.recvOct += payload.length;
    return this.outcome(s, topic, this.broker.publishFrom(s, topic, payload, opts.qos, opts.retain, opts.props ?? null, opts.expiryInterval, this.broker.now()));
  }

  publishSessionless(device: SessionlessDevice, topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; expiryInterval?: number; noMountpoint?: boolean }): PublishOutcome {
    const mountpoint = opts.noMountpoint ? '' : renderPlaceholders(this.mountpointTpl, { clientid: device.clientId, username: device.username, endpoint_name: device.endpointName ?? null }) ?? '';
    const identity: ClientIdentity = { clientId: device.clientId, username: device.username, peerHost: device.peerHost, peerPort: device.peerPort, protocol: this.name, listener: this.listenerId(device.listener), superuser: device.superuser };
    const from: Publisher = { clientId: device.clientId, username: device.username, superuser: device.superuser, mountpoint, recvMsg: 0, authIdentity: () => identity };
    return this.outcome(from, topic, this.broker.publishFrom(from, topic, payload, opts.qos, opts.retain, null, opts.expiryInterval, this.broker.now()));
  }

  /** A gateway's view of publishFrom's answer. */
  private outcome(from: Publisher, topic: string, r: PublishFromResult): PublishOutcome {
    if (r.ok) return { ok: true, durable: r.durable, matched: r.matched };
    switch (r.reason) {
      case 'not_authorized':
      case 'not_authorized_disconnect':
        this.log.info({ clientid: from.clientId, topic: from.mountpoint + topic }, 'authorization_denied: publish');
        return { ok: false, reason: 'not_authorized' };
      case 'qos_not_supported':
        return { ok: false, reason: 'qos_not_supported' };
      case 'packet_too_large':
        return { ok: false, reason: 'packet_too_large' };
      case 'quota_exceeded':
        return { ok: false, reason: 'quota_exceeded' };
      default:
        return { ok: false, reason: 'topic_invalid' };
    }
  }

  whenDurable(fn: () => void): void {
    this.broker.store.afterCommit({ committed: fn });
  }
}

/** Remembers up to `max` keys; forgets them all when full (a log-rate bound, not a security control). */
class OncePerKey {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}
  /** true the first time `key` is seen. */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(key);
    return true;
  }
}
