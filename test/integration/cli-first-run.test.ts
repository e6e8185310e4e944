// The README's quick start on a fresh data dir: `npm start` prints a generated admin password once,
// keeps it in a 0600 file, POST /api/v5/login accepts it and the client list answers; outpostctl run
// from the daemon's working directory (or anywhere, through the per-user runtime pointer) finds the
// daemon without --data-dir. npm's prestart build is skipped (--ignore-scripts): the suite has built.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';
import { connectClient, uid, until, type TestClient } from '../helpers/mqtt-clients.js';
import { outpostctl, type CtlRun } from '../helpers/outpostctl.js';

const scratch = mkdtempSync(join(tmpdir(), 'outpost-first-run-'));
const work = join(scratch, 'work');
const dataDir = join(work, 'data');
// A private pointer dir: other test daemons of this user write theirs to the shared one.
const runtimeDir = join(scratch, 'run');
mkdirSync(runtimeDir);
mkdirSync(work);

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OUTPOST_') && !k.startsWith('npm_') && v !== undefined) env[k] = v;
  return { ...env, XDG_RUNTIME_DIR: runtimeDir };
}

interface Started {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  daemonPid: number;
  apiPort: number;
  mqttPort: number;
}

/** `npm start` as the README says, on 127.0.0.1 with ephemeral ports and the fresh data dir. */
async function npmStart(): Promise<Started> {
  rmSync(join(dataDir, 'runtime.json'), { force: true });
  const child = spawn('npm', ['start', '--ignore-scripts', '--silent'], {
    cwd: ROOT,
    env: { ...cleanEnv(), OUTPOST_NODE__DATA_DIR: dataDir, OUTPOST_MQTT__BIND: '127.0.0.1:0', OUTPOST_API__PORT: '0', OUTPOST_SYS_TOPICS__SYS_MSG_INTERVAL: '0', OUTPOST_SYS_TOPICS__SYS_HEARTBEAT_INTERVAL: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const runtime = join(dataDir, 'runtime.json');
  await until(() => existsSync(runtime) || child.exitCode !== null, 30_000, 'runtime.json');
  if (!existsSync(runtime)) throw new Error(`npm start exited ${child.exitCode}:\n${out}\n${err}`);
  const rt = JSON.parse(readFileSync(runtime, 'utf8')) as { pid: number; listeners: Record<string, number> };
  return { child, out: () => out, err: () => err, daemonPid: rt.pid, apiPort: rt.listeners['api:http']!, mqttPort: rt.listeners['mqtt:tcp']! };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('close', () => r()));
  // The daemon by its PID (npm passes signals on, but not every npm version does).
  try {
    process.kill(s.daemonPid, 'SIGTERM');
  } catch {
    // Already gone.
  }
  const force = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(force);
}

const ctl = (args: string[], cwd: string): Promise<CtlRun> => outpostctl(args, { cwd, env: { XDG_RUNTIME_DIR: runtimeDir } });

const running: Started[] = [];
const clientId = uid('first');
const clients: TestClient[] = [];

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  for (const s of running) await stop(s);
  rmSync(scratch, { recursive: true, force: true });
});

describe('first run', () => {
  it('prints a generated admin password once; it logs in and lists clients, as the README says', async () => {
    const s = await npmStart();
    running.push(s);
    await until(() => s.err().includes('created API user'), 5_000, 'the printed password');
    const m = /created API user "admin" with password (\S+) \(also in (\S+);/.exec(s.err());
    expect(m, s.err()).not.toBeNull();
    const [, password, file] = m!;
    expect(file).toBe(join(dataDir, 'initial-admin-password'));
    expect(readFileSync(file!, 'utf8')).toBe(`${password}\n`);
    expect(statSync(file!).mode & 0o777).toBe(0o600);
    // The password never reaches the log.
    expect(s.out()).not.toContain(password!);

    const c = await connectClient(`mqtt://127.0.0.1:${s.mqttPort}`, { clientId });
    clients.push(c);
    const base = `http://127.0.0.1:${s.apiPort}`;
    const login = await fetch(`${base}/api/v5/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const list = await fetch(`${base}/api/v5/clients`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { data: { clientid: string }[] };
    expect(body.data.map((x) => x.clientid)).toContain(clientId);
    const wrong = await fetch(`${base}/api/v5/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'public' }) });
    expect(wrong.status).toBe(401);
  });

  it('outpostctl finds the foreground daemon from its working directory and through the runtime pointer', async () => {
    const s = running[0]!;
    const password = readFileSync(join(dataDir, 'initial-admin-password'), 'utf8').trim();
    // From the directory npm start ran the daemon for (./data), with the printed login.
    const here = await ctl(['--login', 'admin', '--login-password', password, 'clients', 'list'], work);
    expect(here.code, here.stderr).toBe(0);
    expect(here.stdout).toContain(clientId);
    // From inside the data dir, with the local key found there.
    const inside = await ctl(['status'], dataDir);
    expect(inside.code, inside.stderr).toBe(0);
    // From elsewhere: the pointer this user's daemon wrote.
    const elsewhere = await ctl(['--json', 'clients', 'list'], scratch);
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(elsewhere.stdout))).toContain(clientId);
    await stop(s);
    running.pop();
    await until(() => !existsSync(join(runtimeDir, `outpost-${process.getuid!()}.json`)), 5_000, 'pointer removed at stop');
  });

  it('a second start prints no password: the admin exists', async () => {
    const s = await npmStart();
    running.push(s);
    // The line would come before READY; outpost_ready is logged after it.
    await until(() => s.out().includes('outpost_ready'), 5_000, 'outpost_ready');
    expect(s.err()).not.toMatch(/created API user/);
    await stop(s);
    running.pop();
  });
});
