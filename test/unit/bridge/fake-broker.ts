// A small BrokerApi for bridge tests until the Broker class exists: real Metrics and a real Store,
// interceptors called like the broker's publish pipeline, local subscribers as callbacks.
import pino from 'pino';
import type { BrokerApi, PublishInterceptor, PublishResult } from '../../../src/broker/api.js';
import type { Message } from '../../../src/core/message.js';
import { Metrics } from '../../../src/core/metrics.js';
import { topicMatches } from '../../../src/broker/topic.js';
import { systemClock, type Clock } from '../../../src/core/types.js';
import { Store } from '../../../src/store/store.js';

export interface FakeBroker extends BrokerApi {
  readonly published: Message[];
  readonly interceptors: PublishInterceptor[];
  /** Publish like a local client would; resolves when the broker would send PUBACK (after the group commit when durable). */
  publishAcked(msg: Message): Promise<PublishResult>;
  subscribe(filter: string, fn: (m: Message) => void): void;
  logLines: Record<string, unknown>[];
}

export function memoryLogger(lines: Record<string, unknown>[]) {
  return pino(
    { level: 'debug' },
    {
      write(s: string) {
        lines.push(JSON.parse(s) as Record<string, unknown>);
      },
    },
  );
}

export function fakeBroker(store: Store, opts: { clock?: Clock; node?: string; flowControl?: boolean } = {}): FakeBroker {
  const interceptors: PublishInterceptor[] = [];
  const published: Message[] = [];
  const subs: { filter: string; fn: (m: Message) => void }[] = [];
  const logLines: Record<string, unknown>[] = [];
  const log = memoryLogger(logLines);
  const publish = (msg: Message): PublishResult => {
    let durable = false;
    for (const i of interceptors) if (i.onPublish(msg)) durable = true;
    published.push(msg);
    let matched = 0;
    for (const s of subs) {
      if (topicMatches(s.filter, msg.topic)) {
        matched++;
        s.fn(msg);
      }
    }
    return { ok: true, matched, durable };
  };
  const notHere = (): never => {
    throw new Error('not part of the fake broker');
  };
  return {
    node: opts.node ?? 'edge@127.0.0.1',
    version: 'test',
    startedAt: Date.now(),
    log,
    clock: opts.clock ?? systemClock,
    metrics: new Metrics(),
    store,
    flowControl: opts.flowControl ?? true,
    congestedBy: null,
    publish,
    addInterceptor: (i) => void interceptors.push(i),
    removeInterceptor: (i) => {
      const k = interceptors.indexOf(i);
      if (k >= 0) interceptors.splice(k, 1);
    },
    addEventListener: () => {},
    clients: () => [],
    client: () => null,
    kick: () => false,
    subscriptions: () => [],
    deliveries: () => null,
    subscribeFor: () => false,
    unsubscribeFor: () => false,
    topics: () => [],
    retained: { list: () => [], get: () => null, delete: () => false, count: () => 0 },
    stats: notHere,
    published,
    interceptors,
    logLines,
    publishAcked(msg) {
      const r = publish(msg);
      if (!r.ok || !r.durable || msg.qos === 0) return Promise.resolve(r);
      return new Promise((resolve) => store.afterCommit({ committed: () => resolve(r) }));
    },
    subscribe(filter, fn) {
      subs.push({ filter, fn });
    },
  };
}

export function openStore(path = ':memory:'): Store {
  return Store.open({ path, synchronous: 'NORMAL', log: pino({ level: 'silent' }) });
}
