// Start-up failures an operator can fix print one line on stderr naming the config key (or the
// OUTPOST_* variable) and the cause, and exit non-zero; the command line is commander's (--version,
// --help, unknown flags and commands as usage errors, exit 2). Runs the built daemon (dist/).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, ROOT } from '../helpers/daemon.js';

const scratch = mkdtempSync(join(tmpdir(), 'outpost-startup-'));
let blocker: Server;
let busyPort = 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The daemon with these args, bounded in time; OUTPOST_* from the test's own environment are dropped. */
function outpost(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<Run> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OUTPOST_') && v !== undefined) clean[k] = v;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let n = 0;
function configFile(toml: string): { file: string; dataDir: string } {
  const dir = join(scratch, `c${++n}`);
  const file = `${dir}.toml`;
  writeFileSync(file, toml);
  return { file, dataDir: dir };
}

/** Exactly one non-empty line on stderr. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

const QUIET = '[sys_topics]\nsys_msg_interval = 0\nsys_heartbeat_interval = 0\n';

beforeAll(async () => {
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  busyPort = (blocker.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((r) => blocker.close(() => r()));
  rmSync(scratch, { recursive: true, force: true });
});

describe('start-up failures', () => {
  it('a port in use names the MQTT listener key', async () => {
    const c = configFile(`[mqtt]\nbind = "127.0.0.1:${busyPort}"\n[api]\nport = 0\n${QUIET}`);
    const r = await outpost(['--config', c.file, '--data-dir', c.dataDir]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`refusing to start: mqtt.port ${busyPort}: address already in use (bind 127.0.0.1)`);
  });

  it('a port in use names the API key and the extra listener key', async () => {
    const api = configFile(`[mqtt]\nbind = "127.0.0.1"\nport = 0\n[api]\nbind = "127.0.0.1:${busyPort}"\n${QUIET}`);
    const r1 = await outpost(['--config', api.file, '--data-dir', api.dataDir]);
    expect(r1.code).toBe(1);
    expect(oneLine(r1.stderr)).toBe(`refusing to start: api.port ${busyPort}: address already in use (bind 127.0.0.1)`);
    const ws = configFile(`[mqtt]\nbind = "127.0.0.1"\nport = 0\n[api]\nport = 0\n[listeners.ws.default]\nenable = true\nbind = "127.0.0.1:${busyPort}"\n${QUIET}`);
    const r2 = await outpost(['--config', ws.file, '--data-dir', ws.dataDir]);
    expect(r2.code).toBe(1);
    expect(oneLine(r2.stderr)).toBe(`refusing to start: listeners.ws.default.port ${busyPort}: address already in use (bind 127.0.0.1)`);
  });

  it('a failure after the gateways are up still exits at once (their sockets are closed), not at the systemd start timeout', async () => {
    const c = configFile(
      `[mqtt]\nbind = "127.0.0.1"\nport = 0\n[api]\nbind = "127.0.0.1:${busyPort}"\n[gateway.coap]\nenable = true\n[gateway.coap.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n[gateway.mqttsn]\nenable = true\n[gateway.mqttsn.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n${QUIET}`,
    );
    const t0 = Date.now();
    const r = await outpost(['--config', c.file, '--data-dir', c.dataDir], {}, 10_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to start: api.port ${busyPort}: address already in use`);
    expect(Date.now() - t0).toBeLessThan(8_000);
  });

  it('a bad key names it, with a did-you-mean; check-config judges it the same way', async () => {
    const c = configFile('[store]\nsynchronus = "FULL"\n');
    const r = await outpost(['--config', c.file, '--data-dir', c.dataDir]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`refusing to start: ${c.file}: store.synchronus: unknown key (did you mean store.synchronous?)`);
    const chk = await outpost(['check-config', c.file]);
    expect(chk.code).toBe(1);
    expect(oneLine(chk.stderr)).toBe(`${c.file}: store.synchronus: unknown key (did you mean store.synchronous?)`);
  });

  it('a bad environment override names the variable, not the file', async () => {
    const c = configFile('[mqtt]\nport = 0\n');
    const r = await outpost(['--config', c.file, '--data-dir', c.dataDir], { OUTPOST_MQTT__PORT: 'abc' });
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toMatch(/^refusing to start: OUTPOST_MQTT__PORT: mqtt\.port: .*expected number/);
    expect(line).not.toContain(c.file);
    const typo = await outpost(['--config', c.file, '--data-dir', c.dataDir], { OUTPOST_MQTT__MAX_INFLIHGT: '10' });
    expect(typo.code).toBe(1);
    expect(oneLine(typo.stderr)).toBe('refusing to start: OUTPOST_MQTT__MAX_INFLIHGT: mqtt.max_inflihgt: unknown key (did you mean mqtt.max_inflight?)');
  });

  it('a TLS listener: a missing certificate key is refused by check-config and start alike, an unreadable file names its key', async () => {
    const none = configFile(`[mqtt]\nbind = "127.0.0.1:0"\n[api]\nport = 0\n[listeners.ssl.default]\nenable = true\nbind = "127.0.0.1:0"\n`);
    const chk = await outpost(['check-config', none.file]);
    expect(chk.code).toBe(1);
    expect(oneLine(chk.stderr)).toBe(`${none.file}: listeners.ssl.default.ssl_options.certfile: required when the listener is enabled; listeners.ssl.default.ssl_options.keyfile: required when the listener is enabled`);
    const r1 = await outpost(['--config', none.file, '--data-dir', none.dataDir]);
    expect(r1.code).toBe(1);
    expect(oneLine(r1.stderr)).toBe(`refusing to start: ${chk.stderr.trim()}`);
    const missing = join(scratch, 'no-such-cert.pem');
    const bad = configFile(`[mqtt]\nbind = "127.0.0.1:0"\n[api]\nport = 0\n[listeners.ssl.default]\nenable = true\nbind = "127.0.0.1:0"\nssl_options.certfile = "${missing}"\nssl_options.keyfile = "${missing}"\n`);
    const r2 = await outpost(['--config', bad.file, '--data-dir', bad.dataDir]);
    expect(r2.code).toBe(1);
    expect(oneLine(r2.stderr)).toMatch(new RegExp(`^refusing to start: listeners\\.ssl\\.default\\.ssl_options\\.certfile ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`));
  });

  it('a data dir that cannot be created names node.data_dir', async () => {
    const notADir = join(scratch, 'plain-file');
    writeFileSync(notADir, '');
    const c = configFile(`[mqtt]\nbind = "127.0.0.1"\nport = 0\n[api]\nport = 0\n`);
    const r = await outpost(['--config', c.file, '--data-dir', join(notADir, 'data')]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^refusing to start: node\.data_dir .*plain-file\/data: /);
  });

  it('check-config and start both take EMQX forms (bind as host:port, durations, sizes, warning)', async () => {
    const c = configFile(`[mqtt]\nbind = "127.0.0.1:0"\nsession_expiry_interval = "2h"\nmax_packet_size = "1MB"\n[api]\nbind = "127.0.0.1:0"\n[log]\nlevel = "warning"\n${QUIET}`);
    const chk = await outpost(['check-config', c.file]);
    expect(chk.code, chk.stderr).toBe(0);
    const p = spawn(process.execPath, [MAIN, '--config', c.file, '--data-dir', c.dataDir], { stdio: 'ignore' });
    try {
      const runtime = join(c.dataDir, 'runtime.json');
      const deadline = Date.now() + 15_000;
      let ports: Record<string, number> | null = null;
      while (Date.now() < deadline && p.exitCode === null) {
        try {
          const rt = JSON.parse(readFileSync(runtime, 'utf8')) as { pid: number; listeners: Record<string, number> };
          if (rt.pid === p.pid) {
            ports = rt.listeners;
            break;
          }
        } catch {
          // Not written yet.
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(ports?.['mqtt:tcp']).toBeGreaterThan(0);
      expect(ports?.['api:http']).toBeGreaterThan(0);
    } finally {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
  });
});

describe('command line', () => {
  it('--version prints the package version', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) {
      const r = await outpost([flag]);
      expect(r).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('--help prints usage with check-config and exits 0', async () => {
    const r = await outpost(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: outpost \[options\] \[command\]/);
    expect(r.stdout).toContain('--config <file>');
    expect(r.stdout).toContain('check-config [file]');
  });

  it('an unknown flag or command is a usage error (exit 2), not a stack trace', async () => {
    const flag = await outpost(['--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^error: unknown option '--bogus'\n/);
    expect(flag.stderr).not.toMatch(/\n\s+at /);
    const cmd = await outpost(['frob']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^error: unknown command 'frob'\n/);
    const missing = await outpost(['--config']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/argument missing/);
  });
});
