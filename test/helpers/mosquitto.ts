// Starts Debian's mosquitto on 127.0.0.1 with an ephemeral port, from a generated config file, as
// the real upstream broker for bridge tests. Processes are stopped/killed by their own PID only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface MosquittoOptions {
  /** Fixed port (to restart on the same address); default: a free ephemeral port. */
  port?: number;
  /** Extra lines for the listener (e.g. `cafile …`, `certfile …`, `keyfile …`, `require_certificate false`). */
  listenerLines?: string[];
  /** Extra global config lines (e.g. `persistence true`, `max_queued_messages 100000`). */
  extraLines?: string[];
  /** Keep sessions and queued messages across restarts in this instance's directory (default true). */
  persistence?: boolean;
}

export interface Mosquitto {
  readonly port: number;
  readonly dir: string;
  pid(): number | null;
  /** SIGTERM and wait for exit (mosquitto saves its persistence file on SIGTERM). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Start again on the same port with the same config and persistence directory. */
  restart(): Promise<void>;
  logs(): string;
  /** Stop (if running) and delete the directory. */
  cleanup(): Promise<void>;
}

export { freePort };

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-mosq-'));
  const port = opts.port ?? (await freePort());
  const persistence = opts.persistence ?? true;
  const conf = [
    `listener ${port} 127.0.0.1`,
    ...(opts.listenerLines ?? []),
    'allow_anonymous true',
    // Run as ourselves: as root mosquitto would switch to user "mosquitto" and fail to write its persistence file here.
    `user ${userInfo().username}`,
    `persistence ${persistence ? 'true' : 'false'}`,
    `persistence_location ${dir}/`,
    'autosave_interval 1',
    'max_queued_messages 200000',
    'max_inflight_messages 100',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    ...(opts.extraLines ?? []),
  ].join('\n');
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, conf + '\n');

  let child: ChildProcess | null = null;
  let out = '';

  const launch = async (): Promise<void> => {
    const c = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (c.exitCode !== null) throw new Error(`mosquitto exited with ${c.exitCode}: ${out}`);
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    c.kill('SIGKILL');
    throw new Error(`mosquitto did not listen on ${port} within 5 s: ${out}`);
  };

  const waitExit = (c: ChildProcess, signal: NodeJS.Signals): Promise<void> =>
    new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      process.kill(c.pid!, signal);
    });

  await launch();

  const m: Mosquitto = {
    port,
    dir,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid ?? null : null),
    stop: async () => {
      if (child) await waitExit(child, 'SIGTERM');
    },
    kill: async () => {
      if (child) await waitExit(child, 'SIGKILL');
    },
    restart: async () => {
      if (child) await waitExit(child, 'SIGTERM');
      await launch();
    },
    logs: () => out,
    cleanup: async () => {
      if (child) await waitExit(child, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return m;
}
