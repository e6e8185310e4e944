// Starts and stops the brokers under test: Outpost (this repo's daemon), Debian's mosquitto and aedes. Each one
// is spawned through bash so its open-file limit can be raised to the hard limit (10k idle connections need
// more than the usual soft limit of 1024), with `exec` so the pid we get is the broker's own.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
// What bin/outpost.js runs: the bundle from npm run build (scripts/bundle.mjs), else the compiled modules.
const bundledMain = join(repoRoot, 'dist', 'outpost', 'main.js');
export const outpostMain = existsSync(bundledMain) ? bundledMain : join(repoRoot, 'dist', 'src', 'runtime', 'main.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const BROKERS = ['outpost', 'mosquitto', 'aedes'];

/** Path of the mosquitto binary (Debian puts it in /usr/sbin, often not on a user's PATH), or null. */
export function findMosquitto() {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(join(dir, 'mosquitto'))) return join(dir, 'mosquitto');
  }
  return null;
}

/** Why a broker cannot run here, or null when it can. */
export function unavailable(name) {
  if (name === 'outpost' && !existsSync(outpostMain)) return `${outpostMain} missing (run npm run build)`;
  if (name === 'mosquitto' && findMosquitto() === null) return 'mosquitto not installed (apt-get install -y mosquitto)';
  if (name === 'aedes' && !existsSync(join(repoRoot, 'node_modules', 'aedes'))) return 'aedes not installed';
  return null;
}

/** Versions for the results file. */
export function versions() {
  const out = { node: process.version };
  try {
    const m = findMosquitto();
    // `mosquitto -h` prints its version on the first line and exits non-zero.
    const text = m ? spawnText(m, ['-h']) : '';
    out.mosquitto = /version\s+(\S+)/.exec(text)?.[1] ?? null;
  } catch {
    out.mosquitto = null;
  }
  try {
    out.aedes = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'aedes', 'package.json'), 'utf8')).version;
  } catch {
    out.aedes = null;
  }
  try {
    out.outpost = execFileSync('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    out.outpost = null;
  }
  return out;
}

function spawnText(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, close). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Resolves once a TCP connection to the port succeeds (the broker is accepting). */
export async function waitAccepting(port, deadline, child) {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('broker exited before accepting');
    const ok = await new Promise((r) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not accepting in time`);
    await sleep(2);
  }
}

/**
 * The brokers' environment: the driver's, without NODE_EXTRA_CA_CERTS. Some machines (CI images, this
 * project's build machines) point it at the system CA bundle for their own tools; Node 20 then parses
 * that file at every start, 45-120 ms before any of the broker's code runs, and a broker installed with
 * systemd has no such variable. Set OUTPOST_BENCH_KEEP_CA_ENV=1 to keep it.
 */
export function brokerEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  if (process.env.OUTPOST_BENCH_KEEP_CA_ENV !== '1') delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

function launch(cmd, args, env) {
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', cmd, ...args], {
    env: brokerEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d) => {
    log = (log + d.toString()).slice(-16384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', (code, sig) => r(code ?? sig)));
  return { child, exited, logs: () => log };
}

function handle(name, proc, extra) {
  return {
    name,
    pid: proc.child.pid,
    logs: proc.logs,
    ...extra,
    /** Ends the broker: SIGKILL by default (its data dir is thrown away, and a graceful stop is not measured). */
    async stop(signal = 'SIGKILL') {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill(signal);
        const done = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
        if (!done) {
          proc.child.kill('SIGKILL');
          await proc.exited;
        }
      }
      if (extra.tmp) rmSync(extra.tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Starts one broker and resolves once it accepts MQTT connections.
 * @param {string} name outpost | mosquitto | aedes
 * @param {{ env?: Record<string,string>, outpostMqtt?: Record<string, unknown>, outpostExtra?: string, mosquittoConf?: string, timeoutMs?: number, tmpRoot?: string }} opts
 * @returns {Promise<{ name, pid, port, readyMs, stop(): Promise<void>, logs(): string }>}
 */
export async function startBroker(name, opts = {}) {
  const tmp = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), `bench-${name}-`));
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  if (name === 'outpost') {
    const dataDir = join(tmp, 'data');
    const conf = join(tmp, 'outpost.toml');
    writeFileSync(conf, outpostToml(opts.outpostMqtt) + (opts.outpostExtra ?? ''));
    const t0 = process.hrtime.bigint();
    // Same V8 flag as the shipped unit file and npm start: a 2 MB semi-space keeps idle RSS down.
    // OUTPOST_BENCH_NODE_ARGS adds node flags for a profiling run, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const extraArgs = (process.env.OUTPOST_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const proc = launch(process.execPath, ['--max-semi-space-size=2', ...extraArgs, outpostMain, '--config', conf, '--data-dir', dataDir], opts.env);
    let runtime;
    // Outpost writes runtime.json once every listener is bound and the store is open.
    for (;;) {
      const file = join(dataDir, 'runtime.json');
      if (existsSync(file)) {
        try {
          runtime = JSON.parse(readFileSync(file, 'utf8'));
          if (runtime?.listeners?.['mqtt:tcp']) break;
        } catch {
          // Half-written file: try again.
        }
      }
      if (proc.child.exitCode !== null || Date.now() > deadline) {
        const h = handle(name, proc, { tmp });
        await h.stop();
        throw new Error(`outpost did not become ready: ${proc.logs().slice(-2000)}`);
      }
      await sleep(2);
    }
    const port = runtime.listeners['mqtt:tcp'];
    await waitAccepting(port, deadline, proc.child);
    const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    // /proc figures come from the daemon's own pid (the one it reports), in case it ever re-executes itself.
    return { ...handle(name, proc, { tmp, port, readyMs }), pid: runtime.pid ?? proc.child.pid };
  }
  const port = await freePort();
  let cmd;
  let args;
  if (name === 'mosquitto') {
    const conf = join(tmp, 'mosquitto.conf');
    writeFileSync(conf, mosquittoConf(port, opts.mosquittoConf));
    cmd = findMosquitto();
    args = ['-c', conf];
  } else if (name === 'aedes') {
    cmd = process.execPath;
    args = [join(here, 'aedes-server.mjs'), '--port', String(port)];
  } else {
    throw new Error(`unknown broker ${name}`);
  }
  const t0 = process.hrtime.bigint();
  const proc = launch(cmd, args, opts.env);
  try {
    await waitAccepting(port, deadline, proc.child);
  } catch (err) {
    await handle(name, proc, { tmp }).stop();
    throw new Error(`${name} did not become ready: ${err.message}: ${proc.logs().slice(-2000)}`);
  }
  const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return handle(name, proc, { tmp, port, readyMs });
}

/** Outpost's config for a bench run: loopback, an OS-chosen port, quiet logs, no periodic $SYS traffic, no API. */
export function outpostToml(mqttOverrides = {}) {
  const mqtt = {
    port: 0,
    bind: '127.0.0.1',
    // Same bound as mosquitto's max_queued_messages below, so the 50,000-message backlog fits in both.
    max_mqueue_len: 100000,
    ...mqttOverrides,
  };
  const lines = ['[mqtt]'];
  for (const [k, v] of Object.entries(mqtt)) lines.push(`${k} = ${JSON.stringify(v)}`);
  lines.push('', '[log]', 'level = "warn"', '', '[sys_topics]', 'sys_msg_interval = 0', 'sys_heartbeat_interval = 0');
  // The HTTP API would bind 18083 (and clash with any other daemon on the box); the bench measures MQTT only.
  lines.push('', '[api]', 'enable = false', '');
  return lines.join('\n');
}

export function mosquittoConf(port, extra = '') {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'max_queued_messages 100000',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    extra,
    '',
  ].join('\n');
}
