#!/usr/bin/env node
// DTLS benchmark, run by hand (not part of npm test):
//   npm run build && node scripts/bench/dtls.mjs [--seconds 5] [--concurrency 8] [--idle 1000]
// Side by side, with the same load: Outpost's DTLS transport (scripts/bench/dtls-server.mjs: the
// addon + listener.ts + a minimal CoAP responder in one Node process) and libcoap's
// `coap-server-openssl -k KEY` (Debian libcoap3-bin, C, same OpenSSL family).
// The load generator (scripts/bench/dtls-load.mjs) is one Node process using Outpost's own DTLS
// client (the addon in client mode), PSK-AES128-CCM8; it is the same for both servers. On a small
// machine the generator can be the bottleneck, so the servers' CPU time per operation is printed too.
// Measures: full handshakes/s (cookie exchange included, then close_notify), CoAP CON GET round
// trips/s over established sessions, the same while a second generator process sends spoofed
// ClientHellos (no cookie, 100 source ports, --flood per second), and RSS growth for N idle sessions (2 s after opening).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: a } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '8' }, idle: { type: 'string', default: '1000' }, flood: { type: 'string', default: '5000' } } });
const FLOOD = Number(a.flood);
const SECS = Number(a.seconds);
const CONC = Number(a.concurrency);
const IDLE = Number(a.idle);
const KEY = 'bench-secret-01';
const clk = 100; // USER_HZ for /proc/<pid>/stat

function lines(child) {
  const rl = createInterface({ input: child.stdout });
  const queue = [];
  const waiters = [];
  rl.on('line', (l) => (waiters.length ? waiters.shift()(l) : queue.push(l)));
  return () => new Promise((r) => (queue.length ? r(queue.shift()) : waiters.push(r)));
}

function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  return { cpuMs: ((Number(stat[11]) + Number(stat[12])) * 1000) / clk, rss };
}

async function startOutpost() {
  const p = spawn(process.execPath, [join(here, 'dtls-server.mjs'), KEY], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lines(p);
  const { port } = JSON.parse(await next());
  return { name: 'outpost', pid: p.pid, port, stop: () => p.stdin.end() };
}

async function startLibcoap() {
  const base = 20000 + Math.floor(Math.random() * 20000);
  const p = spawn('coap-server-openssl', ['-A', '127.0.0.1', '-p', String(base), '-k', KEY, '-v', '0'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 300));
  if (p.exitCode !== null) throw new Error('coap-server-openssl did not start');
  // libcoap serves DTLS on port+1
  return { name: 'libcoap', pid: p.pid, port: base + 1, stop: () => p.kill() };
}

async function load(mode, port, conc, secs) {
  const p = spawn(process.execPath, [join(here, 'dtls-load.mjs'), mode, String(port), String(secs), String(conc), KEY], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lines(p);
  const r = JSON.parse(await next());
  if (mode === 'idle') r.release = () => p.stdin.end();
  return r;
}

async function measure(start) {
  const s = await start();
  const out = { name: s.name };
  try {
    let before = procStat(s.pid);
    const hs = await load('handshakes', s.port, CONC, SECS);
    let after = procStat(s.pid);
    out.handshakes = { rate: hs.done / hs.seconds, failed: hs.failed, p50: hs.latencies[0], p99: hs.latencies[1], cpuUs: ((after.cpuMs - before.cpuMs) * 1000) / Math.max(1, hs.done) };
    before = procStat(s.pid);
    const rq = await load('requests', s.port, CONC, SECS);
    after = procStat(s.pid);
    out.requests = { rate: rq.done / rq.seconds, failed: rq.failed, p50: rq.latencies[0], p99: rq.latencies[1], cpuUs: ((after.cpuMs - before.cpuMs) * 1000) / Math.max(1, rq.done) };
    const [fr, fl] = await Promise.all([load('requests', s.port, CONC, SECS), load('flood', s.port, FLOOD, SECS)]);
    out.flooded = { rate: fr.done / fr.seconds, failed: fr.failed, p50: fr.latencies[0], p99: fr.latencies[1], hellos: fl.done / fl.seconds };
    await new Promise((r) => setTimeout(r, 500));
    before = procStat(s.pid);
    const idle = await load('idle', s.port, IDLE, 0);
    await new Promise((r) => setTimeout(r, 2000));
    after = procStat(s.pid);
    out.idle = { sessions: idle.done, failed: idle.failed, rssPer1000: ((after.rss - before.rss) / Math.max(1, idle.done)) * 1000, rss: after.rss };
    idle.release();
  } finally {
    s.stop();
  }
  return out;
}

const results = [];
for (const start of [startOutpost, startLibcoap]) results.push(await measure(start));
const [o, l] = results;
const f = (n, d = 0) => (n === null || n === undefined ? '-' : Number(n).toFixed(d));
const row = (label, x, y, d = 0, ratio = true) => `${label.padEnd(34)}${f(x, d).padStart(12)}${f(y, d).padStart(12)}${ratio && y ? (x / y).toFixed(2).padStart(10) : ''.padStart(10)}`;
console.log(`DTLS bench: ${SECS} s windows, ${CONC} concurrent sessions, PSK-AES128-CCM8, generator = Outpost's addon client (1 Node process)`);
console.log(`${''.padEnd(34)}${'outpost'.padStart(12)}${'libcoap'.padStart(12)}${'ratio'.padStart(10)}`);
console.log(row('handshakes/s', o.handshakes.rate, l.handshakes.rate));
console.log(row('handshake p50 ms', o.handshakes.p50, l.handshakes.p50, 2, false));
console.log(row('handshake p99 ms', o.handshakes.p99, l.handshakes.p99, 2, false));
console.log(row('server CPU µs per handshake', o.handshakes.cpuUs, l.handshakes.cpuUs, 0, false));
console.log(row('CoAP round trips/s', o.requests.rate, l.requests.rate));
console.log(row('round trip p50 ms', o.requests.p50, l.requests.p50, 3, false));
console.log(row('round trip p99 ms', o.requests.p99, l.requests.p99, 3, false));
console.log(row('server CPU µs per round trip', o.requests.cpuUs, l.requests.cpuUs, 1, false));
console.log(row(`round trips/s, ${FLOOD}/s spoofed hellos`, o.flooded.rate, l.flooded.rate));
console.log(row('  (vs. without flood)', o.flooded.rate / o.requests.rate, l.flooded.rate / l.requests.rate, 2, false));
console.log(row('  round trip p99 ms under flood', o.flooded.p99, l.flooded.p99, 3, false));
console.log(row(`RSS KiB per 1000 idle sessions`, o.idle.rssPer1000 / 1024, l.idle.rssPer1000 / 1024, 0, false));
console.log(row('idle sessions opened', o.idle.sessions, l.idle.sessions, 0, false));
console.log(`failures (outpost/libcoap): handshakes ${o.handshakes.failed}/${l.handshakes.failed}, requests ${o.requests.failed}/${l.requests.failed}, under flood ${o.flooded.failed}/${l.flooded.failed}, idle ${o.idle.failed}/${l.idle.failed}`);
