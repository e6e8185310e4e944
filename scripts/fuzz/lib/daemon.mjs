// Starts the built daemon as test/helpers/daemon.ts does (dist/, --config, --data-dir, ports from
// runtime.json) with MQTT, CoAP, MQTT-SN and STOMP on 127.0.0.1, ephemeral ports; stops it by PID.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './codecs.mjs';

const BUNDLED = join(ROOT, 'dist/outpost/main.js');
const MAIN = existsSync(BUNDLED) ? BUNDLED : join(ROOT, 'dist/src/runtime/main.js');

export const FUZZ_CONFIG = `
[mqtt]
bind = "127.0.0.1"
port = 0

[log]
level = "warn"

[api]
port = 0

[sys_topics]
sys_msg_interval = 0
sys_heartbeat_interval = 0

[gateway.coap]
enable = true

[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[gateway.mqttsn]
enable = true

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[gateway.stomp]
enable = true

[gateway.stomp.listeners.tcp.default]
bind = "127.0.0.1"
port = 0
`;

/** { pid, ports, logs(), alive(), rssKb(), fds(), stop() } */
export async function startFuzzDaemon(extraConfig = '', timeoutMs = 20_000) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run npm run build first`);
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-fuzz-'));
  const configPath = join(dataDir, 'outpost.toml');
  writeFileSync(configPath, FUZZ_CONFIG + extraConfig);
  const child = spawn(process.execPath, [MAIN, '--config', configPath, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const runtimeFile = join(dataDir, 'runtime.json');
  const deadline = Date.now() + timeoutMs;
  let ports = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${out}`);
    if (existsSync(runtimeFile)) {
      const rt = JSON.parse(readFileSync(runtimeFile, 'utf8'));
      if (rt.pid === child.pid) {
        ports = rt.listeners;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!ports) {
    child.kill('SIGKILL');
    throw new Error(`daemon not ready in time:\n${out}`);
  }
  const pid = child.pid;
  return {
    pid,
    ports,
    logs: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    /** VmRSS in kB from /proc/PID/status (null when gone). */
    rssKb() {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
      } catch {
        return null;
      }
    },
    fds() {
      try {
        return readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        return null;
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
