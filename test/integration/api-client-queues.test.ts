// EMQX 5's cursor-paged client APIs against the real daemon: a persistent session's offline queue
// (mqueue_messages), a connected client's unacknowledged deliveries (inflight_messages) and the
// client list walked by cursor (clients_v2). Shapes as emqx_mgmt_api_clients.erl answers them.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, until, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let base: string;
const auth = { authorization: 'Basic ' + Buffer.from('ops:ops-secret').toString('base64') };
const open: TestClient[] = [];
const raws: RawClient[] = [];

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-api-queues-'));
  writeFileSync(join(dataDir, 'keys'), 'ops:ops-secret\n');
  d = await startDaemon({ dataDir, config: `[api]\nport = 0\napi_key_bootstrap_file = "${join(dataDir, 'keys')}"\n` });
  const port = d.ports['api:http'];
  if (!port) throw new Error(`runtime.json has no api:http port: ${JSON.stringify(d.ports)}`);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of open) await c.end(true);
  for (const r of raws) r.destroy();
  await d?.stop();
  d?.cleanup();
});

async function get(path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, { headers: auth });
  return { status: res.status, json: await res.json() };
}

async function client(opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { clientId: uid('q'), ...opts });
  open.push(c);
  return c;
}

const text = (m: { payload: string }) => Buffer.from(m.payload, 'base64').toString();

/** outpostctl (built into dist/) against this daemon with the test API key. */
function ctl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [join(ROOT, 'bin/outpostctl.js'), '--url', base, '--api-key', 'ops', '--api-secret', 'ops-secret', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
      p.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    }),
    20_000,
    `outpostctl ${args.join(' ')}`,
  );
}

describe('client queue APIs against the daemon', () => {
  it('mqueue_messages lists an offline persistent session\'s queue in order, base64, paged by position', async () => {
    const id = uid('offline');
    const sub = await client({ clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } });
    await sub.sub('queues/offline/#', { qos: 1 });
    await sub.end();
    const pub = await client({ clientId: uid('pub'), protocolVersion: 5, username: 'publisher' });
    for (let i = 1; i <= 5; i++) await pub.pub(`queues/offline/${i}`, `msg-${i}`, { qos: 1 });

    const info = await get(`/api/v5/clients/${id}`);
    expect(info.json).toMatchObject({ connected: false, mqueue_len: 5 });
    const all = await get(`/api/v5/clients/${id}/mqueue_messages`);
    expect(all.status).toBe(200);
    expect(all.json.data.map(text)).toEqual(['msg-1', 'msg-2', 'msg-3', 'msg-4', 'msg-5']);
    expect(all.json.data[0]).toEqual({
      msgid: expect.stringMatching(/^[0-9A-F]{32}$/),
      topic: 'queues/offline/1',
      qos: 1,
      publish_at: expect.any(Number),
      from_clientid: pub.c.options.clientId,
      from_username: 'publisher',
      payload: Buffer.from('msg-1').toString('base64'),
      inserted_at: expect.stringMatching(/^\d+$/),
      mqueue_priority: 0,
    });
    const key = (m: { inserted_at: string }) => `${m.inserted_at}_0`;
    expect(all.json.meta).toEqual({ start: key(all.json.data[0]), position: key(all.json.data[4]) });

    const pages: string[][] = [];
    let position = 'none';
    for (;;) {
      const r = await get(`/api/v5/clients/${id}/mqueue_messages?limit=2&position=${position}`);
      if (r.json.data.length === 0) {
        expect(r.json.meta).toEqual({ start: all.json.meta.start, position });
        break;
      }
      expect(r.json.meta.start).toBe(all.json.meta.start);
      pages.push(r.json.data.map(text));
      position = r.json.meta.position;
    }
    expect(pages).toEqual([['msg-1', 'msg-2'], ['msg-3', 'msg-4'], ['msg-5']]);
    expect(position).toBe(all.json.meta.position);

    const plain = await get(`/api/v5/clients/${id}/mqueue_messages?payload=plain&limit=1`);
    expect(plain.json.data[0].payload).toBe('msg-1');
    const capped = await get(`/api/v5/clients/${id}/mqueue_messages?max_payload_bytes=1`);
    expect(capped.json.data.map(text)).toEqual(['msg-1']);
    expect(capped.json.meta.position).toBe(key(all.json.data[0]));

    // The queue is delivered (and emptied) when the session comes back.
    const back = await client({ clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } });
    await back.waitMessages(5);
    const drained = await get(`/api/v5/clients/${id}/mqueue_messages`);
    expect(drained.json).toEqual({ data: [], meta: { start: 'none', position: 'none' } });
  });

  it('inflight_messages lists deliveries a raw client has not acknowledged, until it does', async () => {
    const raw = new RawClient(d.mqttPort, 4);
    raws.push(raw);
    const id = uid('noack');
    await raw.connect({ clientId: id });
    expect(await raw.subscribe([{ topic: 'queues/inflight', qos: 1 }])).toEqual([1]);
    const pub = await client();
    for (let i = 1; i <= 3; i++) await pub.pub('queues/inflight', `in-${i}`, { qos: 1 });
    await until(() => raw.publishes().length >= 3, 3000, '3 PUBLISH to the raw client');

    const r = await get(`/api/v5/clients/${id}/inflight_messages`);
    expect(r.status).toBe(200);
    expect(r.json.data.map(text)).toEqual(['in-1', 'in-2', 'in-3']);
    expect(r.json.data[0]).toMatchObject({ topic: 'queues/inflight', qos: 1, from_clientid: pub.c.options.clientId });
    expect('mqueue_priority' in r.json.data[0]).toBe(false);
    expect(r.json.meta).toEqual({ start: r.json.data[0].inserted_at, position: r.json.data[2].inserted_at });
    const second = await get(`/api/v5/clients/${id}/inflight_messages?limit=2&position=${r.json.data[0].inserted_at}`);
    expect(second.json.data.map(text)).toEqual(['in-2', 'in-3']);

    const first = raw.publishes()[0]!;
    raw.send({ cmd: 'puback', messageId: first.messageId! });
    // The PUBACK travels on the MQTT socket, the query on HTTP: poll until the broker has it.
    let left: string[] = [];
    for (let i = 0; i < 60 && left.length !== 2; i++) {
      if (i > 0) await sleep(50);
      left = (await get(`/api/v5/clients/${id}/inflight_messages`)).json.data.map(text);
    }
    expect(left).toEqual(['in-2', 'in-3']);
    expect((await get(`/api/v5/clients/${id}`)).json.inflight_cnt).toBe(2);
  });

  it('both answer 404 CLIENTID_NOT_FOUND for an unknown client and 400 for a bad position', async () => {
    for (const kind of ['mqueue', 'inflight']) {
      const r = await get(`/api/v5/clients/${uid('nobody')}/${kind}_messages`);
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ code: 'CLIENTID_NOT_FOUND', message: 'Client ID not found' });
    }
    const c = await client();
    const bad = await get(`/api/v5/clients/${c.c.options.clientId}/mqueue_messages?position=oops`);
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ code: 'INVALID_PARAMETER', message: 'position_limit_invalid' });
  });

  it('clients_v2 walks 5 clients two at a time by cursor until no cursor is returned', async () => {
    const prefix = uid('v2');
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const c = await client({ clientId: `${prefix}-${i}` });
      ids.push(c.c.options.clientId!);
    }
    const seen: string[] = [];
    const counts: number[] = [];
    let url = `/api/v5/clients_v2?like_clientid=${prefix}&limit=2`;
    for (let guard = 0; guard < 10; guard++) {
      const r = await get(url);
      expect(r.status).toBe(200);
      seen.push(...r.json.data.map((c: { clientid: string }) => c.clientid));
      counts.push(r.json.meta.count);
      expect(r.json.data[0]).toMatchObject({ connected: true, proto_name: 'MQTT', ip_address: '127.0.0.1' });
      if (r.json.meta.cursor === undefined) {
        expect(Object.keys(r.json.meta)).toEqual(['count']);
        break;
      }
      expect(Object.keys(r.json.meta).sort()).toEqual(['count', 'cursor']);
      url = `/api/v5/clients_v2?like_clientid=${prefix}&limit=2&cursor=${encodeURIComponent(r.json.meta.cursor)}`;
    }
    expect(counts).toEqual([2, 2, 1]);
    expect(seen.sort()).toEqual(ids.sort());
    const bad = await get('/api/v5/clients_v2?cursor=garbage');
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ code: 'BAD_REQUEST', message: 'bad cursor' });
  });

  it('outpostctl clients mqueue pages a queue as a table, and --json gives the API body', async () => {
    const id = uid('ctlq');
    const sub = await client({ clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } });
    await sub.sub('queues/ctl', { qos: 1 });
    await sub.end();
    const pub = await client({ clientId: 'ctl-pub' });
    await pub.pub('queues/ctl', 'hello', { qos: 1 });
    await pub.pub('queues/ctl', Buffer.from([0, 1, 2]), { qos: 1 });
    await pub.pub('queues/ctl', 'third', { qos: 1 });
    const first = await ctl('clients', 'mqueue', id, '--limit', '2');
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INSERTED\s+TOPIC\s+QOS\s+FROM\s+PAYLOAD$/);
    expect(lines[1]).toMatch(/^\d+\s+queues\/ctl\s+1\s+ctl-pub\s+hello$/);
    expect(lines[2]).toMatch(/\s0x000102$/);
    const next = /^\(next: --position (\S+)\)$/.exec(lines[3] ?? '');
    expect(next, first.stdout).not.toBeNull();
    const second = await ctl('clients', 'mqueue', id, '--limit', '2', '--position', next![1]!);
    expect(second.stdout.trimEnd().split('\n').slice(1)).toEqual([expect.stringMatching(/\sthird$/)]);
    const asJson = await ctl('--json', 'clients', 'inflight', id);
    expect(JSON.parse(asJson.stdout)).toEqual({ data: [], meta: { start: 'none', position: 'none' } });
    const missing = await ctl('clients', 'mqueue', 'no-such-client');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/CLIENTID_NOT_FOUND|Client ID not found/);
  });

  // Last: restarts the daemon.
  it('a stored queue lists with the same ids, keys and positions after a restart', async () => {
    const id = uid('durable');
    const sub = await client({ clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } });
    await sub.sub('queues/durable', { qos: 1 });
    await sub.end();
    const pub = await client();
    for (let i = 1; i <= 3; i++) await pub.pub('queues/durable', `d-${i}`, { qos: 1 });
    const before = await get(`/api/v5/clients/${id}/mqueue_messages?limit=2`);
    expect(before.json.data.map(text)).toEqual(['d-1', 'd-2']);
    for (const c of open.splice(0)) await c.end(true);
    for (const r of raws.splice(0)) r.destroy();
    await d.restart();
    base = `http://127.0.0.1:${d.ports['api:http']}`;
    const after = await get(`/api/v5/clients/${id}/mqueue_messages?limit=2`);
    expect(after.json).toEqual(before.json);
    const rest = await get(`/api/v5/clients/${id}/mqueue_messages?position=${before.json.meta.position}`);
    expect(rest.json.data.map(text)).toEqual(['d-3']);
  });
});
