// The last EMQX API gaps of issue 22 against the real daemon: PUT /clients/:id/keepalive on a live
// MQTT connection, /authentication and import_users with a real multipart upload (the imported
// users then connect), and /users with login tokens revoked on delete and password change.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, waitClose, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let base: string;
let local: { authorization: string };
const clients: TestClient[] = [];
const AUTHN = '/api/v5/authentication/password_based:built_in_database';

beforeAll(async () => {
  d = await startDaemon({ config: '[api]\nport = 0\n' });
  base = `http://127.0.0.1:${d.ports['api:http']}`;
  local = { authorization: 'Basic ' + Buffer.from(readFileSync(join(d.dataDir, 'api-local.key'), 'utf8').trim()).toString('base64') };
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
});

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = local): Promise<{ status: number; json: any }> {
  const r = await fetch(base + path, { method, headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body: JSON.stringify(body) }), signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

describe('issue 22 API gaps on the real daemon', () => {
  it('PUT /clients/:id/keepalive 1 s: a silent MQTT 5 client is disconnected for keepalive timeout', async () => {
    const id = uid('ka');
    const c = await connectClient(d.mqttUrl, { clientId: id, protocolVersion: 5, keepalive: 60 });
    clients.push(c);
    const closed = waitClose(c.c, 6000);
    const t0 = Date.now();
    const r = await api('PUT', `/api/v5/clients/${id}/keepalive`, { interval: 1 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ clientid: id, keepalive: 1 });
    const { disconnect } = await closed;
    // keepalive_multiplier 1.5 (EMQX default): about 1.5 s, well before the client's own 60 s.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(disconnect?.reasonCode).toBe(0x8d);
    expect((await api('PUT', `/api/v5/clients/${id}/keepalive`, { interval: 1 })).status).toBe(404);
  });

  it('delayed publishes show in /mqtt/delayed/messages; DELETE cancels one, the other is delivered', async () => {
    const sub = await connectClient(d.mqttUrl, { clientId: uid('dsub'), protocolVersion: 5 });
    clients.push(sub);
    await sub.sub('dl/#', { qos: 1 });
    const pub = await connectClient(d.mqttUrl, { clientId: uid('dpub'), protocolVersion: 5 });
    clients.push(pub);
    await pub.pub('$delayed/60/dl/cancel', 'never', { qos: 1 });
    await pub.pub('$delayed/1/dl/soon', 'soon', { qos: 1 });
    const list = await api('GET', '/api/v5/mqtt/delayed/messages');
    expect(list.status).toBe(200);
    expect(list.json.meta.count).toBe(2);
    const [soon, later] = list.json.data;
    expect(soon).toMatchObject({ topic: 'dl/soon', qos: 1, delayed_interval: 1, from_clientid: pub.c.options.clientId });
    expect(later).toMatchObject({ topic: 'dl/cancel', delayed_interval: 60 });
    expect(later.delayed_remaining).toBeGreaterThan(55);
    const one = await api('GET', `/api/v5/mqtt/delayed/messages/${later.node}/${later.msgid}`);
    expect(Buffer.from(one.json.payload, 'base64').toString()).toBe('never');
    expect((await api('DELETE', `/api/v5/mqtt/delayed/messages/${later.node}/${later.msgid}`)).status).toBe(204);
    const msgs = await sub.waitMessages(1, 5000);
    expect(msgs.map((m) => m.topic)).toEqual(['dl/soon']);
    expect((await api('GET', '/api/v5/mqtt/delayed/messages')).json.meta.count).toBe(0);
    expect((await api('GET', `/api/v5/mqtt/delayed/messages/${later.node}/${later.msgid}`)).status).toBe(404);
  });

  it('lists the authenticator and imports a multipart CSV whose users then connect', async () => {
    const list = await api('GET', '/api/v5/authentication');
    expect(list.json).toEqual([expect.objectContaining({ id: 'password_based:built_in_database', mechanism: 'password_based', backend: 'built_in_database' })]);
    const form = new FormData();
    form.append('filename', new Blob(['user_id,password,is_superuser\nimp1,imp1-secret,false\nimp2,imp2-secret,true\n']), 'users.csv');
    const r = await fetch(`${base}${AUTHN}/import_users?type=plain`, { method: 'POST', headers: local, body: form, signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ total: 2, success: 2, override: 0, skipped: 0, failed: 0 });
    const c = await connectClient(d.mqttUrl, { clientId: uid('imp'), username: 'imp2', password: 'imp2-secret', protocolVersion: 5 });
    clients.push(c);
    expect(c.connack.reasonCode ?? 0).toBe(0);
    const users = await api('GET', `${AUTHN}/users`);
    expect(users.json.data).toEqual([
      { user_id: 'imp1', is_superuser: false },
      { user_id: 'imp2', is_superuser: true },
    ]);
  });

  it('/users: a created admin logs in; deleting it revokes its token at once', async () => {
    expect((await api('POST', '/api/v5/users', { username: 'ops', password: 'ops-password-1', description: 'ops' })).status).toBe(200);
    expect((await api('POST', '/api/v5/users', { username: 'ops2', password: 'ops-password-2' })).status).toBe(200);
    const login = await api('POST', '/api/v5/login', { username: 'ops2', password: 'ops-password-2' }, {});
    const bearer = { authorization: `Bearer ${login.json.token}` };
    expect((await api('GET', '/api/v5/users', undefined, bearer)).json.map((u: { username: string }) => u.username)).toEqual(expect.arrayContaining(['ops', 'ops2']));
    expect((await api('DELETE', '/api/v5/users/ops2')).status).toBe(204);
    expect((await api('GET', '/api/v5/clients', undefined, bearer)).status).toBe(401);
  });
});
