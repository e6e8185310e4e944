// ExProto through a real handler (issue 19): device bytes -> handler -> MQTT publishes per second, the
// latency the gRPC hop adds (device write -> OnReceivedBytes in the handler) and device -> MQTT subscriber
// end to end, p50/p99, with the CPU split between the daemon and the handler process. Everything on
// 127.0.0.1; every phase is bounded in count and time.
//
//   npm run build && node scripts/bench/exproto.mjs [--devices 20] [--messages 20000] [--samples 1000] [--json]
//     [--daemon-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"]
//
// The handler (a child process, grpc-js) authenticates each connection from inside its OnSocketCreated,
// splits the bytes into lines and calls Publish (QoS 0) for each line, as a line-protocol handler would.
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds } from './lib/proc.mjs';
import { LatencyHistogram } from './lib/stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const PROTO = join(repoRoot, 'gateways/exproto/exproto.proto');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wall clock with sub-millisecond resolution, comparable across processes on one machine. */
const nowMs = () => performance.timeOrigin + performance.now();

async function grpcParts() {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const def = loader.loadSync(PROTO, { keepCase: true, enums: String, longs: String, defaults: true });
  return { grpc, v1: grpc.loadPackageDefinition(def).emqx.exproto.v1 };
}

// ---- the handler process ----

async function runHandler() {
  const { grpc, v1 } = await grpcParts();
  const adapter = new v1.ConnectionAdapter(`127.0.0.1:${process.env.ADAPTER_PORT}`, grpc.credentials.createInsecure());
  const call = (m, req) => new Promise((res, rej) => adapter[m](req, { deadline: Date.now() + 10_000 }, (e, r) => (e ? rej(e) : res(r))));
  const hop = new LatencyHistogram();
  const rest = new Map();
  let publishErrors = 0;
  const server = new grpc.Server();
  server.addService(v1.ConnectionUnaryHandler.service, {
    OnSocketCreated({ request: { conn } }, cb) {
      rest.set(conn, '');
      // Re-entrant: the gateway answers while this call is still pending.
      call('Authenticate', { conn, clientinfo: { proto_name: 'bench', proto_ver: '1', clientid: `bench-${conn}` }, password: '' }).then(
        () => cb(null, {}),
        (e) => cb({ code: grpc.status.INTERNAL, details: e.message }),
      );
    },
    OnReceivedBytes({ request: { conn, bytes } }, cb) {
      const t = nowMs();
      const lines = (rest.get(conn) + bytes.toString()).split('\n');
      rest.set(conn, lines.pop());
      const pubs = [];
      for (const line of lines) {
        hop.record((t - Number(line.slice(0, line.indexOf(' ')))) * 1000);
        pubs.push(call('Publish', { conn, topic: `bench/${conn}`, qos: 0, payload: Buffer.from(line) }).then((r) => r.code === 'SUCCESS' || publishErrors++));
      }
      Promise.all(pubs).then(
        () => cb(null, {}),
        (e) => cb({ code: grpc.status.INTERNAL, details: e.message }),
      );
    },
    OnReceivedMessages: (_c, cb) => cb(null, {}),
    OnTimerTimeout: (_c, cb) => cb(null, {}),
    OnSocketClosed({ request: { conn } }, cb) {
      rest.delete(conn);
      cb(null, {});
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.send({ type: 'port', port });
  });
  process.on('message', (m) => {
    if (m.type === 'hop') {
      process.send({ type: 'hop', hist: hop.toJSON(), publishErrors });
      hop.reset();
    } else if (m.type === 'exit') server.tryShutdown(() => process.exit(0));
  });
}

// ---- the driver ----

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function request(child, type) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m.type !== type) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    if (type !== 'port') child.send({ type });
  });
}

async function startDaemon(dir, adapterPort, handlerPort, extraFlags) {
  const bundled = join(repoRoot, 'dist/outpost/main.js');
  const main = existsSync(bundled) ? bundled : join(repoRoot, 'dist/src/runtime/main.js');
  if (!existsSync(main)) throw new Error('run npm run build first');
  writeFileSync(
    join(dir, 'outpost.toml'),
    `[mqtt]\nbind = "127.0.0.1"\nport = 0\n[api]\nenable = false\n[log]\nlevel = "warn"\n[sys_topics]\nsys_msg_interval = 0\nsys_heartbeat_interval = 0\n` +
      `[gateway.exproto]\nenable = true\n[gateway.exproto.server]\nbind = "127.0.0.1:${adapterPort}"\n[gateway.exproto.handler]\naddress = "http://127.0.0.1:${handlerPort}"\n` +
      `[gateway.exproto.listeners.tcp.default]\nbind = "127.0.0.1"\nport = 0\n`,
  );
  const child = spawn(process.execPath, ['--max-semi-space-size=2', ...extraFlags, main, '--config', join(dir, 'outpost.toml'), '--data-dir', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 15_000;
  const rt = join(dir, 'runtime.json');
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`);
    if (existsSync(rt)) {
      const j = JSON.parse(readFileSync(rt, 'utf8'));
      if (j.pid === child.pid) return { child, ports: j.listeners };
    }
    await sleep(20);
  }
  child.kill('SIGKILL');
  throw new Error('daemon did not start');
}

async function connectDevice(port) {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise((res, rej) => {
    s.once('connect', res);
    s.once('error', rej);
  });
  return s;
}

async function runDriver() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '20' },
      messages: { type: 'string', default: '20000' },
      samples: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      'daemon-flags': { type: 'string', default: '' },
    },
  });
  const devices = Number(values.devices);
  const messages = Number(values.messages);
  const samples = Number(values.samples);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-exproto-'));
  const adapterPort = await freePort();
  const handler = fork(fileURLToPath(import.meta.url), ['--handler'], { env: { ...process.env, ADAPTER_PORT: String(adapterPort) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port: handlerPort } = await request(handler, 'port');
  const { child: daemon, ports } = await startDaemon(dir, adapterPort, handlerPort, values['daemon-flags'].split(/\s+/).filter(Boolean));
  const mqtt = (await import('mqtt')).default;
  const sub = mqtt.connect(`mqtt://127.0.0.1:${ports['mqtt:tcp']}`, { clientId: 'bench-sub', reconnectPeriod: 0 });
  await new Promise((res, rej) => {
    sub.once('connect', res);
    sub.once('error', rej);
  });
  await new Promise((res) => sub.subscribe('bench/#', { qos: 0 }, res));
  const e2e = new LatencyHistogram();
  let received = 0;
  let lastAt = 0;
  sub.on('message', (_t, payload) => {
    const t = nowMs();
    const s = payload.toString();
    e2e.record((t - Number(s.slice(0, s.indexOf(' ')))) * 1000);
    received++;
    lastAt = t;
  });
  const waitReceived = async (n, ms) => {
    const until = Date.now() + ms;
    while (received < n && Date.now() < until) await sleep(5);
    return received >= n;
  };
  const tcpPort = ports['exproto:tcp:default'];
  const result = {};
  try {
    // Phase 1: latency, one device, one line every 2 ms (no queueing behind other lines).
    const one = await connectDevice(tcpPort);
    await sleep(200);
    for (let i = 0; i < samples; i++) {
      one.write(`${nowMs()} ${i}\n`);
      await sleep(2);
    }
    const ok1 = await waitReceived(samples, 10_000);
    const hop1 = new LatencyHistogram().merge((await request(handler, 'hop')).hist);
    result.latency = {
      samples,
      complete: ok1,
      hop_p50_ms: hop1.percentile(0.5) / 1000,
      hop_p99_ms: hop1.percentile(0.99) / 1000,
      e2e_p50_ms: e2e.percentile(0.5) / 1000,
      e2e_p99_ms: e2e.percentile(0.99) / 1000,
    };
    one.destroy();
    // Phase 2: throughput, `devices` devices writing `messages` lines in all, 50 lines per write.
    received = 0;
    e2e.reset();
    const socks = await Promise.all(Array.from({ length: devices }, () => connectDevice(tcpPort)));
    await sleep(300);
    const cpu0 = { daemon: cpuSeconds(daemon.pid), handler: cpuSeconds(handler.pid), driver: process.cpuUsage() };
    const t0 = nowMs();
    const perDevice = Math.floor(messages / devices);
    for (let sent = 0; sent < perDevice; sent += 50) {
      for (const s of socks) {
        let chunk = '';
        for (let k = 0; k < 50 && sent + k < perDevice; k++) chunk += `${nowMs()} ${sent + k}\n`;
        s.write(chunk);
      }
      // Let the sockets drain, as devices would: no unbounded user-space buffering.
      await new Promise((r) => setImmediate(r));
    }
    const total = perDevice * devices;
    const ok2 = await waitReceived(total, 60_000);
    const secs = (lastAt - t0) / 1000;
    const cpu1 = { daemon: cpuSeconds(daemon.pid), handler: cpuSeconds(handler.pid), driver: process.cpuUsage(cpu0.driver) };
    const hop2 = new LatencyHistogram().merge((await request(handler, 'hop')).hist);
    result.throughput = {
      devices,
      messages: total,
      received,
      complete: ok2,
      seconds: secs,
      publishes_per_s: Math.round(received / secs),
      cpu_s_daemon: +(cpu1.daemon - cpu0.daemon).toFixed(2),
      cpu_s_handler: +(cpu1.handler - cpu0.handler).toFixed(2),
      cpu_s_driver: +((cpu1.driver.user + cpu1.driver.system) / 1e6).toFixed(2),
      hop_p50_ms: hop2.percentile(0.5) / 1000,
      hop_p99_ms: hop2.percentile(0.99) / 1000,
      e2e_p50_ms: e2e.percentile(0.5) / 1000,
      e2e_p99_ms: e2e.percentile(0.99) / 1000,
    };
    for (const s of socks) s.destroy();
  } finally {
    sub.end(true);
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    const t = setTimeout(() => daemon.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
    handler.send({ type: 'exit' });
    const hx = setTimeout(() => handler.kill('SIGKILL'), 3000);
    await new Promise((r) => handler.once('exit', r));
    clearTimeout(hx);
    rmSync(dir, { recursive: true, force: true });
  }
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    const l = result.latency;
    const t = result.throughput;
    const f = (x) => x.toFixed(2);
    console.log(`latency (${l.samples} lines, 1 device): gRPC hop p50 ${f(l.hop_p50_ms)} ms p99 ${f(l.hop_p99_ms)} ms; device->MQTT p50 ${f(l.e2e_p50_ms)} ms p99 ${f(l.e2e_p99_ms)} ms`);
    console.log(`throughput (${t.devices} devices, ${t.messages} lines): ${t.publishes_per_s} publishes/s over ${f(t.seconds)} s, ${t.received}/${t.messages} received`);
    console.log(`  CPU s: daemon ${t.cpu_s_daemon}, handler ${t.cpu_s_handler}, driver (devices + subscriber) ${t.cpu_s_driver}`);
    console.log(`  under load: gRPC hop p50 ${f(t.hop_p50_ms)} ms p99 ${f(t.hop_p99_ms)} ms; device->MQTT p50 ${f(t.e2e_p50_ms)} ms p99 ${f(t.e2e_p99_ms)} ms`);
  }
}

if (process.argv.includes('--handler')) await runHandler();
else await runDriver();
