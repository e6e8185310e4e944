#!/usr/bin/env node
// Bridge benchmark (needs `npm run build`): the bridge runs in-process over a real SQLite store and
// a minimal broker stand-in; mosquitto is the upstream, an MQTT.js client the cloud-side subscriber.
//   replay   messages queued during an outage, then the upstream starts: time until the subscriber
//            has them all (msgs/s), for the default window and a larger one.
//   egress   upstream up, local QoS 1 publishes with a window of 64: end-to-end msgs/s through the
//            durable log (file store, synchronous NORMAL and FULL) vs the same bridge over an
//            in-memory store vs plain forwarding (one MQTT.js client publishing straight upstream).
// Results are medians over --rounds, with ratios to plain forwarding. Two CPU cores: keep it short.
// Usage: npm run build && node scripts/bench/bridge-replay.mjs [--quick] [--messages 20000] [--rounds 3] [--payload 64]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import pino from 'pino';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => import(join(ROOT, 'dist/src', p));
const { startBridges } = await dist('bridge/index.js');
const { bridgesConfigShape } = await dist('bridge/config.js');
const { Store } = await dist('store/store.js');
const { Metrics } = await dist('core/metrics.js');
const { createMessage } = await dist('core/message.js');
const { systemClock } = await dist('core/types.js');
const { z } = await import('zod');

const { values: a } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    payload: { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
  },
});
const N = a.quick ? 5000 : Number(a.messages);
const ROUNDS = a.quick ? 1 : Number(a.rounds);
const PAYLOAD = Buffer.alloc(Number(a.payload), 0x61);
const WINDOW = 64;
const silent = pino({ level: 'silent' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

async function mosquitto(port) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosq-'));
  const conf = join(dir, 'm.conf');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `user ${userInfo().username}`, 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 1000000', 'max_inflight_messages 100', 'log_type error'].join('\n') + '\n',
  );
  let child = null;
  const up = async () => {
    child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      const ok = await new Promise((res) => {
        const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), res(true)));
        s.on('error', () => res(false));
      });
      if (ok) return;
      await sleep(20);
    }
    throw new Error('mosquitto did not start');
  };
  const down = () =>
    new Promise((res) => {
      if (!child || child.exitCode !== null) return res();
      child.once('exit', () => res());
      process.kill(child.pid, 'SIGTERM');
    });
  await up();
  return { up, down, cleanup: async () => (await down(), rmSync(dir, { recursive: true, force: true })) };
}

function miniBroker(store) {
  const interceptors = [];
  const broker = {
    node: 'bench@127.0.0.1',
    version: 'bench',
    startedAt: Date.now(),
    log: silent,
    clock: systemClock,
    metrics: new Metrics(),
    store,
    publish(msg) {
      let durable = false;
      for (const i of interceptors) if (i.onPublish(msg)) durable = true;
      return { ok: true, matched: 0, durable };
    },
    addInterceptor: (i) => interceptors.push(i),
    removeInterceptor: (i) => interceptors.splice(interceptors.indexOf(i), 1),
    addEventListener() {},
  };
  /** Resolves when a QoS 1 publisher would get its PUBACK (after the group commit). */
  broker.publishAcked = (msg) => {
    const r = broker.publish(msg);
    return r.durable ? new Promise((res) => store.afterCommit({ committed: res })) : Promise.resolve();
  };
  return broker;
}

async function subscriber(port, clientId, clean = false) {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, clean, reconnectPeriod: 0 });
  let n = 0;
  let resolveAll;
  let target = Infinity;
  const all = new Promise((r) => (resolveAll = r));
  c.on('message', () => {
    if (++n >= target) resolveAll();
  });
  await new Promise((res, rej) => (c.once('connect', res), c.once('error', rej)));
  return {
    c,
    expect(k) {
      target = k;
      if (n >= k) resolveAll();
      return all;
    },
    count: () => n,
  };
}

async function withWindow(n, window, publishOne) {
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < n) await publishOne(next++);
    }),
  );
}

function edge(port, store, replay = {}) {
  const broker = miniBroker(store);
  const cfg = z.strictObject(bridgesConfigShape).parse({
    bridges: { up: { servers: [`127.0.0.1:${port}`], egress: [{ filter: 'bench/#', topic: 'cloud/${topic}' }], reconnect: { min: 0.02, max: 0.1 }, replay } },
  });
  return startBridges(broker, cfg, silent).then((svc) => ({ broker, svc }));
}

const msg = (i) => createMessage({ topic: 'bench/t', payload: PAYLOAD, qos: 1, retain: false, from: 'dev', now: Date.now() });

async function replayRound(inflight) {
  const port = await freePort();
  const m = await mosquitto(port);
  const park = await subscriber(port, 'cloud', false);
  park.c.subscribe('cloud/#', { qos: 1 });
  await sleep(100);
  park.c.end(true);
  await m.down();
  const dir = mkdtempSync(join(tmpdir(), 'bench-bridge-'));
  const store = Store.open({ path: join(dir, 'db'), synchronous: 'NORMAL', log: silent });
  const { broker, svc } = await edge(port, store, { inflight });
  await withWindow(N, WINDOW, (i) => broker.publishAcked(msg(i)));
  store.flush();
  const fileBytes = statSync(join(dir, 'db')).size + statSync(join(dir, 'db-wal')).size;
  const t0 = performance.now();
  await m.up();
  const sub = await subscriber(port, 'cloud', false);
  await sub.expect(N);
  const ms = performance.now() - t0;
  sub.c.end(true);
  await svc.stop();
  store.close();
  await m.cleanup();
  rmSync(dir, { recursive: true, force: true });
  return { rate: (N / ms) * 1000, bytesPerMsg: fileBytes / N };
}

async function egressRound(mode) {
  const port = await freePort();
  const m = await mosquitto(port);
  const sub = await subscriber(port, `cloud-${mode}`, true);
  await new Promise((r) => sub.c.subscribe('cloud/#', { qos: 1 }, r));
  const done = sub.expect(N);
  let dir = null;
  let t0;
  if (mode === 'plain') {
    const pub = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'plain-fwd' });
    await new Promise((r) => pub.once('connect', r));
    t0 = performance.now();
    await withWindow(N, WINDOW, () => pub.publishAsync('cloud/bench/t', PAYLOAD, { qos: 1 }));
    await done;
    pub.end(true);
  } else {
    dir = mkdtempSync(join(tmpdir(), 'bench-bridge-'));
    const store = Store.open({ path: mode === 'memory' ? ':memory:' : join(dir, 'db'), synchronous: mode === 'full' ? 'FULL' : 'NORMAL', log: silent });
    const { broker, svc } = await edge(port, store, { inflight: WINDOW });
    while (svc.status()[0].status !== 'connected') await sleep(10);
    t0 = performance.now();
    await withWindow(N, WINDOW, (i) => broker.publishAcked(msg(i)));
    await done;
    await svc.stop();
    store.close();
  }
  const ms = performance.now() - t0;
  sub.c.end(true);
  await m.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  return { rate: (N / ms) * 1000 };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const rows = [];
async function measure(name, fn) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await fn());
  const row = { name, rate: median(runs.map((x) => x.rate)) };
  if (runs[0].bytesPerMsg !== undefined) row.bytesPerMsg = median(runs.map((x) => x.bytesPerMsg));
  rows.push(row);
  console.error(`${name}: ${Math.round(row.rate)} msgs/s`);
}

console.error(`bridge benchmark: ${N} QoS 1 messages of ${PAYLOAD.length} B, ${ROUNDS} round(s)`);
await measure('egress plain forwarding (MQTT.js -> mosquitto)', () => egressRound('plain'));
await measure('egress bridge, in-memory store', () => egressRound('memory'));
await measure('egress bridge, durable (synchronous NORMAL)', () => egressRound('normal'));
await measure('egress bridge, durable (synchronous FULL)', () => egressRound('full'));
await measure('replay after outage, inflight 32', () => replayRound(32));
await measure('replay after outage, inflight 256', () => replayRound(256));

const base = rows[0].rate;
console.log('| scenario | msgs/s | vs plain | log bytes/msg |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.rate)} | ${(r.rate / base).toFixed(2)} | ${r.bytesPerMsg ? Math.round(r.bytesPerMsg) : ''} |`);
process.exit(0);
