// A small in-memory broker behind the GatewayContext interface, for gateway unit tests: sessions,
// wildcard routing, mountpoints with ${clientid}/${username}, retained messages with retain
// handling, QoS 1/2 inflight tracking, pluggable authentication and authorization, group-commit
// waits that the test releases, counters, and a manual clock. Copy it rather than edit it from
// another gateway's tests (owner: the CoAP gateway).
import pino from 'pino';
import { FakeClock } from './fake-clock.js';
import { createMessage, type Message } from '../../src/core/message.js';
import type {
  AuthOutcome,
  Clock,
  Delivery,
  DeliverySink,
  DeviceInfo,
  DisconnectReason,
  GatewayContext,
  GatewaySession,
  OpenSessionOptions,
  PublishOutcome,
  QoS,
  Store,
  SubscribeOutcome,
  SubscriptionOptions,
} from '../../gateways/gateway.js';

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

export interface FakeSessionRecord {
  device: DeviceInfo;
  opts: OpenSessionOptions;
  sink: DeliverySink;
  subs: Map<string, SubscriptionOptions>;
  inflight: Map<number, Delivery>;
  acked: number[];
  closed: DisconnectReason | null;
  mountpoint: string;
  nextPid: number;
}

export interface FakeContextOptions {
  name?: string;
  mountpoint?: string;
  clock?: Clock;
  authenticate?: (req: Parameters<GatewayContext['authenticate']>[0]) => AuthOutcome | Promise<AuthOutcome>;
  /** Decides publish/subscribe on the unmounted topic. */
  authorize?: (clientId: string, action: 'publish' | 'subscribe', topic: string) => boolean;
  /** Publishes report durable: true (the gateway must wait for whenDurable). */
  durable?: boolean;
}

export interface FakeGatewayContext extends GatewayContext {
  readonly sessions: Map<string, FakeSessionRecord>;
  /** Every accepted publish, with the mounted topic, in order. */
  readonly published: Message[];
  readonly retained: Map<string, Message>;
  readonly counters: Map<string, number>;
  readonly events: { kind: 'connected' | 'disconnected'; clientId: string; reason?: DisconnectReason }[];
  /** Runs the callbacks queued by whenDurable (the group commit). */
  commit(): void;
  readonly durableWaiting: number;
  /** Publish as an MQTT client would (mounted topic, no ACL). */
  mqttPublish(topic: string, payload: Buffer | string, qos?: QoS, retain?: boolean): void;
}

function expand(mountpoint: string, d: DeviceInfo): string {
  return mountpoint.replaceAll('${clientid}', d.clientId).replaceAll('${username}', d.username ?? '');
}

export function createFakeGatewayContext(o: FakeContextOptions = {}): FakeGatewayContext {
  const clock = o.clock ?? new FakeClock();
  const sessions = new Map<string, FakeSessionRecord>();
  const published: Message[] = [];
  const retained = new Map<string, Message>();
  const counters = new Map<string, number>();
  const events: FakeGatewayContext['events'] = [];
  let durableQueue: (() => void)[] = [];
  const mountpoint = o.mountpoint ?? '';
  const allow = o.authorize ?? (() => true);

  function route(msg: Message): number {
    let matched = 0;
    for (const s of sessions.values()) {
      if (s.closed !== null) continue;
      for (const [filter, so] of s.subs) {
        if (!topicMatches(s.mountpoint + filter, msg.topic)) continue;
        if (so.nl && msg.from === s.device.clientId) continue;
        matched++;
        deliver(s, msg, filter, so, false);
      }
    }
    return matched;
  }

  function deliver(s: FakeSessionRecord, msg: Message, filter: string, so: SubscriptionOptions, isRetained: boolean): void {
    const qos = Math.min(msg.qos, so.qos) as QoS;
    const pid = qos === 0 ? 0 : s.nextPid++;
    const d: Delivery = { message: msg, qos, pid, dup: false, retain: isRetained || (so.rap && msg.retain), subIds: null, filter };
    if (pid !== 0) s.inflight.set(pid, d);
    s.sink.deliver(d);
  }

  function doPublish(s: { clientId: string; username: string | null; mountpoint: string }, topic: string, payload: Buffer, qos: QoS, retain: boolean): PublishOutcome {
    if (topic === '' || topic.includes('+') || topic.includes('#')) return { ok: false, reason: 'topic_invalid' };
    if (!allow(s.clientId, 'publish', topic)) return { ok: false, reason: 'not_authorized' };
    const msg = createMessage({ topic: s.mountpoint + topic, payload, qos, retain, from: s.clientId, fromUsername: s.username, now: clock.now() });
    published.push(msg);
    if (retain) {
      if (payload.length === 0) retained.delete(msg.topic);
      else retained.set(msg.topic, msg);
    }
    const matched = route(msg);
    return { ok: true, durable: o.durable === true && qos > 0, matched };
  }

  const ctx: FakeGatewayContext = {
    name: o.name ?? 'coap',
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    clock,
    node: 'outpost@127.0.0.1',
    store: {} as Store,
    sessions,
    published,
    retained,
    counters,
    events,
    metrics: {
      inc(name: string, by = 1) {
        counters.set(name, (counters.get(name) ?? 0) + by);
      },
    },
    authenticate(req) {
      if (o.authenticate === undefined) return { ok: true, superuser: false, username: req.username };
      return o.authenticate(req);
    },
    openSession(device, opts, sink): GatewaySession {
      const old = sessions.get(device.clientId);
      if (old !== undefined && old.closed === null) {
        old.closed = 'takenover';
        old.sink.kick('takenover');
      }
      const rec: FakeSessionRecord = { device, opts, sink, subs: new Map(), inflight: new Map(), acked: [], closed: null, mountpoint: expand(mountpoint, device), nextPid: 1 };
      sessions.set(device.clientId, rec);
      events.push({ kind: 'connected', clientId: device.clientId });
      const who = { clientId: device.clientId, username: device.username, mountpoint: rec.mountpoint };
      return {
        clientId: device.clientId,
        username: device.username,
        resumed: false,
        publish: (topic, payload, p) => doPublish(who, topic, payload, p.qos, p.retain),
        subscribe(filter, so): SubscribeOutcome {
          if (!allow(device.clientId, 'subscribe', filter)) return { ok: false, reason: 'not_authorized' };
          const full: SubscriptionOptions = { qos: so.qos, nl: so.nl ?? false, rap: so.rap ?? false, rh: so.rh ?? 0, subId: so.subId ?? 0 };
          const isNew = !rec.subs.has(filter);
          rec.subs.set(filter, full);
          if (full.rh === 0 || (full.rh === 1 && isNew)) {
            for (const m of retained.values()) if (topicMatches(rec.mountpoint + filter, m.topic)) deliver(rec, m, filter, full, true);
          }
          return { ok: true, qos: so.qos };
        },
        unsubscribe: (filter) => rec.subs.delete(filter),
        subscriptions: () => [...rec.subs].map(([filter, opts]) => ({ filter, opts })),
        ack(pid) {
          if (rec.inflight.delete(pid)) rec.acked.push(pid);
        },
        received() {},
        complete(pid) {
          if (rec.inflight.delete(pid)) rec.acked.push(pid);
        },
        reject() {},
        setWill() {},
        setInflightWindow() {},
        queuedCount: () => 0,
        inflightCount: () => rec.inflight.size,
        touch() {},
        detach() {},
        attach() {},
        close(reason) {
          if (rec.closed !== null) return;
          rec.closed = reason;
          events.push({ kind: 'disconnected', clientId: device.clientId, reason });
        },
      };
    },
    publishSessionless(device, topic, payload, p) {
      return doPublish({ clientId: device.clientId, username: device.username, mountpoint: expand(mountpoint, device as DeviceInfo) }, topic, payload, p.qos, p.retain);
    },
    whenDurable(fn) {
      durableQueue.push(fn);
    },
    commit() {
      const q = durableQueue;
      durableQueue = [];
      for (const fn of q) fn();
    },
    get durableWaiting() {
      return durableQueue.length;
    },
    mqttPublish(topic, payload, qos = 0, retain = false) {
      const msg = createMessage({ topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain, from: 'mqtt-app', now: clock.now() });
      if (retain) retained.set(topic, msg);
      route(msg);
    },
  };
  return ctx;
}
