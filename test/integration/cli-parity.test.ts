// outpostctl's `emqx ctl` parity commands (issue 22) on the real daemon: topics list|show,
// subscriptions show, broker [stats|metrics], retainer clean, listeners stop|start|restart,
// api_keys, admins, log set-level, gateway client lookup/kick and alarms, with --json and the exit
// codes (0 ok, 1 error, 2 usage).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAdminPassword } from '../../src/admin/credentials.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';
import { SnClient } from '../helpers/mqttsn-client.js';
import { outpostctl, type CtlRun } from '../helpers/outpostctl.js';

let d: Daemon;
let url: string;
const clients: TestClient[] = [];
const devices: SnClient[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'outpost-cli-parity-'));

type Run = CtlRun;

/** outpostctl with a bounded time and no OUTPOST_* from the environment. */
const ctl = (args: string[], input = ''): Promise<Run> => outpostctl(args, { input });
/** Against the test daemon through its data dir (runtime.json and the local key). */
const run = (...args: string[]) => ctl(['--data-dir', d.dataDir, ...args]);

function mqttUrl(): string {
  const p = (JSON.parse(readFileSync(join(d.dataDir, 'runtime.json'), 'utf8')) as { listeners: Record<string, number> }).listeners['mqtt:tcp'];
  return `mqtt://127.0.0.1:${p ?? d.mqttPort}`;
}

async function client(opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(mqttUrl(), { clientId: uid('par'), ...opts });
  clients.push(c);
  return c;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-cli-parity-data-'));
  await setAdminPassword(dataDir, 'admin', 'admin password 1');
  d = await startDaemon({
    dataDir,
    config: [
      '[api]',
      'port = 0',
      // Every file system has less free space than this: store_near_full is raised at the first check.
      '[sysmon.disk]',
      'check_interval = 1',
      'free_low_watermark = 9007199254740991',
      '[gateway.mqttsn]',
      'enable = true',
      '[gateway.mqttsn.listeners.udp.default]',
      'bind = "127.0.0.1"',
      'port = 0',
      '',
    ].join('\n'),
  });
  url = `http://127.0.0.1:${d.ports['api:http']}`;
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  for (const s of devices) await s.close().catch(() => undefined);
  await d?.stop();
  d?.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

describe('emqx ctl data-plane forms', () => {
  it('topics list and topics show print `topic -> node`; an unknown topic exits 1', async () => {
    const c = await client();
    await c.sub('par/topic/+', { qos: 0 });
    const list = await run('topics', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('par/topic/+ -> outpost@127.0.0.1\n');
    const show = await run('topics', 'show', 'par/topic/+');
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toBe('par/topic/+ -> outpost@127.0.0.1\n');
    const json = await run('--json', 'topics', 'show', 'par/topic/+');
    expect(JSON.parse(json.stdout)).toEqual([{ topic: 'par/topic/+', node: 'outpost@127.0.0.1' }]);
    const none = await run('topics', 'show', 'par/none');
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
  });

  it("subscriptions show lists one client's subscriptions in the emqx ctl line", async () => {
    const c = await client();
    const id = c.c.options.clientId!;
    await c.sub('par/subs/a', { qos: 1 });
    await c.sub('par/subs/b', { qos: 2 });
    const r = await run('subscriptions', 'show', id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([`${id} -> topic:par/subs/a qos:1 nl:0 rh:0 rap:0`, `${id} -> topic:par/subs/b qos:2 nl:0 rh:0 rap:0`]);
    const json = JSON.parse((await run('--json', 'subscriptions', 'show', id)).stdout) as { topic: string }[];
    expect(json.map((s) => s.topic).sort()).toEqual(['par/subs/a', 'par/subs/b']);
    const missing = await run('subscriptions', 'show', 'no-such-client');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/CLIENTID_NOT_FOUND/);
  });

  it('broker, broker stats and broker metrics print `name : value` lines as emqx ctl does', async () => {
    const info = await run('broker');
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^sysdescr  : Outpost.*\nversion   : \S+\ndatetime  : \S+\nuptime    : .*seconds\n$/);
    const stats = await run('broker', 'stats');
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(/^connections\.count {13}: \d+$/m);
    for (const line of stats.stdout.trim().split('\n')) expect(line).toMatch(/^\S+ *: \d+$/);
    const metrics = await run('broker', 'metrics');
    expect(metrics.stdout).toMatch(/^bytes\.received {16}: \d+$/m);
    const json = JSON.parse((await run('--json', 'broker', 'metrics')).stdout) as Record<string, number>;
    expect(typeof json['bytes.received']).toBe('number');
    // The top-level forms stay for existing scripts.
    expect((await run('stats')).stdout).toMatch(/^connections\.count {13}: \d+$/m);
  });

  it('retainer clean deletes the retained messages under a filter, then all of them', async () => {
    const c = await client();
    for (const t of ['par/ret/1', 'par/ret/2', 'par/keep/1']) await c.pub(t, 'x', { qos: 1, retain: true });
    const some = await run('retainer', 'clean', 'par/ret/#');
    expect(some.code, some.stderr).toBe(0);
    expect(some.stdout).toBe('Cleaned 2 retained messages.\n');
    expect((await run('retained', 'list', '--topic', 'par/#')).stdout).toMatch(/^Number of retained messages: 1\n.*par\/keep\/1/s);
    const all = await run('--json', 'retainer', 'clean');
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).deleted).toBeGreaterThanOrEqual(1);
    expect((await run('retained', 'list', '--topic', 'par/#')).stdout).toBe('Number of retained messages: 0\n');
    expect((await run('retainer', 'info')).stdout).toMatch(/^Number of retained messages: \d+\n$/);
  });
});

describe('emqx ctl management forms', () => {
  it('gateways lookup shows an MQTT-SN client; gateways kick disconnects it; then lookup exits 1', async () => {
    const dev = await SnClient.udp(d.ports['mqttsn:udp:default']!);
    devices.push(dev);
    const id = uid('sn');
    expect(await dev.connect(id)).toBe(0);
    const look = await run('gateways', 'lookup', 'mqttsn', id);
    expect(look.code, look.stderr).toBe(0);
    expect(look.stdout).toMatch(new RegExp(`^Client\\(${id}, username=\\S+, peername=127\\.0\\.0\\.1:\\d+, .*connected=true`));
    expect(JSON.parse((await run('--json', 'gateways', 'lookup', 'mqttsn', id)).stdout).clientid).toBe(id);
    const kick = await run('gateways', 'kick', 'mqttsn', id);
    expect(kick.code, kick.stderr).toBe(0);
    expect(kick.stdout).toBe('ok\n');
    await dev.next('disconnect');
    expect((await run('gateways', 'lookup', 'mqttsn', id)).code).toBe(1);
    expect((await run('gateways', 'kick', 'no-such-gateway', id)).code).toBe(1);
  });

  it('alarms list shows active alarms, and --deactivated the cleared ones', async () => {
    let active: Run = await run('alarms', 'list');
    for (let i = 0; i < 50 && !active.stdout.includes('store_near_full'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      active = await run('alarms', 'list');
    }
    expect(active.code, active.stderr).toBe(0);
    expect(active.stdout).toMatch(/^NAME\s+ACTIVATED_AT\s+DURATION\s+MESSAGE\n/);
    expect(active.stdout).toMatch(/store_near_full\s+\d{4}-\d\d-\d\dT\S+\s+/);
    const key = readFileSync(join(d.dataDir, 'api-local.key'), 'utf8').trim().split(':');
    const res = await fetch(`${url}/api/v5/alarms/force_deactivate`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${key[0]}:${key[1]}`).toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'store_near_full' }),
    });
    expect(res.status).toBe(204);
    const gone = await run('alarms', 'list', '--deactivated');
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toMatch(/^NAME\s+ACTIVATED_AT\s+DEACTIVATED_AT\s+DURATION\s+MESSAGE\n/);
    expect(gone.stdout).toContain('store_near_full');
    const json = JSON.parse((await run('--json', 'alarms', 'list', '--deactivated')).stdout) as { data: { name: string; deactivate_at: string }[] };
    expect(json.data.find((a) => a.name === 'store_near_full')?.deactivate_at).toMatch(/^\d{4}-/);
  });

  it('api_keys add prints the secret once, the key works, list shows it, del revokes it', async () => {
    const add = await run('api_keys', 'add', 'parkey', '--role', 'viewer', '--desc', 'cli test');
    expect(add.code, add.stderr).toBe(0);
    const [, apiKey, secret] = /^api_key: (\S+)\napi_secret: (\S+)\n/.exec(add.stdout) ?? [];
    expect(apiKey && secret).toBeTruthy();
    const withKey = (...args: string[]) => ctl(['--url', url, '--api-key', apiKey!, '--api-secret', secret!, ...args]);
    expect((await withKey('clients', 'list')).code).toBe(0);
    // As in EMQX, an API key cannot manage API keys.
    expect((await withKey('api_keys', 'list')).code).toBe(1);
    const list = await run('api_keys', 'list');
    expect(list.stdout).toMatch(new RegExp(`^parkey\\s+${apiKey}\\s+viewer\\s+true\\s+infinity\\s+cli test$`, 'm'));
    expect(JSON.parse((await run('--json', 'api_keys', 'list')).stdout).find((k: { name: string }) => k.name === 'parkey').role).toBe('viewer');
    expect((await run('api_keys', 'add', 'parkey')).code).toBe(1);
    expect((await run('api_keys', 'add', 'other', '--expires', 'soon')).code).toBe(2);
    expect((await run('api_keys', 'del', 'parkey')).stdout).toBe('ok\n');
    expect((await withKey('clients', 'list')).code).toBe(1);
    expect((await run('api_keys', 'del', 'parkey')).code).toBe(1);
  });

  it('admins add / passwd / del manage dashboard logins in the data dir', async () => {
    const login = (user: string, pw: string) => ctl(['--url', url, '--data-dir', scratch, '--login', user, '--login-password', pw, 'listeners']);
    const add = await run('admins', 'add', 'ops2', '--password-stdin');
    // stdin is empty here: a short password is a usage error.
    expect(add.code).toBe(2);
    const added = await ctl(['--data-dir', d.dataDir, 'admins', 'add', 'ops2', '--password-stdin'], 'ops2 password 1\n');
    expect(added.code, added.stderr).toBe(0);
    expect((await login('ops2', 'ops2 password 1')).code).toBe(0);
    const again = await ctl(['--data-dir', d.dataDir, 'admins', 'add', 'ops2', '--password-stdin'], 'ops2 password 1\n');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    expect((await run('admins', 'list')).stdout).toBe('admin\nops2\n');
    const pw = await ctl(['--data-dir', d.dataDir, 'admins', 'passwd', 'ops2', '--password-stdin'], 'ops2 password 2\n');
    expect(pw.code, pw.stderr).toBe(0);
    expect((await login('ops2', 'ops2 password 1')).code).toBe(1);
    expect((await login('ops2', 'ops2 password 2')).code).toBe(0);
    expect((await run('admins', 'del', 'ops2')).stdout).toBe('ok\n');
    expect((await login('ops2', 'ops2 password 2')).code).toBe(1);
    expect((await run('admins', 'del', 'ops2')).code).toBe(1);
    // EMQX's form: password and description as arguments; passwd keeps the description.
    expect((await run('admins', 'add', 'ops3', 'ops3 password 1', 'night shift')).code).toBe(0);
    expect((await ctl(['--data-dir', d.dataDir, 'admins', 'passwd', 'ops3', '--password-stdin'], 'ops3 password 2\n')).code).toBe(0);
    expect((await run('admins', 'list')).stdout).toBe('admin\nops3  night shift\n');
    expect(JSON.parse((await run('--json', 'admins', 'list')).stdout)).toEqual([
      { username: 'admin', description: '' },
      { username: 'ops3', description: 'night shift' },
    ]);
    expect((await login('ops3', 'ops3 password 2')).code).toBe(0);
    expect((await run('admins', 'del', 'ops3')).code).toBe(0);
    const last = await run('admins', 'del', 'admin');
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/last dashboard user/);
  });

  it('log set-level changes the running daemon\'s level; a bad level is a usage error', async () => {
    const warn = await run('log', 'set-level', 'warning');
    expect(warn.code, warn.stderr).toBe(0);
    expect(warn.stdout).toBe('warning\n');
    // api_key_created is an info line: not written at warning, written again at info.
    const created = () => d.logs().split('api_key_created').length - 1;
    const before = created();
    expect((await run('api_keys', 'add', 'quietkey')).code).toBe(0);
    const info = await run('--json', 'log', 'set-level', 'info');
    expect(JSON.parse(info.stdout)).toEqual({ level: 'info' });
    expect((await run('api_keys', 'add', 'loudkey')).code).toBe(0);
    await until(() => created() > before, 5000, 'the info line after set-level info');
    expect(created()).toBe(before + 1);
    expect((await run('log', 'set-level', 'chatty')).code).toBe(2);
    const key = readFileSync(join(d.dataDir, 'api-local.key'), 'utf8').trim().split(':');
    const bad = await fetch(`${url}/api/v5/log`, {
      method: 'PUT',
      headers: { authorization: 'Basic ' + Buffer.from(`${key[0]}:${key[1]}`).toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify({ level: 'chatty' }),
    });
    expect(bad.status).toBe(400);
  });

  // Last: it stops the MQTT listener the other cases use.
  it('listeners stop / start / restart the MQTT listener; an unknown id exits 1', async () => {
    const c = await client();
    const closed = new Promise<void>((r) => c.c.once('close', () => r()));
    const stop = await run('listeners', 'stop', 'tcp:default');
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toBe('Stop tcp:default listener successfully.\n');
    const down = JSON.parse((await run('--json', 'listeners')).stdout) as { id: string; running: boolean }[];
    expect(down.find((l) => l.id === 'tcp:default')?.running).toBe(false);
    await withTimeout(closed, 10_000, 'the stopped listener to close its connections');
    const start = await run('listeners', 'start', 'tcp:default');
    expect(start.stdout).toBe('Started tcp:default listener successfully.\n');
    expect((await run('listeners')).stdout).toMatch(/tcp:default\s+tcp\s+\S+\s+true/);
    await client();
    const restart = await run('listeners', 'restart', 'tcp:default');
    expect(restart.stdout).toBe('Restarted tcp:default listener successfully.\n');
    await client();
    const bad = await run('listeners', 'stop', 'tcp:nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/BAD_LISTENER_ID/);
  });
});
