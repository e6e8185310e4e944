// The one in-memory broker behind GatewayContext for every gateway's unit tests (CoAP, MQTT-SN,
// and the gateways that follow). It behaves as the real host (src/runtime/gateway-host.ts) does
// where a gateway can tell: mountpoints with ${clientid}/${username} applied on publish and
// stripped on delivery, per-subscription routing with no-local and retain-as-published, retained
// messages by retain handling, an mqueue behind an inflight window, detach/attach with dup
// redelivery, wills, takeover, session expiry 0 ending the session on close, group-commit waits
// the test releases, and synchronous local authentication. Tests steer it through options and
// public fields (deny sets, held authentication) and read what happened from its logs.
import pino from 'pino';
import { createMessage, type Message } from '../../src/core/message.js';
import type {
  AuthOutcome,
  Delivery,
  DeliverySink,
  DeviceInfo,
  DisconnectReason,
  GatewayContext,
  GatewaySession,
  MessageProperties,
  OpenSessionOptions,
  PublishOutcome,
  QoS,
  SessionlessDevice,
  Store,
  SubscribeOutcome,
  SubscriptionOptions,
  WillMessage,
} from '../../gateways/gateway.js';
import { FakeClock } from './fake-clock.js';

export { FakeClock };

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

type AuthRequest = Parameters<GatewayContext['authenticate']>[0];

export interface FakeContextOptions {
  name?: string;
  /** Mountpoint template, as in config: may use ${clientid} and ${username}. */
  mountpoint?: string;
  clock?: FakeClock;
  /** Replaces the default answer (yes, unless the client id is in `authDeny`). */
  authenticate?: (req: AuthRequest) => AuthOutcome | Promise<AuthOutcome>;
  /** Decides publish/subscribe on the topic or filter without mountpoint. */
  authorize?: (clientId: string, action: 'publish' | 'subscribe', topic: string) => boolean;
  /** QoS 1/2 publishes report durable: true, so the gateway must wait for whenDurable. */
  durable?: boolean;
}

/** A publish as the tests read it: the mounted topic and the payload as text. */
export interface Published {
  topic: string;
  payload: string;
  qos: QoS;
  retain: boolean;
  from: string;
}

const expand = (tpl: string, clientId: string, username: string | null): string => tpl.replaceAll('${clientid}', clientId).replaceAll('${username}', username ?? '');

export class FakeSession implements GatewaySession {
  readonly username: string | null;
  readonly subs = new Map<string, SubscriptionOptions>();
  /** Deliveries waiting for the window or for attach(). */
  queue: Delivery[] = [];
  readonly inflight = new Map<number, Delivery>();
  /** Pids the device acknowledged (PUBACK, PUBCOMP), in order. */
  readonly acked: number[] = [];
  /** The real host's default window when the gateway names none. */
  window = 65535;
  sink: DeliverySink | null;
  attached = true;
  closed: { reason: DisconnectReason; sendWill: boolean } | null = null;
  will: WillMessage | null;
  touched = 0;
  /** The expanded mountpoint of this session. */
  readonly mountpoint: string;
  private nextPid = 1;

  constructor(
    private readonly broker: FakeGatewayContext,
    public device: DeviceInfo,
    readonly resumed: boolean,
    sink: DeliverySink,
    public opts: OpenSessionOptions,
  ) {
    this.username = device.username;
    this.sink = sink;
    this.will = opts.will ?? null;
    this.mountpoint = expand(broker.mountpoint, device.clientId, device.username);
    if (opts.inflightWindow) this.window = opts.inflightWindow;
  }

  get clientId(): string {
    return this.device.clientId;
  }

  publish(topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; props?: MessageProperties | null; expiryInterval?: number }): PublishOutcome {
    return this.broker.publishAs(this.clientId, this.username, this.mountpoint, topic, payload, opts.qos, opts.retain, opts.props ?? null, opts.expiryInterval);
  }

  subscribe(filter: string, opts: Partial<SubscriptionOptions> & { qos: QoS }): SubscribeOutcome {
    if (this.broker.denySubscribe.has(filter) || !this.broker.allow(this.clientId, 'subscribe', filter)) return { ok: false, reason: 'not_authorized' };
    const full: SubscriptionOptions = { qos: opts.qos, nl: opts.nl ?? false, rap: opts.rap ?? false, rh: opts.rh ?? 0, subId: opts.subId ?? 0 };
    const isNew = !this.subs.has(filter);
    this.subs.set(filter, full);
    if (full.rh === 0 || (full.rh === 1 && isNew)) {
      for (const m of this.broker.retained.values()) if (topicMatches(this.mountpoint + filter, m.topic)) this.enqueue(m, Math.min(m.qos, full.qos) as QoS, true, filter);
    }
    return { ok: true, qos: opts.qos };
  }

  unsubscribe(filter: string): boolean {
    return this.subs.delete(filter);
  }

  subscriptions(): { filter: string; opts: SubscriptionOptions }[] {
    return [...this.subs].map(([filter, opts]) => ({ filter, opts }));
  }

  enqueue(message: Message, qos: QoS, retain: boolean, filter: string): void {
    // The packet id is given when the delivery goes inflight (drain), as the real session does.
    const d: Delivery = { message, qos, pid: 0, dup: false, retain, subIds: null, filter };
    if (this.broker.maxQueue > 0 && this.queue.length >= this.broker.maxQueue) {
      this.queue.shift();
      this.broker.dropped++;
    }
    this.queue.push(d);
    this.drain();
  }

  /** Hand queued deliveries to the sink: QoS 0 always, QoS 1/2 within the window. */
  drain(): void {
    while (this.attached && this.sink && this.queue.length > 0) {
      const d = this.queue[0]!;
      if (d.qos > 0 && this.inflight.size >= this.window) return;
      this.queue.shift();
      if (d.qos > 0) {
        if (d.pid === 0) d.pid = this.nextPid++;
        this.inflight.set(d.pid, d);
      }
      // As the real host: gateways see topics without the mountpoint.
      const mp = this.mountpoint;
      this.sink.deliver(mp && d.message.topic.startsWith(mp) ? { ...d, message: d.message.with({ topic: d.message.topic.slice(mp.length) }) } : d);
    }
  }

  ack(pid: number): void {
    this.broker.acks.push(pid);
    if (this.inflight.delete(pid)) this.acked.push(pid);
    this.drain();
  }

  received(pid: number): void {
    this.broker.received.push(pid);
  }

  complete(pid: number): void {
    if (this.inflight.delete(pid)) this.acked.push(pid);
    this.drain();
  }

  /** As the real session's requeue: back to the head of the queue, sent again at the next pump (a new pid). */
  reject(pid: number): void {
    const d = this.inflight.get(pid);
    this.broker.rejected.push(pid);
    if (d === undefined) return;
    this.inflight.delete(pid);
    this.queue.unshift({ ...d, pid: 0, dup: false });
  }

  setWill(will: WillMessage | null): void {
    this.will = will;
  }

  setInflightWindow(n: number): void {
    this.window = Math.max(1, n);
    this.drain();
  }

  queuedCount(): number {
    return this.queue.length + this.inflight.size;
  }

  inflightCount(): number {
    return this.inflight.size;
  }

  touch(): void {
    this.touched++;
  }

  detach(): void {
    this.attached = false;
    // Inflight deliveries go back to the front of the queue, re-sent with dup on attach.
    const back = [...this.inflight.values()].map((d) => ({ ...d, dup: true }));
    this.inflight.clear();
    this.queue.unshift(...back);
  }

  attach(sink: DeliverySink): void {
    this.sink = sink;
    this.attached = true;
    this.drain();
  }

  close(reason: DisconnectReason, opts?: { sendWill?: boolean }): void {
    if (this.closed !== null) return;
    const sendWill = opts?.sendWill ?? false;
    this.closed = { reason, sendWill };
    this.attached = false;
    if (sendWill && this.will) this.broker.publishAs(this.clientId, this.username, '', this.will.topic, this.will.payload, this.will.qos, this.will.retain, this.will.props ?? null);
    if (this.opts.expiryInterval === 0 && this.broker.sessions.get(this.clientId) === this) this.broker.sessions.delete(this.clientId);
    this.broker.closes.push({ clientId: this.clientId, reason, sendWill });
    this.broker.events.push({ kind: 'disconnected', clientId: this.clientId, reason });
  }
}

export class FakeGatewayContext implements GatewayContext {
  readonly name: string;
  readonly log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  readonly clock: FakeClock;
  readonly node = 'outpost@127.0.0.1';
  readonly store = {} as Store;
  /** Mountpoint template for sessions opened from now on. */
  mountpoint: string;
  readonly sessions = new Map<string, FakeSession>();
  /** Every accepted publish through either door, mounted topic, in order. */
  readonly published: Published[] = [];
  /** The same publishes as broker messages (payload bytes, expiry, sender). */
  readonly messages: Message[] = [];
  /** The sessionless subset of `published` (CoAP connectionless, MQTT-SN QoS -1). */
  readonly anonymous: Published[] = [];
  readonly retained = new Map<string, Message>();
  readonly acks: number[] = [];
  readonly received: number[] = [];
  /** Pids gateways handed back with reject(), in order. */
  readonly rejected: number[] = [];
  readonly closes: { clientId: string; reason: DisconnectReason; sendWill: boolean }[] = [];
  readonly events: { kind: 'connected' | 'disconnected'; clientId: string; reason?: DisconnectReason }[] = [];
  readonly devices: DeviceInfo[] = [];
  readonly authRequests: { clientId: string; username: string | null; password: Buffer | null }[] = [];
  readonly counters = new Map<string, number>();
  /** Publishes to these topics (with or without mountpoint) are refused as not authorized. */
  readonly denyPublish = new Set<string>();
  /** Subscriptions to these filters (without mountpoint) are refused. */
  readonly denySubscribe = new Set<string>();
  /** Client ids the default authentication refuses. */
  readonly authDeny = new Set<string>();
  /** Hold authentication answers until the test runs authPending. */
  holdAuth = false;
  readonly authPending: (() => void)[] = [];
  durable: boolean;
  durableQueue: (() => void)[] = [];
  /** Queue limit per session; the oldest is dropped and counted in `dropped`. */
  maxQueue = 1000;
  dropped = 0;
  readonly metrics = { inc: (name: string, by = 1): void => void this.counters.set(name, (this.counters.get(name) ?? 0) + by) };

  constructor(private readonly o: FakeContextOptions = {}) {
    this.name = o.name ?? 'coap';
    this.clock = o.clock ?? new FakeClock();
    this.mountpoint = o.mountpoint ?? '';
    this.durable = o.durable ?? false;
  }

  allow(clientId: string, action: 'publish' | 'subscribe', topic: string): boolean {
    return this.o.authorize === undefined || this.o.authorize(clientId, action, topic);
  }

  authenticate(req: AuthRequest): AuthOutcome | Promise<AuthOutcome> {
    this.authRequests.push({ clientId: req.clientId, username: req.username, password: req.password });
    if (this.o.authenticate !== undefined) return this.o.authenticate(req);
    const outcome: AuthOutcome = this.authDeny.has(req.clientId) ? { ok: false, reason: 'not_authorized' } : { ok: true, superuser: false, username: req.username };
    // A local answer is synchronous, as the real host's built-in database is.
    if (!this.holdAuth) return outcome;
    return new Promise((resolve) => this.authPending.push(() => resolve(outcome)));
  }

  /** Predefined topic ids by client id, as the device registry would give them (predefinedTopics). */
  readonly pairedTopics = new Map<string, { id: number; topic: string }[]>();

  predefinedTopics(clientId: string): readonly { id: number; topic: string }[] {
    return this.pairedTopics.get(clientId) ?? [];
  }

  /** Client ids, user names or addresses a ban covers (isBanned). */
  readonly banned = new Set<string>();

  isBanned(req: { clientId: string; username: string | null; peerHost: string }): boolean {
    return this.banned.has(req.clientId) || (req.username !== null && this.banned.has(req.username)) || this.banned.has(req.peerHost);
  }

  openSession(device: DeviceInfo, opts: OpenSessionOptions, sink: DeliverySink): GatewaySession {
    this.devices.push(device);
    this.events.push({ kind: 'connected', clientId: device.clientId });
    const old = this.sessions.get(device.clientId);
    if (old !== undefined && old.closed === null && old.sink !== sink) {
      // Takeover: the other connection with this id ends (EMQX: discarded on clean start).
      old.sink?.kick(opts.cleanStart ? 'discarded' : 'takenover');
    }
    if (old !== undefined && !opts.cleanStart) {
      old.device = device;
      old.sink = sink;
      old.opts = opts;
      old.will = opts.will ?? null;
      old.closed = null;
      (old as { resumed: boolean }).resumed = true;
      old.attached = true;
      if (opts.inflightWindow) old.window = opts.inflightWindow;
      old.drain();
      return old;
    }
    const s = new FakeSession(this, device, false, sink, opts);
    this.sessions.set(device.clientId, s);
    return s;
  }

  /** The one publish path: topic checks, authorization and mountpoint, then routing. */
  publishAs(clientId: string, username: string | null, mountpoint: string, topic: string, payload: Buffer, qos: QoS, retain: boolean, props: MessageProperties | null = null, expiryInterval?: number): PublishOutcome {
    if (topic === '' || topic.includes('+') || topic.includes('#')) return { ok: false, reason: 'topic_invalid' };
    const mounted = mountpoint + topic;
    if (this.denyPublish.has(topic) || this.denyPublish.has(mounted) || !this.allow(clientId, 'publish', topic)) return { ok: false, reason: 'not_authorized' };
    const matched = this.route(createMessage({ topic: mounted, payload, qos, retain, props, expiryInterval, from: clientId, fromUsername: username, now: this.clock.now() }));
    return { ok: true, durable: this.durable && qos > 0, matched };
  }

  route(msg: Message): number {
    this.published.push({ topic: msg.topic, payload: msg.payload.toString(), qos: msg.qos, retain: msg.retain, from: msg.from ?? '' });
    this.messages.push(msg);
    if (msg.retain) {
      if (msg.payload.length === 0) this.retained.delete(msg.topic);
      else this.retained.set(msg.topic, msg);
    }
    let matched = 0;
    for (const s of this.sessions.values()) {
      if (s.closed !== null && s.opts.expiryInterval === 0) continue;
      for (const [filter, so] of s.subs) {
        if (!topicMatches(s.mountpoint + filter, msg.topic)) continue;
        if (so.nl && msg.from === s.clientId) continue;
        matched++;
        s.enqueue(msg, Math.min(msg.qos, so.qos) as QoS, so.rap && msg.retain, filter);
      }
    }
    return matched;
  }

  publishSessionless(device: SessionlessDevice, topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; expiryInterval?: number }): PublishOutcome {
    const r = this.publishAs(device.clientId, device.username, expand(this.mountpoint, device.clientId, device.username), topic, payload, opts.qos, opts.retain, null, opts.expiryInterval);
    if (r.ok) this.anonymous.push(this.published.at(-1)!);
    return r;
  }

  whenDurable(fn: () => void): void {
    this.durableQueue.push(fn);
  }

  /** Runs the callbacks queued by whenDurable (the group commit). */
  commit(): void {
    const q = this.durableQueue;
    this.durableQueue = [];
    for (const fn of q) fn();
  }

  get durableWaiting(): number {
    return this.durableQueue.length;
  }

  /** Publish as an MQTT client would: the topic as given (mountpoint included), no ACL. */
  mqttPublish(topic: string, payload: Buffer | string, qos: QoS = 0, retain = false, props: MessageProperties | null = null): void {
    this.route(createMessage({ topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain, props, from: 'mqtt-client', now: this.clock.now() }));
  }
}

export function createFakeGatewayContext(o: FakeContextOptions = {}): FakeGatewayContext {
  return new FakeGatewayContext(o);
}
