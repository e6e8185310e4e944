// A small in-memory BrokerApi for driving the admin API with inject(): real Metrics and a real
// SQLite store (in memory), clients/subscriptions/retained held in maps.
import { pino } from 'pino';
import type { FlowSource } from '../../../src/broker/flow.js';
import type { BrokerApi, BrokerEvents, BrokerStats, ClientSummary, DelayedSummary, DeliverySummary, PublishInterceptor, PublishResult, SubscriptionSummary } from '../../../src/broker/api.js';
import type { Message } from '../../../src/core/message.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { SubscriptionOptions } from '../../../src/core/types.js';
import { Store } from '../../../src/store/store.js';
import { splitShared, topicMatches } from '../../../src/admin/topic-match.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';

export function client(id: string, over: Partial<ClientSummary> = {}): ClientSummary {
  return {
    clientId: id,
    username: null,
    protocol: 'mqtt',
    protoName: 'MQTT',
    protoVer: 5,
    listener: 'tcp:default',
    peerHost: '127.0.0.1',
    peerPort: 50000,
    connected: true,
    keepalive: 60,
    cleanStart: true,
    expiryInterval: 0,
    createdAt: Date.parse('2026-11-21T10:00:00Z'),
    connectedAt: Date.parse('2026-11-21T10:00:00Z'),
    disconnectedAt: 0,
    subscriptionsCount: 0,
    inflightCount: 0,
    inflightMax: 32,
    mqueueLen: 0,
    mqueueMax: 1000,
    mqueueDropped: 0,
    awaitingRelCount: 0,
    recvMsg: 0,
    sendMsg: 0,
    recvOct: 0,
    sendOct: 0,
    mountpoint: '',
    isBridge: false,
    ...over,
  };
}

export class FakeBroker implements BrokerApi {
  readonly node = 'outpost@127.0.0.1';
  readonly version = '0.1.0';
  readonly clock = new FakeClock(Date.parse('2026-11-22T00:00:00Z'));
  readonly startedAt = this.clock.t - 3_600_000;
  readonly log = pino({ level: 'silent' });
  readonly metrics = new Metrics();
  readonly store = Store.open({ path: ':memory:', synchronous: 'OFF', log: this.log });
  readonly flowControl = true;
  congestedBy: FlowSource | null = null;
  readonly clientMap = new Map<string, ClientSummary>();
  readonly subs = new Map<string, Map<string, SubscriptionOptions>>();
  readonly retainedMap = new Map<string, Message>();
  /** Per client: queued deliveries (in order) and inflight ones, as the tests set them. */
  readonly queues = new Map<string, { mqueue: DeliverySummary[]; inflight: DeliverySummary[] }>();
  readonly published: Message[] = [];
  readonly interceptors: PublishInterceptor[] = [];
  readonly listeners: BrokerEvents[] = [];
  kicked: string[] = [];
  nextPublishFails: Extract<PublishResult, { ok: false }>['reason'] | null = null;

  addClient(c: ClientSummary): void {
    this.clientMap.set(c.clientId, c);
    this.subs.set(c.clientId, new Map());
    for (const l of this.listeners) l.onClientConnected?.(c);
  }

  publish(msg: Message): PublishResult {
    if (this.nextPublishFails) {
      const reason = this.nextPublishFails;
      this.nextPublishFails = null;
      return { ok: false, reason };
    }
    for (const i of this.interceptors) i.onPublish(msg);
    this.published.push(msg);
    if (msg.retain) {
      if (msg.payload.length === 0) this.retainedMap.delete(msg.topic);
      else this.retainedMap.set(msg.topic, msg);
    }
    let matched = 0;
    for (const s of this.subscriptions()) if (topicMatches(splitShared(s.topic).filter, msg.topic)) matched++;
    this.metrics.c['messages.received']++;
    return { ok: true, matched, durable: false };
  }
  addInterceptor(i: PublishInterceptor): void {
    this.interceptors.push(i);
  }
  removeInterceptor(i: PublishInterceptor): void {
    const at = this.interceptors.indexOf(i);
    if (at >= 0) this.interceptors.splice(at, 1);
  }
  addEventListener(l: BrokerEvents): void {
    this.listeners.push(l);
  }
  clients(): Iterable<ClientSummary> {
    return this.clientMap.values();
  }
  client(id: string): ClientSummary | null {
    return this.clientMap.get(id) ?? null;
  }
  kick(id: string): boolean {
    const c = this.clientMap.get(id);
    if (!c) return false;
    this.kicked.push(id);
    this.clientMap.delete(id);
    this.subs.delete(id);
    for (const l of this.listeners) l.onClientDisconnected?.(c, 'kicked');
    return true;
  }
  /** Pending delayed publishes, as the tests set them. */
  readonly delayed = new Map<number, DelayedSummary>();
  delayedMessages(): DelayedSummary[] {
    return [...this.delayed.values()].sort((a, b) => a.due - b.due);
  }
  delayedMessage(id: number): DelayedSummary | null {
    return this.delayed.get(id) ?? null;
  }
  cancelDelayed(id: number): boolean {
    return this.delayed.delete(id);
  }
  /** Client ids whose connection cannot change keepalive (a gateway session). */
  readonly fixedKeepalive = new Set<string>();
  setKeepalive(id: string, seconds: number): 'ok' | 'not_found' | 'not_supported' {
    const c = this.clientMap.get(id);
    if (!c || !c.connected) return 'not_found';
    if (this.fixedKeepalive.has(id)) return 'not_supported';
    this.clientMap.set(id, { ...c, keepalive: seconds });
    return 'ok';
  }
  subscriptions(clientId?: string): SubscriptionSummary[] {
    const out: SubscriptionSummary[] = [];
    for (const [cid, m] of this.subs) {
      if (clientId !== undefined && cid !== clientId) continue;
      for (const [topic, opts] of m) out.push({ clientId: cid, topic, opts });
    }
    return out;
  }
  subscribeFor(clientId: string, filter: string, opts: SubscriptionOptions): boolean {
    const m = this.subs.get(clientId);
    if (!m) return false;
    m.set(filter, opts);
    return true;
  }
  deliveries(clientId: string, which: 'mqueue' | 'inflight'): DeliverySummary[] | null {
    if (!this.clientMap.has(clientId)) return null;
    return [...(this.queues.get(clientId)?.[which] ?? [])];
  }
  unsubscribeFor(clientId: string, filter: string): boolean {
    return this.subs.get(clientId)?.delete(filter) ?? false;
  }
  topics(): string[] {
    return [...new Set(this.subscriptions().map((s) => splitShared(s.topic).filter))];
  }
  readonly retained = {
    list: (filter?: string): Message[] => [...this.retainedMap.values()].filter((m) => filter === undefined || topicMatches(filter, m.topic)),
    get: (topic: string): Message | null => this.retainedMap.get(topic) ?? null,
    delete: (topic: string): boolean => this.retainedMap.delete(topic),
    count: (): number => this.retainedMap.size,
  };
  stats(): BrokerStats {
    const connected = [...this.clientMap.values()].filter((c) => c.connected).length;
    return {
      'connections.count': connected,
      'connections.max': connected,
      'live_connections.count': connected,
      'sessions.count': this.clientMap.size,
      'topics.count': this.topics().length,
      'subscriptions.count': this.subscriptions().length,
      'subscriptions.shared.count': this.subscriptions().filter((s) => splitShared(s.topic).group !== '').length,
      'subscribers.count': this.subs.size,
      'retained.count': this.retainedMap.size,
      'delayed.count': 0,
      'mqueue.total': 0,
      'inflight.total': 0,
    };
  }
}

export function testConfig(dataDir: string, api: Record<string, unknown> = {}): Config {
  return validateConfig({ node: { data_dir: dataDir }, api: { port: 0, ...api } });
}
