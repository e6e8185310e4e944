// STOMP benchmark: SEND -> MESSAGE msgs/s and broker CPU per message, Outpost's STOMP gateway side by side
// with RabbitMQ's STOMP plugin (Debian rabbitmq-server, plugin rabbitmq_stomp), same load generator
// (stomp-worker.mjs: raw STOMP 1.2, publishers and one subscriber in separate processes), in alternation
// for several rounds, each run on a freshly started broker on 127.0.0.1.
//
//   npm run build && node scripts/bench/stomp.mjs [--rounds 3] [--duration 5] [--warmup 1]
//        [--pubs 2] [--conns 2] [--size 64] [--brokers outpost,rabbitmq] [--out FILE]
//
// RabbitMQ is started as root from /usr/lib/rabbitmq/bin/rabbitmq-server with its own node name, ports,
// data dir and config in a temp dir; when it is not installed (apt-get install -y rabbitmq-server) it is
// skipped with a message and Outpost is measured alone. CPU is utime + stime of the broker process (node,
// or beam.smp) over the measured window, from /proc.
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startBroker } from './brokers.mjs';
import { cpuSeconds } from './lib/proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const RABBIT = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    pubs: { type: 'string', default: '2' },
    conns: { type: 'string', default: '2' },
    size: { type: 'string', default: '64' },
    brokers: { type: 'string', default: 'outpost,rabbitmq' },
    out: { type: 'string' },
  },
});

/** A STOMP CONNECT answered with CONNECTED on `port`. */
async function stompReady(port, deadline) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let data = '';
      s.on('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\0'));
      s.on('data', (b) => {
        data += b.toString();
        if (data.includes('\0')) {
          s.destroy();
          resolve(data.startsWith('CONNECTED'));
        }
      });
      s.on('error', () => resolve(false));
      setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 1000);
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no STOMP CONNECTED on ${port}`);
    await sleep(200);
  }
}

function epmdPids() {
  const out = [];
  for (const d of readdirNumeric('/proc')) {
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'epmd') out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function readdirNumeric(dir) {
  try {
    return readdirSync(dir).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
}

async function startRabbit() {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-rabbitmq-'));
  const stompPort = await freePort();
  const amqpPort = await freePort();
  const distPort = await freePort();
  writeFileSync(join(tmp, 'enabled_plugins'), '[rabbitmq_stomp].\n');
  writeFileSync(join(tmp, 'rabbitmq.conf'), [`stomp.listeners.tcp.1 = 127.0.0.1:${stompPort}`, `listeners.tcp.default = 127.0.0.1:${amqpPort}`, 'loopback_users = none', ''].join('\n'));
  const env = {
    ...process.env,
    HOME: tmp,
    RABBITMQ_NODENAME: `bench${process.pid}@localhost`,
    RABBITMQ_MNESIA_BASE: join(tmp, 'mnesia'),
    RABBITMQ_LOG_BASE: join(tmp, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(tmp, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(tmp, 'rabbitmq'),
    RABBITMQ_PID_FILE: join(tmp, 'pid'),
    RABBITMQ_DIST_PORT: String(distPort),
  };
  const child = spawn(RABBIT, [], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let logs = '';
  child.stdout.on('data', (b) => (logs += b.toString()));
  child.stderr.on('data', (b) => (logs += b.toString()));
  const deadline = Date.now() + 60_000;
  let pid = 0;
  while (pid === 0) {
    if (existsSync(join(tmp, 'pid'))) pid = Number(readFileSync(join(tmp, 'pid'), 'utf8').trim()) || 0;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`rabbitmq did not start: ${logs.slice(-2000)}`);
    if (pid === 0) await sleep(100);
  }
  await stompReady(stompPort, deadline);
  return {
    name: 'rabbitmq',
    pid,
    stompPort,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const until = Date.now() + 15_000;
      while (child.exitCode === null && Date.now() < until) await sleep(100);
      if (child.exitCode === null) {
        try {
          process.kill(pid, 'SIGKILL');
          child.kill('SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

async function startOutpost() {
  const b = await startBroker('outpost', {
    outpostExtra: `
[gateway.stomp]
enable = true
[gateway.stomp.listeners.tcp.default]
bind = "127.0.0.1"
port = 0
`,
  });
  const runtime = JSON.parse(readFileSync(join(b.tmp ?? '', 'data', 'runtime.json'), 'utf8'));
  const stompPort = runtime.listeners['stomp:tcp:default'];
  await stompReady(stompPort, Date.now() + 10_000);
  return { name: 'outpost', pid: b.pid, stompPort, stop: () => b.stop() };
}

/** One run: start the broker, the subscriber, then the publishers; measure the window. */
async function runOnce(name) {
  const broker = name === 'rabbitmq' ? await startRabbit() : await startOutpost();
  const workers = [];
  const counts = new Map();
  const spawnWorker = (role, args, key) => {
    const w = fork(join(here, 'stomp-worker.mjs'), [role, String(broker.stompPort), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push(w);
    counts.set(key, 0);
    return new Promise((resolve, reject) => {
      w.on('message', (m) => {
        if (m.error) reject(new Error(`${key}: ${m.error}`));
        if (typeof m.count === 'number') counts.set(key, m.count);
        if (m.ready) resolve();
      });
      if (role === 'pub') resolve();
    });
  };
  try {
    await spawnWorker('sub', [], 'sub');
    for (let i = 0; i < Number(opt.pubs); i++) await spawnWorker('pub', [opt.conns, opt.size], `pub${i}`);
    await sleep(Number(opt.warmup) * 1000);
    const sum = (pred) => [...counts].filter(([k]) => pred(k)).reduce((a, [, v]) => a + v, 0);
    const r0 = sum((k) => k === 'sub');
    const s0 = sum((k) => k.startsWith('pub'));
    const c0 = cpuSeconds(broker.pid);
    const t0 = process.hrtime.bigint();
    await sleep(Number(opt.duration) * 1000);
    const r1 = sum((k) => k === 'sub');
    const s1 = sum((k) => k.startsWith('pub'));
    const c1 = cpuSeconds(broker.pid);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const received = r1 - r0;
    return {
      broker: name,
      recvPerSec: received / secs,
      sentPerSec: (s1 - s0) / secs,
      cpuSeconds: c1 - c0,
      cpuUsPerMsg: received > 0 ? ((c1 - c0) * 1e6) / received : null,
    };
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    await broker.stop();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const wanted = opt.brokers.split(',').filter(Boolean);
  const brokers = wanted.filter((b) => {
    if (b === 'rabbitmq' && !existsSync(RABBIT)) {
      console.log(`rabbitmq skipped: ${RABBIT} missing (apt-get install -y rabbitmq-server)`);
      return false;
    }
    return true;
  });
  const epmdBefore = new Set(epmdPids());
  const runs = [];
  try {
    for (let round = 1; round <= Number(opt.rounds); round++) {
      for (const b of brokers) {
        const r = await runOnce(b);
        r.round = round;
        runs.push(r);
        console.log(`round ${round} ${b.padEnd(8)} ${Math.round(r.recvPerSec).toString().padStart(8)} msgs/s received  ${Math.round(r.sentPerSec).toString().padStart(8)} msgs/s sent  ${r.cpuUsPerMsg?.toFixed(2) ?? '-'} CPU µs/msg`);
      }
    }
  } finally {
    // The Erlang port mapper the RabbitMQ runs started (not one that was running before).
    for (const pid of epmdPids()) if (!epmdBefore.has(pid)) process.kill(pid, 'SIGTERM');
  }
  const summary = {};
  for (const b of brokers) {
    const mine = runs.filter((r) => r.broker === b);
    summary[b] = { recvPerSec: median(mine.map((r) => r.recvPerSec)), cpuUsPerMsg: median(mine.map((r) => r.cpuUsPerMsg ?? NaN)) };
  }
  console.log('\nmedians:');
  for (const [b, s] of Object.entries(summary)) console.log(`  ${b.padEnd(8)} ${Math.round(s.recvPerSec)} msgs/s, ${s.cpuUsPerMsg.toFixed(2)} CPU µs/msg`);
  if (summary.outpost && summary.rabbitmq) {
    console.log(`  outpost / rabbitmq: ${(summary.outpost.recvPerSec / summary.rabbitmq.recvPerSec).toFixed(2)}x the rate, ${(summary.outpost.cpuUsPerMsg / summary.rabbitmq.cpuUsPerMsg).toFixed(2)}x the CPU per message`);
  }
  const result = { when: new Date().toISOString(), options: opt, runs, summary };
  if (opt.out) writeFileSync(opt.out, JSON.stringify(result, null, 2));
}

await main();
