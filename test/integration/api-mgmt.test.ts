// The management endpoints of issue 22 on the real daemon over real HTTP and MQTT: alarms raised by
// a sysmon check and seen on $SYS and /alarms, /monitor, /configs with secrets hidden, listener and
// gateway shapes, API keys that survive a restart, ACL rules that apply at once, trace download.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAdminPassword } from '../../src/admin/credentials.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, until, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let base: string;
let bearer: Record<string, string>;
const auth = { authorization: 'Basic ' + Buffer.from('ops:ops-secret').toString('base64') };
const clients: TestClient[] = [];

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-api-mgmt-'));
  writeFileSync(join(dataDir, 'keys'), 'ops:ops-secret\n');
  await setAdminPassword(dataDir, 'admin', 'correct-horse');
  d = await startDaemon({
    dataDir,
    config: [
      '[api]',
      'port = 0',
      `api_key_bootstrap_file = "${join(dataDir, 'keys')}"`,
      // Every file system has less free space than this: store_near_full is raised at the first check.
      '[sysmon.disk]',
      'check_interval = 1',
      'free_low_watermark = 9007199254740991',
      '[listeners.ssl.default]',
      'enable = false',
      'ssl_options.password = "hunter2"',
      '',
    ].join('\n'),
  });
  base = `http://127.0.0.1:${d.ports['api:http']}`;
  const login = await api('POST', '/api/v5/login', { username: 'admin', password: 'correct-horse' }, {});
  bearer = { authorization: `Bearer ${login.json.token}` };
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number; json: any; text: string; headers: Headers; bytes: Buffer }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // text endpoints
  }
  return { status: res.status, json, text, headers: res.headers, bytes };
}

/** The MQTT port from runtime.json: it changes when the listener is restarted on port 0. */
function mqttUrl(): string {
  const p = (JSON.parse(readFileSync(join(d.dataDir, 'runtime.json'), 'utf8')) as { listeners: Record<string, number> }).listeners['mqtt:tcp'];
  return `mqtt://127.0.0.1:${p ?? d.mqttPort}`;
}

async function client(opts: Parameters<typeof connectClient>[1] = {}, url = mqttUrl()): Promise<TestClient> {
  const c = await connectClient(url, { clientId: uid('mgmt'), ...opts });
  clients.push(c);
  return c;
}

describe('alarms on the real daemon', () => {
  it('a sysmon check raises store_near_full: on $SYS in EMQX payload shape and in GET /alarms; force_deactivate clears it', async () => {
    const mon = await client({ protocolVersion: 5 });
    await mon.sub('$SYS/brokers/+/alarms/+');
    const [m] = await mon.waitMessages(1, 5000, (x) => x.topic.endsWith('/alarms/activate') && x.text.includes('store_near_full'));
    const body = JSON.parse(m!.text);
    expect(body).toMatchObject({ name: 'store_near_full', activated: true, deactivate_at: 'infinity' });
    expect(typeof body.activate_at).toBe('number');
    // EMQX's $SYS alarm times are microseconds.
    expect(Math.abs(body.activate_at / 1000 - Date.now())).toBeLessThan(60_000);
    expect(body.details).toMatchObject({ free_low_watermark: 9007199254740991 });

    const list = await api('GET', '/api/v5/alarms');
    expect(list.status).toBe(200);
    const a = list.json.data.find((x: { name: string }) => x.name === 'store_near_full');
    expect(Object.keys(a).sort()).toEqual(['activate_at', 'details', 'duration', 'message', 'name', 'node']);
    expect(list.json.meta).toMatchObject({ page: 1, limit: 100, hasnext: false });

    expect((await api('POST', '/api/v5/alarms/force_deactivate', { name: 'store_near_full' })).status).toBe(204);
    const off = await mon.waitMessages(1, 5000, (x) => x.topic.endsWith('/alarms/deactivate') && x.text.includes('store_near_full'));
    expect(JSON.parse(off[0]!.text)).toMatchObject({ name: 'store_near_full', activated: false });
    const gone = (await api('GET', '/api/v5/alarms?activated=false')).json.data;
    expect(gone[0]).toMatchObject({ name: 'store_near_full' });
    expect(gone[0].deactivate_at).toMatch(/Z$/);
    expect((await api('DELETE', '/api/v5/alarms')).status).toBe(204);
    // The condition still holds, so the next check raises it again.
    await until(() => mon.msgs.filter((x) => x.topic.endsWith('/alarms/activate') && x.text.includes('store_near_full')).length >= 2, 5000, 'store_near_full raised again');
  });
});

describe('monitor, configs, listeners, gateways', () => {
  it('GET /monitor has a sample and /monitor_current the current counts', async () => {
    const c = await client();
    await c.pub('m/1', 'x', { qos: 1 });
    const mon = await api('GET', '/api/v5/monitor?latest=300');
    expect(mon.status).toBe(200);
    expect(mon.json.length).toBeGreaterThanOrEqual(1);
    expect(mon.json[0]).toHaveProperty('time_stamp');
    expect(mon.json[0]).toHaveProperty('received');
    const cur = (await api('GET', '/api/v5/monitor_current')).json;
    expect(cur.connections).toBeGreaterThanOrEqual(1);
    expect(typeof cur.received_msg_rate).toBe('number');
  });

  it('GET /configs shows the running config with secrets hidden', async () => {
    const text = await api('GET', '/api/v5/configs?key=sysmon');
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(text.text).toContain('free_low_watermark = 9007199254740991');
    const l = (await api('GET', '/api/v5/configs/listeners')).json;
    expect(l.ssl.default.ssl_options.password).toBe('******');
    expect(JSON.stringify((await api('GET', '/api/v5/configs', undefined, { ...auth, accept: 'application/json' })).json)).not.toContain('hunter2');
  });

  it('GET /listeners nests counts in status{}; /gateways lists unloaded ones', async () => {
    const ls = (await api('GET', '/api/v5/listeners')).json;
    const tcp = ls.find((l: { id: string }) => l.id === 'tcp:default');
    expect(tcp).toMatchObject({ type: 'tcp', name: 'default', enable: true, status: { running: true, max_connections: 'infinity' } });
    expect(tcp.status.current_connections).toBeGreaterThanOrEqual(1);
    expect(ls.find((l: { id: string }) => l.id === 'ssl:default')).toMatchObject({ enable: false, status: { running: false } });
    expect((await api('GET', '/api/v5/listeners/tcp:default')).json).toMatchObject({ id: 'tcp:default', running: true });
    expect((await api('POST', '/api/v5/listeners/tcp:nope/stop')).json.code).toBe('BAD_LISTENER_ID');
    const gws = (await api('GET', '/api/v5/gateways')).json;
    expect(gws.find((g: { name: string }) => g.name === 'coap')).toMatchObject({ name: 'coap', status: 'unloaded' });
  });
});

describe('listener actions', () => {
  it('stop closes the MQTT listener and its connections, start opens it again (new port with port 0), restart too', async () => {
    const c = await client();
    const closed = new Promise<void>((r) => c.c.once('close', () => r()));
    expect((await api('POST', '/api/v5/listeners/tcp:default/stop')).status).toBe(200);
    await closed;
    expect((await api('GET', '/api/v5/listeners/tcp:default')).json.status.running).toBe(false);
    await expect(connectClient(d.mqttUrl, { clientId: uid('refused') }, 1000)).rejects.toThrow();
    expect((await api('POST', '/api/v5/listeners/tcp:default/start')).status).toBe(200);
    const port = () => (JSON.parse(readFileSync(join(d.dataDir, 'runtime.json'), 'utf8')) as { listeners: Record<string, number> }).listeners['mqtt:tcp'];
    const c2 = await client({}, `mqtt://127.0.0.1:${port()}`);
    expect(c2.connack.returnCode ?? 0).toBe(0);
    expect((await api('POST', '/api/v5/listeners/tcp:default/restart')).status).toBe(200);
    await client({}, `mqtt://127.0.0.1:${port()}`);
    expect((await api('GET', '/api/v5/listeners/tcp:default')).json.status.running).toBe(true);
  });
});

describe('API keys, ACL rules and traces', () => {
  it('an API key made over /api_key works, and still works after a restart', async () => {
    const made = await api('POST', '/api/v5/api_key', { name: 'ci', role: 'viewer' }, bearer);
    expect(made.status).toBe(200);
    const key = { authorization: 'Basic ' + Buffer.from(`${made.json.api_key}:${made.json.api_secret}`).toString('base64') };
    expect((await api('GET', '/api/v5/clients', undefined, key)).status).toBe(200);
    expect((await api('GET', '/api/v5/api_key', undefined, auth)).status).toBe(403);
    for (const c of clients.splice(0)) await c.end(true).catch(() => undefined);
    await d.restart();
    base = `http://127.0.0.1:${d.ports['api:http']}`;
    expect((await api('GET', '/api/v5/clients', undefined, key)).status).toBe(200);
  });

  it('a built_in_database rule made over the API applies to the next publish', async () => {
    const c = await client({ protocolVersion: 5, username: 'alice' });
    const ok = (await c.pub('acl/x', 'a', { qos: 1 })) as { reasonCode?: number } | undefined;
    expect(ok?.reasonCode ?? 0).toBe(0);
    const post = await api('POST', '/api/v5/authorization/sources/built_in_database/rules/users', [{ username: 'alice', rules: [{ topic: 'acl/#', permission: 'deny', action: 'publish' }] }]);
    expect(post.status).toBe(204);
    // The decision cache holds the earlier allow for its ttl; a new topic is decided afresh.
    const denied = (await c.pub('acl/y', 'a', { qos: 1 }).catch((e: { code?: number }) => ({ reasonCode: e.code }))) as { reasonCode?: number } | undefined;
    expect(denied?.reasonCode).toBe(0x87);
    expect((await api('GET', '/api/v5/authorization/sources')).json.sources.map((s: { type: string }) => s.type)).toEqual(['built_in_database', 'file']);
  });

  it('GET /trace/:name/download returns a zip of the trace log', async () => {
    const id = uid('tr');
    expect((await api('POST', '/api/v5/trace', { name: 'dl', type: 'clientid', clientid: id })).status).toBe(200);
    const c = await client({ clientId: id });
    await c.pub('t/1', 'traced', { qos: 1 });
    // The trace writer flushes asynchronously: poll (bounded) until the publish is in the log.
    let files: Record<string, Uint8Array> = {};
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const dl = await api('GET', '/api/v5/trace/dl/download');
      if (dl.status === 200) {
        expect(dl.headers.get('content-type')).toBe('application/x-zip');
        files = unzipSync(new Uint8Array(dl.bytes));
        if (Buffer.from(Object.values(files)[0]!).toString().includes('traced')) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const [name] = Object.keys(files);
    expect(name).toMatch(/^outpost@127\.0\.0\.1-trace_dl_\d{4}-\d\d-\d\d\.log$/);
    expect(Buffer.from(files[name!]!).toString()).toContain('traced');
  });
});
