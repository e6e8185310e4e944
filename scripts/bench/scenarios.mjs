// The benchmark scenarios. Each one runs against a freshly started broker and returns its metrics; the driver
// runs every scenario on every broker in alternation and reports medians. All traffic stays on 127.0.0.1.
import { unavailable } from './brokers.mjs';
import { cpuSeconds, rssKiB } from './lib/proc.mjs';
import { mergeHist, spread, sumRates } from './lib/pool.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const range = (a, b) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

// Metric descriptors: `better` tells the reader (and the ratio column) which direction is good.
const M = {
  rate: { key: 'rate', label: 'msgs/s', better: 'higher' },
  // Publisher side: PUBACK/PUBCOMP rate at QoS 1/2, bytes the broker read off the socket at QoS 0. Above `rate`
  // it means the broker accepts faster than it delivers and queues (or drops) the difference.
  inRate: { key: 'publishRate', label: 'in msgs/s', better: 'higher' },
  deliveries: { key: 'rate', label: 'deliveries/s', better: 'higher' },
  acked: { key: 'rate', label: 'acked msgs/s', better: 'higher' },
  cpu: { key: 'cpuPerM', label: 'CPU s / M msgs', better: 'lower' },
  p50: { key: 'p50', label: 'latency p50 ms', better: 'lower' },
  p99: { key: 'p99', label: 'latency p99 ms', better: 'lower' },
  delivered: { key: 'delivered', label: 'delivered msgs/s', better: 'higher' },
  connRate: { key: 'connRate', label: 'connects/s', better: 'higher' },
  rssPerConn: { key: 'rssPerConn', label: 'RSS KiB / conn', better: 'lower' },
  connected: { key: 'connected', label: 'connected', better: 'higher' },
  fillRate: { key: 'fillRate', label: 'fill msgs/s', better: 'higher' },
  fillCpu: { key: 'fillCpuPerM', label: 'fill CPU s / M msgs', better: 'lower' },
  drainSecs: { key: 'drainSecs', label: 'drain s', better: 'lower' },
  drainCpu: { key: 'cpuPerM', label: 'drain CPU s / M msgs', better: 'lower' },
  readyMs: { key: 'readyMs', label: 'start-to-ready ms', better: 'lower' },
  rssIdle: { key: 'rssMiB', label: 'RSS MiB at ready', better: 'lower' },
};

/** Workers for a 1-subscriber scenario: the subscriber alone on worker 0, publishers on the rest. */
const subFirst = (W) => ({ sub: [0], pub: W > 1 ? range(1, W) : [0] });
/** Workers for a fan-out: the publisher on worker 0, subscribers on the rest. */
const pubFirst = (W) => ({ pub: [0], sub: W > 1 ? range(1, W) : [0] });

async function connectGroup(ctx, group, count, workers, args) {
  const parts = spread(count, workers);
  const res = await Promise.all(
    parts.map((p) =>
      ctx.pool.call(p.w, 'connect', { group, port: ctx.broker.port, n: p.n, indexBase: p.indexBase, ...args }),
    ),
  );
  const failed = res.reduce((s, r) => s + r.failed, 0);
  if (failed > 0 && !args.allowFailures) throw new Error(`${failed} ${group} clients failed: ${res.find((r) => r.firstError)?.firstError}`);
  return { parts, res };
}

/**
 * Publishers -> broker -> subscribers for warm-up + a measured window. The subscribers' receive rate is the
 * result; broker CPU over the window is divided by the messages delivered in it.
 */
async function flow(ctx, spec) {
  const { pool, opts, broker } = ctx;
  const place = spec.place(pool.size);
  const pv = spec.protocolVersion ?? 4;
  await connectGroup(ctx, 'sub', spec.subs, place.sub, {
    clientId: 'bench-sub-{i}',
    subscribe: { filter: spec.filter, qos: spec.subQos ?? spec.qos },
    concurrency: 20,
    protocolVersion: pv,
    latency: Boolean(spec.rate),
  });
  const pubs = await connectGroup(ctx, 'pub', spec.pubs, place.pub, { clientId: 'bench-pub-{i}', concurrency: 20, protocolVersion: pv });
  await Promise.all(
    pubs.parts.map((p) =>
      pool.call(p.w, 'publish', {
        group: 'pub',
        topic: spec.topic,
        qos: spec.qos,
        window: opts.window,
        payloadSize: opts.payload,
        rate: spec.rate ?? 0,
        indexBase: p.indexBase,
      }),
    ),
  );
  await sleep(Math.max(opts.warmupMs, spec.minWarmupMs ?? 0));
  const cpu0 = cpuSeconds(broker.pid);
  const s0 = await pool.snapshot();
  if (spec.rate) await pool.all('resetLatency');
  await sleep(opts.durationMs);
  const s1 = await pool.snapshot(Boolean(spec.rate));
  const cpu1 = cpuSeconds(broker.pid);
  // RSS at the end of the window (JSON only): shows a broker that buffers what it cannot deliver yet.
  const rssEndMiB = rssKiB(broker.pid) / 1024;
  const recv = sumRates(s0, s1, 'received');
  const out = sumRates(s0, s1, spec.qos > 0 ? 'acked' : 'sent');
  const closes = s1.reduce((s, x) => s + x.unexpectedCloses, 0);
  if (recv.delta === 0) throw new Error(`nothing delivered in the window (${closes} clients dropped)`);
  const result = {
    rate: recv.rate,
    publishRate: out.rate,
    cpuPerM: ((cpu1 - cpu0) / recv.delta) * 1e6,
    droppedClients: closes,
    rssEndMiB,
  };
  if (spec.rate) {
    const h = mergeHist(s1);
    result.delivered = recv.rate;
    result.p50 = h.percentile(0.5) / 1000;
    result.p99 = h.percentile(0.99) / 1000;
    result.samples = h.total;
  }
  return result;
}

/** A flow scenario; `spec` may be a function of the run options (for --rate). */
const throughput = (name, title, spec, metrics = [M.rate, M.inRate, M.cpu], extra = {}) => ({
  name,
  title,
  metrics,
  supports: (b) => (extra.protocolVersion === 5 && b === 'aedes' ? 'aedes has no MQTT 5' : null),
  run: (ctx) => flow(ctx, typeof spec === 'function' ? spec(ctx.opts) : { ...spec, protocolVersion: extra.protocolVersion }),
  ...extra,
});

/** Opens many connections that then sit idle: connect rate and the broker's memory per connection. */
async function idle(ctx) {
  const { pool, opts, broker } = ctx;
  await sleep(100);
  const rss0 = rssKiB(broker.pid);
  const cpu0 = cpuSeconds(broker.pid);
  const { res } = await connectGroup(ctx, 'idle', opts.idleConns, range(0, pool.size), {
    clientId: 'bench-idle-{i}',
    keepalive: 600,
    concurrency: 50,
    timeoutMs: 60_000,
    allowFailures: true,
  });
  const connected = res.reduce((s, r) => s + r.connected, 0);
  const t0 = Math.min(...res.map((r) => r.t0));
  const t1 = Math.max(...res.map((r) => r.t1));
  const cpu1 = cpuSeconds(broker.pid);
  // Let a garbage-collected broker settle before reading RSS; the connections stay open and silent.
  await sleep(500);
  const rss1 = rssKiB(broker.pid);
  if (connected === 0) throw new Error(`no connection succeeded: ${res.find((r) => r.firstError)?.firstError}`);
  return {
    connected,
    failed: opts.idleConns - connected,
    connRate: connected / ((t1 - t0) / 1e6),
    rssPerConn: (rss1 - rss0) / connected,
    rssBeforeKiB: rss0,
    rssAfterKiB: rss1,
    cpuPerKConn: ((cpu1 - cpu0) / connected) * 1000,
  };
}

/**
 * A persistent session (clean session 0) subscribes at QoS 1 and goes away; a publisher puts N QoS 1 messages
 * into its queue; the session reconnects and we time the drain until every sequence number has arrived.
 */
async function backlog(ctx) {
  const { pool, opts, broker } = ctx;
  const n = opts.backlog;
  const W = pool.size;
  const subW = 0;
  const pubW = W > 1 ? 1 : 0;
  const sub = { group: 'sub', port: broker.port, n: 1, indexBase: 0, clientId: 'bench-backlog-sub', clean: false };
  let r = await pool.call(subW, 'connect', { ...sub, subscribe: { filter: 'bench/backlog', qos: 1 } });
  if (r.failed) throw new Error(r.firstError);
  await pool.call(subW, 'disconnect', { group: 'sub' });
  r = await pool.call(pubW, 'connect', { group: 'pub', port: broker.port, n: 1, indexBase: 0, clientId: 'bench-backlog-pub' });
  if (r.failed) throw new Error(r.firstError);
  const fillCpu0 = cpuSeconds(broker.pid);
  const fillStart = await pool.call(pubW, 'snapshot');
  await pool.call(pubW, 'publish', { group: 'pub', topic: 'bench/backlog', qos: 1, window: opts.window, payloadSize: opts.payload, limit: n, indexBase: 0 });
  const filled = await pool.call(pubW, 'waitDone', { group: 'pub', timeoutMs: opts.backlogTimeoutMs });
  if (!filled.ok) throw new Error(`fill incomplete: ${filled.acked}/${n} acknowledged`);
  const fillRate = n / ((filled.t - fillStart.t) / 1e6);
  const fillCpuPerM = ((cpuSeconds(broker.pid) - fillCpu0) / n) * 1e6;
  await sleep(200);
  const cpu0 = cpuSeconds(broker.pid);
  const c = await pool.call(subW, 'connect', { ...sub, trackSeq: n });
  if (c.failed) throw new Error(c.firstError);
  const drained = await pool.call(subW, 'waitReceived', { target: n, timeoutMs: opts.backlogTimeoutMs });
  const cpu1 = cpuSeconds(broker.pid);
  if (!drained.ok) throw new Error(`drain incomplete: ${drained.distinct}/${n} received`);
  const drainSecs = (drained.t - c.t0) / 1e6;
  return { fillRate, fillCpuPerM, drainSecs, drainRate: n / drainSecs, cpuPerM: ((cpu1 - cpu0) / n) * 1e6, messages: n };
}

/**
 * Outpost's durable path: 10 publishers (QoS 1, window 64 each) into an offline persistent session, so every
 * acknowledged message has been committed to SQLite first. msgs/s is the PUBACK rate.
 */
async function durable(ctx) {
  const { pool, broker } = ctx;
  const place = subFirst(pool.size);
  const sub = { group: 'sub', port: broker.port, n: 1, indexBase: 0, clientId: 'bench-durable-sub', clean: false };
  const r = await pool.call(place.sub[0], 'connect', { ...sub, subscribe: { filter: 'bench/durable/#', qos: 1 } });
  if (r.failed) throw new Error(r.firstError);
  await pool.call(place.sub[0], 'disconnect', { group: 'sub' });
  const w = await tenPublishersWindow(ctx, place.pub, 'bench/durable/{i}');
  const acked = sumRates(w.s0, w.s1, 'acked');
  if (acked.delta === 0) throw new Error('no PUBACK in the window');
  return { rate: acked.rate, cpuPerM: (w.cpuSecs / acked.delta) * 1e6, rssEndMiB: rssKiB(broker.pid) / 1024 };
}

/** 10 QoS 1 publishers (window --window) at full speed on `topic`, then a warm-up and the measured window. */
async function tenPublishersWindow(ctx, workers, topic) {
  const { pool, opts, broker } = ctx;
  const pubs = await connectGroup(ctx, 'pub', 10, workers, { clientId: 'bench-pub-{i}', concurrency: 10 });
  await Promise.all(
    pubs.parts.map((p) => pool.call(p.w, 'publish', { group: 'pub', topic, qos: 1, window: opts.window, payloadSize: opts.payload, indexBase: p.indexBase })),
  );
  await sleep(opts.warmupMs);
  const cpu0 = cpuSeconds(broker.pid);
  const s0 = await pool.snapshot();
  await sleep(opts.durationMs);
  const s1 = await pool.snapshot();
  return { s0, s1, cpuSecs: cpuSeconds(broker.pid) - cpu0 };
}

/**
 * Bridge egress: 10 publishers (QoS 1, window 64) into the broker under test, which bridges bench/bridge/# to an
 * upstream mosquitto at QoS 1; the subscriber sits on the upstream. msgs/s is what arrives there. Outpost writes
 * every forwarded message to its durable bridge log first; mosquitto's bridge queues in memory (persistence off).
 */
async function bridgeEgress(ctx) {
  const { pool, opts, broker, upstream } = ctx;
  const place = subFirst(pool.size);
  const sub = await pool.call(place.sub[0], 'connect', {
    group: 'sub', port: upstream.port, n: 1, indexBase: 0, clientId: 'bench-cloud-sub', subscribe: { filter: 'bench/bridge/#', qos: 1 },
  });
  if (sub.failed) throw new Error(sub.firstError);
  // The bridge connects on its own schedule: one QoS 1 probe must come through before the window starts.
  const probe = await pool.call(place.pub[0], 'connect', { group: 'probe', port: broker.port, n: 1, indexBase: 0, clientId: 'bench-probe' });
  if (probe.failed) throw new Error(probe.firstError);
  await pool.call(place.pub[0], 'publish', { group: 'probe', topic: 'bench/bridge/probe', qos: 1, window: 1, payloadSize: opts.payload, limit: 1, indexBase: 0 });
  const through = await pool.call(place.sub[0], 'waitReceived', { target: 1, timeoutMs: 15_000 });
  if (!through.ok) throw new Error('the bridge did not carry a probe message within 15 s');
  await pool.call(place.pub[0], 'disconnect', { group: 'probe' });
  const w = await tenPublishersWindow(ctx, place.pub, 'bench/bridge/{i}');
  const recv = sumRates(w.s0, w.s1, 'received');
  const acked = sumRates(w.s0, w.s1, 'acked');
  if (recv.delta === 0) throw new Error('nothing arrived upstream in the window');
  return { rate: recv.rate, publishRate: acked.rate, cpuPerM: (w.cpuSecs / recv.delta) * 1e6, rssEndMiB: rssKiB(broker.pid) / 1024 };
}

/** The bridge section of each broker's config for bridgeEgress. */
function bridgeOptions(b, { upstreamPort }) {
  if (b === 'outpost') {
    return {
      outpostExtra: [
        '', '[bridges.up]', `servers = ["127.0.0.1:${upstreamPort}"]`, 'clientid = "bench-bridge"', 'notifications = false',
        '', '[[bridges.up.egress]]', 'filter = "bench/bridge/#"', 'topic = "${topic}"', 'qos = 1', '',
      ].join('\n'),
    };
  }
  // Mosquitto's own bridge, its defaults otherwise (in-flight window 20, queue max_queued_messages).
  return {
    mosquittoConf: [
      'connection bench-up', `address 127.0.0.1:${upstreamPort}`, 'topic bench/bridge/# out 1', 'bridge_protocol_version mqttv311',
      'notifications false', 'restart_timeout 1',
    ].join('\n'),
  };
}

const durableScenario = (sync, quick) => ({
  quick,
  name: `durable-${sync.toLowerCase()}`,
  title: `QoS 1 into an offline persistent session, store.synchronous=${sync} (Outpost only)`,
  metrics: [M.acked, M.cpu],
  supports: (b) => (b === 'outpost' ? null : 'no per-message durable store'),
  brokerOptions: () => ({ env: { OUTPOST_STORE__SYNCHRONOUS: sync }, outpostMqtt: { max_mqueue_len: 0 } }),
  run: durable,
});

/** Every scenario, in the order they run. `quick` ones make up --quick; `optional` ones run only when named. */
export const SCENARIOS = [
  throughput('fanin-qos0', '10 publishers -> 1 wildcard subscriber, QoS 0', {
    pubs: 10, subs: 1, qos: 0, topic: 'bench/fanin/{i}', filter: 'bench/fanin/#', place: subFirst,
  }, undefined, { quick: true }),
  throughput('fanin-qos1', '10 publishers (inflight 64 each) -> 1 wildcard subscriber, QoS 1', {
    pubs: 10, subs: 1, qos: 1, topic: 'bench/fanin/{i}', filter: 'bench/fanin/#', place: subFirst,
  }, undefined, { quick: true }),
  throughput('one2one-qos0', '1 publisher -> 1 subscriber, QoS 0', {
    pubs: 1, subs: 1, qos: 0, topic: 'bench/o2o', filter: 'bench/o2o', place: subFirst,
  }),
  throughput('one2one-qos1', '1 publisher (inflight 64) -> 1 subscriber, QoS 1', {
    pubs: 1, subs: 1, qos: 1, topic: 'bench/o2o', filter: 'bench/o2o', place: subFirst,
  }),
  throughput('one2one-qos2', '1 publisher (inflight 64) -> 1 subscriber, QoS 2', {
    pubs: 1, subs: 1, qos: 2, topic: 'bench/o2o', filter: 'bench/o2o', place: subFirst,
  }),
  throughput('fanout-qos0', '1 publisher -> 100 subscribers, QoS 0', {
    pubs: 1, subs: 100, qos: 0, topic: 'bench/fanout', filter: 'bench/fanout', place: pubFirst,
  }, [M.deliveries, M.inRate, M.cpu], { quick: true }),
  // Steady-state latency, so the warm-up is at least 3 s. V8 tiers code up by work done, not by time: at 2,000
  // msgs/s a JS broker spends its first seconds mostly unoptimized (Outpost's p99 over 0.5-3.5 s after the
  // first message reads ~2 ms, over 3.5-6.5 s ~0.35 ms), while the throughput scenarios do that much work in
  // milliseconds. Every broker gets the same warm-up.
  throughput('latency-qos1', 'end-to-end latency, 1 -> 1, QoS 1 at a fixed offered rate (--rate msgs/s), after a warm-up of at least 3 s', (opts) => ({
    pubs: 1, subs: 1, qos: 1, topic: 'bench/lat', filter: 'bench/lat', place: subFirst, rate: opts.rate, minWarmupMs: 3000,
  }), [M.p50, M.p99, M.delivered, M.cpu], { quick: true }),
  // MQTT 5 variant; not in the default set (run it with --scenarios one2one-qos1-v5).
  throughput('one2one-qos1-v5', '1 publisher (inflight 64) -> 1 subscriber, QoS 1, MQTT 5', {
    pubs: 1, subs: 1, qos: 1, topic: 'bench/o2o', filter: 'bench/o2o', place: subFirst,
  }, undefined, { protocolVersion: 5, optional: true }),
  {
    name: 'idle-conns',
    title: 'idle connections (--idle-conns, default 10,000): connect rate and broker RSS per connection',
    metrics: [M.connRate, M.rssPerConn, M.connected],
    supports: () => null,
    quick: true,
    run: idle,
  },
  {
    name: 'backlog-qos1',
    title: 'persistent session backlog (--backlog, default 50,000 QoS 1 msgs) drained after reconnect',
    metrics: [M.fillRate, M.fillCpu, M.drainSecs, M.drainCpu],
    supports: () => null,
    quick: true,
    run: backlog,
  },
  durableScenario('NORMAL', true),
  durableScenario('FULL', false),
  {
    name: 'bridge-egress',
    title: '10 publishers (QoS 1) -> broker -> bridge (QoS 1) -> upstream mosquitto -> 1 subscriber',
    metrics: [M.rate, M.inRate, M.cpu],
    supports: (b) => (b === 'aedes' ? 'aedes has no bridge' : unavailable('mosquitto')),
    upstream: true,
    brokerOptions: bridgeOptions,
    run: bridgeEgress,
  },
  {
    name: 'startup',
    title: 'start-to-ready: spawn -> accepting MQTT (Outpost: runtime.json written, then port accepting)',
    metrics: [M.readyMs, M.rssIdle],
    supports: () => null,
    quick: true,
    run: async (ctx) => ({ readyMs: ctx.broker.readyMs, rssMiB: rssKiB(ctx.broker.pid) / 1024 }),
  },
];

export function findScenario(name) {
  return SCENARIOS.find((s) => s.name === name);
}
