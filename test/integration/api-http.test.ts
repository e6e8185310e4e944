// The HTTP API of the real daemon over real HTTP, with real MQTT.js clients on the other side:
// what the API reports and does is what MQTT clients see (src/broker/SPEC.md §9).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';
import { parsePrometheusText, sampleValue } from '../unit/admin/prom-text.js';

let d: Daemon;
let base: string;
const auth = { authorization: 'Basic ' + Buffer.from('ops:ops-secret').toString('base64') };
const clients: TestClient[] = [];

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-api-'));
  writeFileSync(join(dataDir, 'keys'), 'ops:ops-secret\nlook:look-secret:viewer\n');
  d = await startDaemon({ dataDir, config: `[api]\nport = 0\napi_key_bootstrap_file = "${join(dataDir, 'keys')}"\n` });
  const port = d.ports['api:http'];
  if (!port) throw new Error(`runtime.json has no api:http port: ${JSON.stringify(d.ports)}`);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // text endpoints
  }
  return { status: res.status, json, text, headers: res.headers };
}

async function client(opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { clientId: uid('api'), ...opts });
  clients.push(c);
  return c;
}

describe('HTTP API against the daemon', () => {
  it('GET /status is unauthenticated text; everything else needs credentials', async () => {
    const s = await api('GET', '/status', undefined, {});
    expect(s.status).toBe(200);
    expect(s.text).toMatch(/^Node outpost@127\.0\.0\.1 is started\noutpost is running$/);
    const anon = await api('GET', '/api/v5/clients', undefined, {});
    expect(anon.status).toBe(401);
    expect(anon.json.code).toBe('BAD_USERNAME_OR_PWD');
    const viewer = { authorization: 'Basic ' + Buffer.from('look:look-secret').toString('base64') };
    expect((await api('GET', '/api/v5/clients', undefined, viewer)).status).toBe(200);
    expect((await api('POST', '/api/v5/publish', { topic: 'x', payload: 'y' }, viewer)).status).toBe(403);
  });

  it('lists a connected MQTT client with EMQX fields, then kicks it (204) and 404s it', async () => {
    const c = await client({ protocolVersion: 5, username: 'alice' });
    const id = c.c.options.clientId!;
    const list = await api('GET', `/api/v5/clients?username=alice&limit=10`);
    expect(list.status).toBe(200);
    expect(list.json.meta).toMatchObject({ page: 1, limit: 10, count: 1, hasnext: false });
    expect(list.json.data[0]).toMatchObject({ clientid: id, username: 'alice', proto_ver: 5, connected: true, ip_address: '127.0.0.1' });
    const one = await api('GET', `/api/v5/clients/${encodeURIComponent(id)}`);
    expect(one.json.clientid).toBe(id);
    const closed = new Promise<void>((r) => c.c.once('close', () => r()));
    expect((await api('DELETE', `/api/v5/clients/${encodeURIComponent(id)}`)).status).toBe(204);
    await withTimeout(closed, 5000, 'kicked client to be disconnected');
    const gone = await api('GET', `/api/v5/clients/${encodeURIComponent(id)}`);
    expect(gone.status).toBe(404);
    expect(gone.json).toEqual({ code: 'CLIENTID_NOT_FOUND', message: 'Client ID not found' });
  });

  it('POST /publish reaches an MQTT subscriber (200) and answers 202 with nobody subscribed', async () => {
    const sub = await client();
    await sub.sub('api/pub/+', { qos: 1 });
    const r = await api('POST', '/api/v5/publish', { topic: 'api/pub/1', payload: 'hello', qos: 1 });
    expect(r.status).toBe(200);
    expect(r.json.id).toMatch(/^[0-9A-F]{32}$/);
    const [m] = await sub.waitMessages(1, 5000);
    expect(m!.topic).toBe('api/pub/1');
    expect(m!.text).toBe('hello');
    const none = await api('POST', '/api/v5/publish', { topic: 'api/nobody', payload: 'x' });
    expect(none.status).toBe(202);
    expect(none.json.reason_code).toBe(16);
    const bad = await api('POST', '/api/v5/publish', { topic: 'api/+', payload: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json.reason_code).toBe(144);
  });

  it('subscribes a client via the API and the client then receives', async () => {
    const c = await client({ clean: false, protocolVersion: 4 });
    const id = c.c.options.clientId!;
    const s = await api('POST', `/api/v5/clients/${encodeURIComponent(id)}/subscribe`, { topic: 'api/forced/#', qos: 1 });
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ topic: 'api/forced/#', qos: 1, clientid: id });
    const subs = await api('GET', `/api/v5/subscriptions?clientid=${encodeURIComponent(id)}`);
    expect(subs.json.data.map((x: { topic: string }) => x.topic)).toEqual(['api/forced/#']);
    expect((await api('GET', '/api/v5/topics?topic=api/forced/%23')).json.data).toEqual([{ topic: 'api/forced/#', node: 'outpost@127.0.0.1' }]);
    await api('POST', '/api/v5/publish', { topic: 'api/forced/x', payload: 'pushed' });
    const [m] = await c.waitMessages(1, 5000);
    expect(m!.text).toBe('pushed');
    expect((await api('POST', `/api/v5/clients/${encodeURIComponent(id)}/unsubscribe`, { topic: 'api/forced/#' })).status).toBe(204);
    expect((await api('GET', `/api/v5/clients/${encodeURIComponent(id)}/subscriptions`)).json).toEqual([]);
  });

  it('lists, reads and deletes retained messages; a new subscriber then gets none', async () => {
    const pub = await client();
    await pub.pub('api/ret/1', 'kept', { qos: 1, retain: true });
    const list = await api('GET', '/api/v5/mqtt/retainer/messages?topic=api/ret/%23');
    expect(list.json.meta.count).toBe(1);
    expect(list.json.data[0]).toMatchObject({ topic: 'api/ret/1', qos: 1, from_clientid: pub.c.options.clientId });
    const one = await api('GET', '/api/v5/mqtt/retainer/message/api%2Fret%2F1');
    expect(Buffer.from(one.json.payload, 'base64').toString()).toBe('kept');
    expect((await api('DELETE', '/api/v5/mqtt/retainer/message/api%2Fret%2F1')).status).toBe(204);
    const late = await client();
    await late.sub('api/ret/#');
    await new Promise((r) => setTimeout(r, 300));
    expect(late.msgs).toEqual([]);
  });

  it('stats and metrics follow what clients do', async () => {
    const before = (await api('GET', '/api/v5/metrics?aggregate=true')).json['messages.received'];
    const c = await client();
    await c.pub('api/count', 'x', { qos: 1 });
    const after = (await api('GET', '/api/v5/metrics?aggregate=true')).json['messages.received'];
    expect(after).toBeGreaterThan(before);
    const stats = (await api('GET', '/api/v5/stats?aggregate=true')).json;
    expect(stats['connections.count']).toBeGreaterThanOrEqual(1);
    const [node] = (await api('GET', '/api/v5/nodes')).json;
    expect(node).toMatchObject({ node: 'outpost@127.0.0.1', node_status: 'running' });
  });

  it('serves a Prometheus scrape that parses and carries broker, store and process metrics', async () => {
    const c = await client();
    await c.pub('api/prom', 'x', { qos: 1 });
    const r = await api('GET', '/api/v5/prometheus/stats', undefined, {});
    expect(r.status).toBe(200);
    const fam = parsePrometheusText(r.text);
    expect(sampleValue(fam, 'emqx_messages_received')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(fam, 'emqx_connections_count')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(fam, 'outpost_store_size_bytes')).toBeGreaterThan(0);
    expect(sampleValue(fam, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(fam.has('nodejs_eventloop_lag_seconds')).toBe(true);
    const root = await api('GET', '/metrics', undefined, {});
    expect(parsePrometheusText(root.text).has('emqx_messages_received')).toBe(true);
  });

  it('logs in a dashboard user whose password outpostctl admin passwd set', async () => {
    const set = spawnSync(process.execPath, [join(ROOT, 'bin/outpostctl.js'), '--data-dir', d.dataDir, 'admin', 'passwd', 'admin', '--password-stdin'], {
      input: 'a long enough password\n',
      encoding: 'utf8',
    });
    expect(set.status, set.stderr).toBe(0);
    const bad = await api('POST', '/api/v5/login', { username: 'admin', password: 'nope' }, {});
    expect(bad.status).toBe(401);
    const ok = await api('POST', '/api/v5/login', { username: 'admin', password: 'a long enough password' }, {});
    expect(ok.status).toBe(200);
    const r = await api('GET', '/api/v5/nodes', undefined, { authorization: `Bearer ${ok.json.token}` });
    expect(r.status).toBe(200);
  });

  it('answers errors as {code, message}', async () => {
    const nf = await api('GET', '/api/v5/does-not-exist');
    expect(nf.status).toBe(404);
    expect(nf.json.code).toBe('NOT_FOUND');
    const bad = await api('GET', '/api/v5/clients?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('BAD_REQUEST');
  });
});
