// The real outpostctl (node bin/outpostctl.js, built into dist/) against the real daemon: output
// formats (emqx ctl where EMQX users script against them), --json, and exit codes scripts rely on
// (0 ok, 1 error, 2 usage, 3 daemon not reachable).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';
import { outpostctl, type CtlOptions, type CtlRun } from '../helpers/outpostctl.js';

let d: Daemon;
const clients: TestClient[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'outpost-cli-'));

type Run = CtlRun;

/** Run outpostctl with a bounded time; env is cleared of OUTPOST_* so only the args count. */
const ctl = (args: string[], opts: CtlOptions = {}): Promise<Run> => outpostctl(args, opts);
/** outpostctl against the test daemon, finding it and its local key through --data-dir. */
const run = (...args: string[]) => ctl(['--data-dir', d.dataDir, ...args]);

beforeAll(async () => {
  d = await startDaemon({ config: '[api]\nport = 0\n' });
  if (!d.ports['api:http']) throw new Error(`runtime.json has no api:http port: ${JSON.stringify(d.ports)}`);
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

async function client(opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { clientId: uid('cli'), ...opts });
  clients.push(c);
  return c;
}

describe('outpostctl against a running daemon', () => {
  it('status prints the emqx ctl line and exits 0', async () => {
    const r = await run('status');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Node 'outpost@127\.0\.0\.1' \S+ is started\n/);
    expect(r.stdout).toMatch(/connections : \d+/);
  });

  it('status works without credentials, for liveness checks', async () => {
    const r = await ctl(['--url', `http://127.0.0.1:${d.ports['api:http']}`, '--data-dir', scratch, 'status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Node 'outpost@127.0.0.1' is started\n");
  });

  it('clients list shows a table, clients show the Client(...) line, kick disconnects', async () => {
    const c = await client({ username: 'bob', keepalive: 42 });
    const id = c.c.options.clientId!;
    const list = await run('clients', 'list', '--username', 'bob');
    expect(list.code, list.stderr).toBe(0);
    const [header, row] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^CLIENTID\s+USERNAME\s+PEER\s+PROTOCOL\s+CONNECTED/);
    expect(row).toMatch(new RegExp(`^${id}\\s+bob\\s+127\\.0\\.0\\.1:\\d+\\s+mqtt/4\\s+true`));
    const show = await run('clients', 'show', id);
    expect(show.stdout.trim()).toMatch(new RegExp(`^Client\\(${id}, username=bob, peername=127\\.0\\.0\\.1:\\d+, clean_start=true, keepalive=42, session_expiry_interval=0, subscriptions=0, .*connected=true, created_at=\\d+, connected_at=\\d+\\)$`));
    const closed = new Promise<void>((r) => c.c.once('close', () => r()));
    const kick = await run('clients', 'kick', id);
    expect(kick.code).toBe(0);
    expect(kick.stdout).toBe('ok\n');
    await withTimeout(closed, 5000, 'kicked client to close');
  });

  it('exits 1 with the API message for an unknown client', async () => {
    const r = await run('clients', 'show', 'no-such-client');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Client ID not found \(CLIENTID_NOT_FOUND\)/);
  });

  it('--json prints the API JSON for scripts', async () => {
    const c = await client({ username: 'jsonuser' });
    const r = await run('--json', 'clients', 'list', '--username', 'jsonuser');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(body.meta.count).toBe(1);
    expect(body.data[0].clientid).toBe(c.c.options.clientId);
  });

  it('subscriptions add / list / del and topics use the emqx ctl formats', async () => {
    const c = await client({ clean: false });
    const id = c.c.options.clientId!;
    expect((await run('subscriptions', 'add', id, 'cli/sub/#', '1')).stdout).toBe('ok\n');
    const list = await run('subscriptions', 'list', '--clientid', id);
    expect(list.stdout).toBe(`${id} -> topic:cli/sub/# qos:1 nl:0 rh:0 rap:0\n`);
    const topics = await run('topics');
    expect(topics.stdout).toContain('cli/sub/# -> outpost@127.0.0.1\n');
    expect((await run('subscriptions', 'del', id, 'cli/sub/#')).stdout).toBe('ok\n');
    expect((await run('subscriptions', 'list', '--clientid', id)).stdout).toBe('No subscriptions.\n');
  });

  it('publish reaches an MQTT subscriber; retained list and delete work', async () => {
    const sub = await client();
    await sub.sub('cli/pub/#', { qos: 1 });
    const r = await run('publish', 'cli/pub/1', 'from-cli', '--qos', '1', '--retain');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok \(id [0-9A-F]{32}\)\n$/);
    const [m] = await sub.waitMessages(1, 5000);
    expect(m!.text).toBe('from-cli');
    const list = await run('retained', 'list', '--topic', 'cli/pub/#');
    expect(list.stdout).toMatch(/^Number of retained messages: 1\nTOPIC\s+QOS\s+FROM\s+PUBLISHED\ncli\/pub\/1\s+1\s+/);
    expect((await run('retained', 'show', 'cli/pub/1')).stdout).toContain('payload: from-cli');
    expect((await run('retained', 'delete', 'cli/pub/1')).stdout).toBe('ok\n');
    expect((await run('retained', 'list', '--topic', 'cli/pub/#')).stdout).toBe('Number of retained messages: 0\n');
    expect((await run('retained', 'delete', 'cli/pub/1')).code).toBe(1);
  });

  it('listeners shows the MQTT listener with its bound port', async () => {
    const r = await run('listeners');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`tcp:default\\s+tcp\\s+127\\.0\\.0\\.1:${d.mqttPort}\\s+true`));
  });

  it('trace start / log / stop records a client\'s publishes', async () => {
    const c = await client();
    const id = c.c.options.clientId!;
    const start = await run('trace', 'start', 'clitrace', 'client', id, '--duration', '2m');
    expect(start.code, start.stderr).toBe(0);
    await c.pub('cli/traced', 'payload-x', { qos: 1 });
    const log = await run('trace', 'log', 'clitrace');
    expect(log.stdout).toMatch(new RegExp(`${id}.*msg: publish, topic: cli/traced`));
    expect((await run('trace', 'stop', 'clitrace')).code).toBe(0);
    expect((await run('trace', 'list')).stdout).toMatch(/clitrace\s+clientid\s+\S+\s+stopped/);
    expect((await run('trace', 'delete', 'clitrace')).code).toBe(0);
  });

  it('reload answers ok', async () => {
    const r = await run('reload');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok\n');
  });

  it('logs in as a dashboard user with --login/--login-password or the environment', async () => {
    const set = await ctl(['--data-dir', d.dataDir, 'admin', 'passwd', 'ops', '--password-stdin'], { input: 'ops password 1\n' });
    expect(set.code, set.stderr).toBe(0);
    const url = `http://127.0.0.1:${d.ports['api:http']}`;
    const r = await ctl(['--url', url, '--data-dir', scratch, '--login', 'ops', '--login-password', 'ops password 1', 'listeners']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+TYPE/);
    const env = await ctl(['--url', url, '--data-dir', scratch, 'listeners'], { env: { OUTPOST_API_USERNAME: 'ops', OUTPOST_API_PASSWORD: 'ops password 1' } });
    expect(env.code, env.stderr).toBe(0);
    const bad = await ctl(['--url', url, '--data-dir', scratch, '--login', 'ops', '--login-password', 'nope', 'listeners']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Auth failed \(BAD_USERNAME_OR_PWD\)/);
  });

  it('refuses wrong credentials with exit 1 and says why', async () => {
    const r = await ctl(['--url', `http://127.0.0.1:${d.ports['api:http']}`, '--api-key', 'x', '--api-secret', 'y', 'clients', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused these credentials/);
    const none = await ctl(['--url', `http://127.0.0.1:${d.ports['api:http']}`, '--data-dir', scratch, 'clients', 'list']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/No credentials found/);
  });
});

describe('outpostctl without a daemon', () => {
  it('exits 3 with a helpful message when the daemon is not running', async () => {
    const dead = await startDaemon({ config: '[api]\nport = 0\n' });
    const port = dead.ports['api:http']!;
    await dead.stop();
    dead.cleanup();
    const r = await ctl(['--url', `http://127.0.0.1:${port}`, '--api-key', 'k', '--api-secret', 's', 'clients', 'list']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach the Outpost daemon at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(r.stderr).toMatch(/systemctl status outpost/);
  });

  it('exits 2 on usage errors', async () => {
    expect((await ctl(['no-such-command'])).code).toBe(2);
    expect((await ctl(['clients', 'show'])).code).toBe(2);
    expect((await ctl(['--url', 'http://127.0.0.1:1', 'publish', 't', 'x', '--qos', '5'])).code).toBe(2);
    const help = await ctl(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: outpostctl/);
  });

  it('config check validates a file without a daemon and names the bad keys', async () => {
    const good = join(scratch, 'good.toml');
    writeFileSync(good, '[mqtt]\nport = 1884\n[api]\nbind = "0.0.0.0"\n');
    const ok = await ctl(['config', 'check', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${good}: OK\n`);
    const bad = join(scratch, 'bad.toml');
    writeFileSync(bad, '[mqtt]\nport = "x"\nbogus = 1\n[api]\nauth = false\nbind = "0.0.0.0"\n');
    const r = await ctl(['config', 'check', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mqtt\.port: /);
    expect(r.stderr).toMatch(/mqtt\.bogus: unknown key/);
    expect(r.stderr).toMatch(/api\.auth: auth = false is only allowed with a loopback bind/);
    const json = await ctl(['--json', 'config', 'check', bad]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).issues.map((i: { path: string }) => i.path)).toContain('mqtt.port');
    expect((await ctl(['config', 'check', join(scratch, 'missing.toml')])).code).toBe(1);
  });

  it('admin passwd writes a bcrypt hash and rejects short passwords with exit 2', async () => {
    const dir = join(scratch, 'data');
    const r = await ctl(['--data-dir', dir, 'admin', 'passwd', '--password-stdin'], { input: 'long enough secret\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('password for admin set\n');
    const short = await ctl(['--data-dir', dir, 'admin', 'passwd', '--password-stdin'], { input: 'short\n' });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 8 characters/);
    const noTty = await ctl(['--data-dir', dir, 'admin', 'passwd']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/--password-stdin/);
  });
});
