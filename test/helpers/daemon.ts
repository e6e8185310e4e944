// Starts the real daemon (dist/, built by `npm test`) on 127.0.0.1 with ephemeral ports, waits for
// runtime.json, and stops it by PID. Every test that needs a broker goes through here.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// What bin/outpost.js runs: the bundle that `npm run build` makes (scripts/bundle.mjs), so the tests
// exercise what ships; the compiled modules only where no bundle was made.
const BUNDLED_MAIN = join(ROOT, 'dist/outpost/main.js');
export const MAIN = existsSync(BUNDLED_MAIN) ? BUNDLED_MAIN : join(ROOT, 'dist/src/runtime/main.js');

export interface DaemonOptions {
  /** TOML text appended after the test defaults (MQTT on 127.0.0.1:0). */
  config?: string;
  env?: Record<string, string>;
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  /** Milliseconds to wait for readiness. */
  timeoutMs?: number;
}

export interface Daemon {
  pid: number;
  dataDir: string;
  configPath: string;
  /** Listener id -> port, from runtime.json: 'mqtt:tcp', 'coap:udp:default', … */
  ports: Record<string, number>;
  /** MQTT/TCP port shortcut. */
  mqttPort: number;
  mqttUrl: string;
  /** SIGTERM (or the given signal); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, no cleanup. */
  kill(): Promise<void>;
  /** Start again on the same data dir and config (ports may change unless fixed in config). */
  restart(): Promise<void>;
  logs(): string;
  /** Remove the data dir (after stop). */
  cleanup(): void;
}

const BASE = `
[mqtt]
bind = "127.0.0.1"
port = 0

[log]
level = "info"

[api]
port = 0

[sys_topics]
sys_msg_interval = 0
sys_heartbeat_interval = 0
`;

/** Merges the test defaults with extra TOML: sections in `extra` that also appear in BASE win key by key. */
function composeConfig(extra: string): string {
  // Keys under a repeated [section] header are legal TOML only once, so fold BASE sections that
  // the caller also declares into the caller's text.
  const sections = new Map<string, string[]>();
  let current = '';
  for (const line of BASE.split('\n')) {
    const m = /^\[([^\]]+)\]$/.exec(line.trim());
    if (m) current = m[1]!;
    else if (line.trim()) (sections.get(current) ?? sections.set(current, []).get(current)!).push(line);
  }
  let out = extra;
  const leftovers: string[] = [];
  for (const [name, lines] of sections) {
    const header = new RegExp(`^\\[${name.replace(/[.[\]]/g, '\\$&')}\\]\\s*$`, 'm');
    if (header.test(out)) {
      const userKeys = new Set<string>();
      const idx = out.search(header);
      const after = out.slice(idx).split('\n').slice(1);
      for (const l of after) {
        if (/^\s*\[/.test(l)) break;
        const k = /^\s*([A-Za-z0-9_]+)\s*=/.exec(l);
        if (k) userKeys.add(k[1]!);
      }
      const missing = lines.filter((l) => !userKeys.has(l.split('=')[0]!.trim()));
      out = out.replace(header, (h) => `${h}\n${missing.join('\n')}`);
    } else leftovers.push(`[${name}]`, ...lines, '');
  }
  return `${leftovers.join('\n')}\n${out}\n`;
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run npm run build first`);
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-test-'));
  const configPath = join(dataDir, 'outpost.toml');
  writeFileSync(configPath, composeConfig(opts.config ?? ''));
  let child: ChildProcess;
  let out = '';
  const d: Daemon = {
    pid: 0,
    dataDir,
    configPath,
    ports: {},
    mqttPort: 0,
    mqttUrl: '',
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await d.stop();
      await launch();
    },
    logs: () => out,
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const launch = async () => {
    const runtimeFile = join(dataDir, 'runtime.json');
    rmSync(runtimeFile, { force: true });
    child = spawn(process.execPath, [MAIN, '--config', configPath, '--data-dir', dataDir], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    d.pid = child.pid!;
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${out}`);
      if (existsSync(runtimeFile)) {
        const rt = JSON.parse(readFileSync(runtimeFile, 'utf8')) as { pid: number; listeners: Record<string, number> };
        if (rt.pid === child.pid) {
          d.ports = rt.listeners;
          d.mqttPort = rt.listeners['mqtt:tcp'] ?? 0;
          d.mqttUrl = `mqtt://127.0.0.1:${d.mqttPort}`;
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    throw new Error(`daemon not ready in time:\n${out}`);
  };
  await launch();
  return d;
}
