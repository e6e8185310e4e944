#!/usr/bin/env node
// LwM2M gateway benchmark: N simulated devices (one UDP socket each, the shared CoAP codec from
// dist/) register against the built daemon; then an MQTT application reads /3/0/0 of every device
// through lwm2m/{ep}/dn for several rounds. Prints registrations/s, read round trips/s and the
// daemon's RSS per registered device (VmRSS after registering minus before, divided by N).
//   usage: npm run build && node scripts/bench/lwm2m.mjs [--devices 1000] [--rounds 5] [--window 100]
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const num = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = num('devices', 1000);
const ROUNDS = num('rounds', 5);
const WINDOW = num('window', 100);
const { decode, encode, Code, Opt } = await import(join(ROOT, 'dist/gateways/codecs/coap/frame.js'));
const MAIN = existsSync(join(ROOT, 'dist/outpost/main.js')) ? join(ROOT, 'dist/outpost/main.js') : join(ROOT, 'dist/src/runtime/main.js');

const dataDir = mkdtempSync(join(tmpdir(), 'outpost-bench-lwm2m-'));
writeFileSync(
  join(dataDir, 'outpost.toml'),
  `[mqtt]\nbind = "127.0.0.1"\nport = 0\n[api]\nport = 0\n[log]\nlevel = "warn"\n[gateway.lwm2m]\nenable = true\n[gateway.lwm2m.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n`,
);
// OUTPOST_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the daemon (as in run.mjs).
const nodeArgs = (process.env.OUTPOST_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const daemon = spawn(process.execPath, [...nodeArgs, MAIN, '--config', join(dataDir, 'outpost.toml'), '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'inherit'] });
process.on('exit', () => daemon.exitCode === null && daemon.kill('SIGKILL'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))[1]) * 1024;

let rt;
for (let i = 0; i < 300 && !rt; i++) {
  await sleep(50);
  const f = join(dataDir, 'runtime.json');
  if (existsSync(f)) {
    const j = JSON.parse(readFileSync(f, 'utf8'));
    if (j.pid === daemon.pid) rt = j;
  }
}
if (!rt) throw new Error('daemon did not start');
const lwPort = rt.listeners['lwm2m:udp:default'];
const app = mqtt.connect(`mqtt://127.0.0.1:${rt.listeners['mqtt:tcp']}`, { clientId: 'bench-app', reconnectPeriod: 0 });
await new Promise((r, j) => (app.once('connect', r), app.once('error', j)));
let answers = 0;
app.on('message', () => answers++);
await app.subscribeAsync('lwm2m/+/up/resp');

/** One simulated device: registers, answers every GET with 2.05 text "ACME". */
class Device {
  constructor(i) {
    this.ep = `bench-${i}`;
    this.mid = (i * 7) & 0xffff;
    this.waiting = null;
  }
  async open() {
    this.sock = dgram.createSocket('udp4');
    this.sock.on('message', (m) => {
      const r = decode(m);
      if (r.kind !== 'frame') return;
      const f = r.frame;
      if (f.code >= 1 && f.code <= 31) {
        this.sock.send(encode({ type: 'ACK', code: Code.CONTENT, messageId: f.messageId, token: f.token, options: [{ number: Opt.CONTENT_FORMAT, value: Buffer.alloc(0) }], payload: Buffer.from('ACME') }), lwPort, '127.0.0.1');
      } else if (this.waiting && f.messageId === this.mid) {
        const w = this.waiting;
        this.waiting = null;
        w(f);
      }
    });
    await new Promise((r) => this.sock.bind(0, '127.0.0.1', r));
  }
  register() {
    this.mid = (this.mid + 1) & 0xffff;
    const q = [`ep=${this.ep}`, 'lt=600', 'lwm2m=1.0', 'b=U'];
    const frame = {
      type: 'CON',
      code: Code.POST,
      messageId: this.mid,
      token: Buffer.from([1, 2, 3, 4]),
      options: [{ number: Opt.URI_PATH, value: Buffer.from('rd') }, ...q.map((x) => ({ number: Opt.URI_QUERY, value: Buffer.from(x) })), { number: Opt.CONTENT_FORMAT, value: Buffer.from([40]) }],
      payload: Buffer.from('</1/0>,</3/0>'),
    };
    const p = new Promise((r) => (this.waiting = r));
    this.sock.send(encode(frame), lwPort, '127.0.0.1');
    return Promise.race([p, sleep(10000).then(() => null)]);
  }
}

await sleep(500);
const rss0 = rss();
const devices = [];
for (let i = 0; i < N; i++) {
  const d = new Device(i);
  await d.open();
  devices.push(d);
}
// Registrations with at most WINDOW in flight.
let next = 0;
let ok = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: Math.min(WINDOW, N) }, async () => {
    while (next < N) {
      const d = devices[next++];
      const r = await d.register();
      if (r && r.code === Code.CREATED) ok++;
    }
  }),
);
const regSecs = (performance.now() - t0) / 1000;
await sleep(1000);
const rss1 = rss();

// Reads: one per device per round (a device has one command outstanding at a time), all rounds queued.
const t1 = performance.now();
const total = N * ROUNDS;
for (let r = 0; r < ROUNDS; r++) for (const d of devices) app.publish(`lwm2m/${d.ep}/dn/cmd`, `{"reqID":${r},"msgType":"read","data":{"path":"/3/0/0"}}`);
const deadline = Date.now() + 120_000;
while (answers < total && Date.now() < deadline) await sleep(20);
const readSecs = (performance.now() - t1) / 1000;

const result = {
  devices: N,
  registered: ok,
  registrations_per_s: Math.round(ok / regSecs),
  reads: answers,
  read_round_trips_per_s: Math.round(answers / readSecs),
  rss_before_mb: +(rss0 / 2 ** 20).toFixed(1),
  rss_after_register_mb: +(rss1 / 2 ** 20).toFixed(1),
  rss_per_device_kb: +((rss1 - rss0) / N / 1024).toFixed(1),
};
console.log(JSON.stringify(result, null, 2));
app.end(true);
for (const d of devices) d.sock.close();
daemon.kill('SIGTERM');
await new Promise((r) => daemon.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
