// Idle footprint and start time of Outpost with every listener and gateway enabled (issue 8: idle RSS at most
// 60 MB, start to READY under 300 ms). Starts the daemon N times with the same node flags as `npm start` and
// the systemd unit, and reports per start: spawn to runtime.json (written right before READY=1), and VmRSS
// and V8 heap figures 2 s after it. Prints the medians; --json for every number.
//
//   npm run build && node scripts/bench/footprint.mjs [--runs 5] [--settle 2] [--dist DIR] [--keep DIR] [--json]
//     [--bench-config] [--node-flags "..."] [--env K=V ...]
//
// TLS listeners get a throwaway self-signed certificate (openssl); the bridge points at a dead upstream
// (127.0.0.1:1), so it sits in its reconnect backoff as it would with the uplink down.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { brokerEnv, outpostToml } from './brokers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
// Keep in step with package.json "start" and systemd/outpost.service.
export const OUTPOST_NODE_FLAGS = ['--max-semi-space-size=2'];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    settle: { type: 'string', default: '2' },
    dist: { type: 'string', default: join(repoRoot, 'dist') },
    keep: { type: 'string' },
    json: { type: 'boolean', default: false },
    'node-flags': { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    // The bench's own Outpost config (MQTT/TCP only, no API): what its startup scenario measures.
    'bench-config': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const settleMs = Number(values.settle) * 1000;
// What bin/outpost.js runs: the bundle (scripts/bundle.mjs) when the build made one.
const bundledMain = join(resolve(values.dist), 'outpost', 'main.js');
const main = existsSync(bundledMain) ? bundledMain : join(resolve(values.dist), 'src', 'runtime', 'main.js');
const nodeFlags = values['node-flags'] !== undefined ? values['node-flags'].split(/\s+/).filter(Boolean) : OUTPOST_NODE_FLAGS;
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function config(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const tls = `ssl_options = { certfile = "${cert}", keyfile = "${key}" }`;
  return `
[mqtt]
bind = "127.0.0.1"
port = 0

[listeners.ssl.default]
enable = true
bind = "127.0.0.1"
port = 0
${tls}

[listeners.ws.default]
enable = true
bind = "127.0.0.1"
port = 0

[listeners.wss.default]
enable = true
bind = "127.0.0.1"
port = 0
${tls}

[api]
enable = true
bind = "127.0.0.1"
port = 0

[gateway.coap]
enable = true
listeners.udp.default = { bind = "127.0.0.1", port = 0 }

[gateway.mqttsn]
enable = true
listeners.udp.default = { bind = "127.0.0.1", port = 0 }

[bridges.cloud]
servers = ["127.0.0.1:1"]
clientid = "edge-1"

[[bridges.cloud.egress]]
filter = "sensors/#"
topic = "site/\${topic}"
`;
}

/** utime + stime of a process in ms: less noisy than wall time on a shared machine. */
function cpuMs(pid, file = `/proc/${pid}/stat`) {
  const f = readFileSync(file, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; clock ticks are 100/s on Linux.
  return (Number(rest[11]) + Number(rest[12])) * 10;
}

/** VmRSS, RssAnon, RssFile in KiB. */
function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') };
}

async function once(root, i) {
  const dataDir = join(root, `data-${i}`);
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeFlags, main, '--config', join(root, 'outpost.toml'), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: brokerEnv(extraEnv) });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const file = join(dataDir, 'runtime.json');
  let readyMs = NaN;
  for (;;) {
    if (existsSync(file)) {
      readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
      break;
    }
    if (child.exitCode !== null || Number(process.hrtime.bigint() - t0) > 20e9) {
      child.kill('SIGKILL');
      throw new Error(`outpost did not become ready:\n${out.slice(-2000)}`);
    }
    await sleep(1);
  }
  const atReady = procStatus(child.pid);
  const readyCpuMs = cpuMs(child.pid);
  // The main thread alone: the start-up's critical path, without the GC, compiler and worker threads.
  const readyMainCpuMs = cpuMs(child.pid, `/proc/${child.pid}/task/${child.pid}/stat`);
  await sleep(settleMs);
  const idle = procStatus(child.pid);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  return { readyMs, readyCpuMs, readyMainCpuMs, rssAtReadyMiB: atReady.rss / 1024, rssIdleMiB: idle.rss / 1024, anonIdleMiB: idle.anon / 1024, fileIdleMiB: idle.file / 1024 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const root = values.keep ?? mkdtempSync(join(tmpdir(), 'outpost-footprint-'));
mkdirSync(root, { recursive: true });
writeFileSync(join(root, 'outpost.toml'), values['bench-config'] ? outpostToml() : config(root));
const results = [];
try {
  for (let i = 0; i < runs; i++) results.push(await once(root, i));
} finally {
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}
const summary = {};
for (const k of Object.keys(results[0])) summary[k] = Math.round(median(results.map((r) => r[k])) * 10) / 10;
if (values.json) {
  console.log(JSON.stringify({ node: process.version, flags: nodeFlags, loadavg: readFileSync('/proc/loadavg', 'utf8').trim(), summary, results }, null, 2));
} else {
  for (const r of results) console.log(`start ${r.readyMs.toFixed(0)} ms (cpu ${r.readyCpuMs} ms, main thread ${r.readyMainCpuMs})  rss at ready ${r.rssAtReadyMiB.toFixed(1)} MiB  idle ${r.rssIdleMiB.toFixed(1)} MiB (anon ${r.anonIdleMiB.toFixed(1)}, file ${r.fileIdleMiB.toFixed(1)})`);
  console.log(`median of ${runs}: start to ready ${summary.readyMs} ms (cpu ${summary.readyCpuMs} ms, main thread ${summary.readyMainCpuMs}), idle RSS ${summary.rssIdleMiB} MiB (at ready ${summary.rssAtReadyMiB})  [${nodeFlags.join(' ')}]`);
}
