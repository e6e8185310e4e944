// A small in-memory broker behind GatewayContext for channel tests: sessions with subscriptions,
// an mqueue, an inflight window, detach/attach, wills and a log of what was published.
import { pino } from 'pino';
import type {
  AuthOutcome,
  Delivery,
  DeliverySink,
  DeviceInfo,
  DisconnectReason,
  GatewayContext,
  GatewaySession,
  OpenSessionOptions,
  PublishOutcome,
  QoS,
  SubscribeOutcome,
  SubscriptionOptions,
  SessionlessDevice,
  WillMessage,
} from '../../../../gateways/gateway.js';
import { createMessage, type Message } from '../../../../src/core/message.js';
import type { Store } from '../../../../src/store/store.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { topicMatches } from '../../../helpers/fake-gateway-context.js';

export { topicMatches };

export interface Published {
  topic: string;
  payload: string;
  qos: QoS;
  retain: boolean;
  from: string;
}

export class FakeSession implements GatewaySession {
  readonly username: string | null = null;
  subs = new Map<string, SubscriptionOptions>();
  queue: Delivery[] = [];
  inflight = new Map<number, Delivery>();
  window = 32;
  sink: DeliverySink | null;
  attached = true;
  closed: { reason: DisconnectReason; sendWill: boolean } | null = null;
  will: WillMessage | null;
  touched = 0;
  private nextPid = 1;

  constructor(
    private readonly broker: FakeContext,
    readonly clientId: string,
    readonly resumed: boolean,
    sink: DeliverySink,
    public opts: OpenSessionOptions,
  ) {
    this.sink = sink;
    this.will = opts.will ?? null;
    if (opts.inflightWindow) this.window = opts.inflightWindow;
  }

  publish(topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean }): PublishOutcome {
    return this.broker.route(this.broker.mount(topic), payload, opts.qos, opts.retain, this.clientId);
  }
  subscribe(filter: string, opts: Partial<SubscriptionOptions> & { qos: QoS }): SubscribeOutcome {
    if (this.broker.denySubscribe.has(filter)) return { ok: false, reason: 'not_authorized' };
    this.subs.set(filter, { qos: opts.qos, nl: opts.nl ?? false, rap: opts.rap ?? false, rh: opts.rh ?? 0, subId: 0 });
    for (const [t, m] of this.broker.retained) if (topicMatches(this.broker.mount(filter), t)) this.enqueue(m, Math.min(m.qos, opts.qos) as QoS, true);
    return { ok: true, qos: opts.qos };
  }
  unsubscribe(filter: string): boolean {
    return this.subs.delete(filter);
  }
  subscriptions(): { filter: string; opts: SubscriptionOptions }[] {
    return [...this.subs].map(([filter, opts]) => ({ filter, opts }));
  }
  enqueue(message: Message, qos: QoS, retain: boolean): void {
    const d: Delivery = { message, qos, pid: qos === 0 ? 0 : this.nextPid++, dup: false, retain, subIds: null, filter: '' };
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
      if (d.qos > 0) this.inflight.set(d.pid, d);
      // As the real host: gateways see topics without the mountpoint.
      const mp = this.broker.mountpoint;
      this.sink.deliver(mp && d.message.topic.startsWith(mp) ? { ...d, message: d.message.with({ topic: d.message.topic.slice(mp.length) }) } : d);
    }
  }
  ack(pid: number): void {
    this.broker.acks.push(pid);
    this.inflight.delete(pid);
    this.drain();
  }
  received(pid: number): void {
    this.broker.received.push(pid);
  }
  complete(pid: number): void {
    this.inflight.delete(pid);
    this.drain();
  }
  reject(pid: number): void {
    this.inflight.delete(pid);
  }
  setWill(will: WillMessage | null): void {
    this.will = will;
  }
  setInflightWindow(n: number): void {
    this.window = n;
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
    this.closed = { reason, sendWill: opts?.sendWill ?? false };
    this.attached = false;
    if (opts?.sendWill && this.will) this.broker.route(this.will.topic, this.will.payload, this.will.qos, this.will.retain, this.clientId);
    if (this.opts.expiryInterval === 0) this.broker.sessions.delete(this.clientId);
    this.broker.closes.push({ clientId: this.clientId, reason, sendWill: opts?.sendWill ?? false });
  }
}

export class FakeContext implements GatewayContext {
  readonly name = 'mqttsn';
  readonly log = pino({ level: 'silent' });
  readonly clock = new FakeClock();
  readonly node = 'outpost@127.0.0.1';
  readonly store = {} as Store;
  mountpoint = '';
  sessions = new Map<string, FakeSession>();
  published: Published[] = [];
  anonymous: Published[] = [];
  retained = new Map<string, Message>();
  acks: number[] = [];
  received: number[] = [];
  closes: { clientId: string; reason: DisconnectReason; sendWill: boolean }[] = [];
  counters = new Map<string, number>();
  denyPublish = new Set<string>();
  denySubscribe = new Set<string>();
  authDeny = new Set<string>();
  authPending: (() => void)[] = [];
  holdAuth = false;
  durable = false;
  durableQueue: (() => void)[] = [];
  maxQueue = 1000;
  dropped = 0;
  devices: DeviceInfo[] = [];

  metrics = { inc: (name: string, by = 1): void => void this.counters.set(name, (this.counters.get(name) ?? 0) + by) };

  mount(t: string): string {
    return this.mountpoint + t;
  }

  authRequests: { clientId: string; username: string | null; password: Buffer | null }[] = [];

  authenticate(req: { clientId: string; username: string | null; password: Buffer | null }): Promise<AuthOutcome> {
    this.authRequests.push({ clientId: req.clientId, username: req.username, password: req.password });
    const outcome: AuthOutcome = this.authDeny.has(req.clientId) ? { ok: false, reason: 'not_authorized' } : { ok: true, superuser: false, username: req.username };
    if (!this.holdAuth) return Promise.resolve(outcome);
    return new Promise((resolve) => this.authPending.push(() => resolve(outcome)));
  }

  openSession(device: DeviceInfo, opts: OpenSessionOptions, sink: DeliverySink): GatewaySession {
    this.devices.push(device);
    const old = this.sessions.get(device.clientId);
    if (old && !opts.cleanStart) {
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
    const s = new FakeSession(this, device.clientId, false, sink, opts);
    this.sessions.set(device.clientId, s);
    return s;
  }

  route(topic: string, payload: Buffer, qos: QoS, retain: boolean, from: string): PublishOutcome {
    if (this.denyPublish.has(topic)) return { ok: false, reason: 'not_authorized' };
    this.published.push({ topic, payload: payload.toString(), qos, retain, from });
    const m = createMessage({ topic, payload, qos, retain, from, now: this.clock.now() });
    if (retain) this.retained.set(topic, m);
    let matched = 0;
    for (const s of this.sessions.values()) {
      for (const [f, o] of s.subs) {
        if (topicMatches(this.mount(f), topic)) {
          matched++;
          s.enqueue(m, Math.min(qos, o.qos) as QoS, false);
          break;
        }
      }
    }
    return { ok: true, durable: this.durable, matched };
  }

  publishSessionless(device: SessionlessDevice, topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean }): PublishOutcome {
    if (this.denyPublish.has(topic)) return { ok: false, reason: 'not_authorized' };
    this.anonymous.push({ topic, payload: payload.toString(), qos: opts.qos, retain: opts.retain, from: device.clientId });
    return { ok: true, durable: false, matched: 0 };
  }

  whenDurable(fn: () => void): void {
    this.durableQueue.push(fn);
  }

  /** Publish as an MQTT client would. */
  mqttPublish(topic: string, payload: string, qos: QoS = 0, retain = false): void {
    this.route(topic, Buffer.from(payload), qos, retain, 'mqtt-client');
  }
}
