// Load-generator child process (forked by run.mjs). It owns groups of MQTT clients on raw sockets and answers
// the driver's requests over IPC: { id, op, args } -> { id, ok, result | error }. Counters are per process; the
// driver adds them up across workers. Times are hrtime in microseconds (CLOCK_MONOTONIC, shared by every
// process on the machine), so send stamps from one worker can be compared with receive times in another.
import { BenchClient, PAYLOAD_HEADER } from './lib/client.mjs';
import { LatencyHistogram } from './lib/stats.mjs';

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const groups = new Map();
const hist = new LatencyHistogram();
let received = 0;
let distinct = 0;
let seen = null;
let recordLatency = false;

function onMessage(client, payload) {
  received++;
  if (payload.length < PAYLOAD_HEADER) return;
  if (recordLatency) hist.record(Number(client.now - payload.readBigUInt64LE(0)) / 1000);
  if (seen !== null) {
    // Count each sequence number once, so redelivered (DUP) messages after a reconnect do not count twice.
    const s = payload.readUInt32LE(8);
    if (s < seen.length && seen[s] === 0) {
      seen[s] = 1;
      distinct++;
    }
  }
}

function fill(template, i) {
  return template.replaceAll('{i}', String(i)).replaceAll('{pid}', String(process.pid));
}

/** Connects n clients with at most `concurrency` CONNECTs outstanding; subscribes each when asked. */
async function connect(a) {
  const clients = groups.get(a.group) ?? [];
  groups.set(a.group, clients);
  if (a.trackSeq) {
    seen = new Uint8Array(a.trackSeq);
    distinct = 0;
  }
  if (a.latency !== undefined) recordLatency = a.latency;
  const t0 = nowUs();
  let next = 0;
  let failed = 0;
  let firstError = null;
  const one = async () => {
    while (next < a.n) {
      const i = a.indexBase + next++;
      const c = new BenchClient({
        port: a.port,
        clientId: fill(a.clientId, i),
        clean: a.clean ?? true,
        keepalive: a.keepalive ?? 60,
        protocolVersion: a.protocolVersion ?? 4,
        onMessage,
      });
      try {
        await c.connect(a.timeoutMs ?? 20_000);
        if (a.subscribe) await c.subscribe(fill(a.subscribe.filter, i), a.subscribe.qos);
        clients.push(c);
      } catch (err) {
        failed++;
        firstError ??= String(err?.message ?? err);
        c.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(a.concurrency ?? 1, a.n) }, one));
  return { connected: a.n - failed, failed, firstError, t0, t1: nowUs() };
}

function publish(a) {
  const clients = groups.get(a.group) ?? [];
  clients.forEach((c, k) => {
    c.startPublishing({
      topic: fill(a.topic, a.indexBase + k),
      qos: a.qos,
      payloadSize: a.payloadSize,
      window: a.window,
      rate: a.rate ?? 0,
      limit: a.limit ?? Infinity,
    });
  });
  return { publishers: clients.length };
}

function snapshot(a) {
  let sent = 0;
  let acked = 0;
  let unexpectedCloses = 0;
  let clients = 0;
  for (const list of groups.values()) {
    for (const c of list) {
      sent += c.sent;
      acked += c.acked;
      clients++;
      if (c.unexpectedClose) unexpectedCloses++;
    }
  }
  const out = { t: nowUs(), sent, acked, received, distinct, unexpectedCloses, clients };
  if (a?.latency) out.hist = hist.toJSON();
  return out;
}

async function waitUntil(pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await sleep(2);
  }
  return true;
}

async function waitDone(a) {
  const clients = groups.get(a.group) ?? [];
  const ok = await waitUntil(() => clients.every((c) => c.done || c.closed), a.timeoutMs);
  return { ok, t: nowUs(), acked: clients.reduce((s, c) => s + c.acked, 0) };
}

async function waitReceived(a) {
  const ok = await waitUntil(() => (seen !== null ? distinct : received) >= a.target, a.timeoutMs);
  return { ok, t: nowUs(), received, distinct };
}

async function disconnect(a) {
  const clients = groups.get(a.group) ?? [];
  groups.delete(a.group);
  if (a.hard) clients.forEach((c) => c.destroy());
  else await Promise.all(clients.map((c) => c.disconnect()));
  return { closed: clients.length };
}

const ops = {
  connect,
  publish,
  snapshot,
  waitDone,
  waitReceived,
  disconnect,
  stop: (a) => {
    for (const c of groups.get(a.group) ?? []) c.stopPublishing();
    return {};
  },
  resetLatency: () => {
    hist.reset();
    return {};
  },
  resetCounters: () => {
    received = 0;
    distinct = 0;
    seen = null;
    hist.reset();
    recordLatency = false;
    return {};
  },
};

process.on('message', async (msg) => {
  const { id, op, args } = msg;
  try {
    const fn = ops[op];
    if (!fn) throw new Error(`unknown op ${op}`);
    const result = await fn(args ?? {});
    process.send({ id, ok: true, result });
  } catch (err) {
    process.send({ id, ok: false, error: String(err?.stack ?? err) });
  }
});

process.on('disconnect', () => {
  for (const list of groups.values()) for (const c of list) c.destroy();
  process.exit(0);
});
