// ExProto when things go wrong (gateways/exproto/SPEC.md §3, §4, §8 items 6, 8, 15): a handler
// that fails a call, one slower than the deadline, one that goes away and comes back; and the
// broker's rules for ExProto clients: authentication refused, bans, ACL denials. Nothing is
// published for a connection that did not authenticate.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BanList } from '../../src/auth/ban-list.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, uid, until, type TestClient } from '../helpers/mqtt-clients.js';
import { seedAuth } from '../helpers/seed-users.js';
import { TcpDevice, TestHandler, exprotoConfig, freePort, type AdapterClient } from './exproto-harness.js';

let d: Daemon;
let h: TestHandler;
let adapter: AdapterClient;
let adapterPort: number;
let app: TestClient;
let tcpPort: number;
const devices: TcpDevice[] = [];

beforeAll(async () => {
  h = new TestHandler();
  await h.start();
  adapterPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-exproto-f-'));
  await seedAuth(dataDir, async (users, db) => {
    await users.add('alice', 'secret');
    await users.add('app', 'app-secret', { superuser: true });
    new BanList(db, () => Date.now()).add({ as: 'username', who: 'mallory', reason: 'test' });
  });
  await seedAuth(dataDir, async (users) => {
    await users.add('mallory', 'x');
  });
  writeFileSync(join(dataDir, 'acl.conf'), ['{allow, all, publish, ["devices/${clientid}/#"]}.', '{allow, all, subscribe, ["cmd/${clientid}"]}.', '{deny, all}.', ''].join('\n'));
  d = await startDaemon({
    dataDir,
    config: exprotoConfig({ adapterPort, handlerPort: h.port, handlerTimeout: 1, extra: `[authorization]\nno_match = "deny"\n[authorization.file]\npath = ${JSON.stringify(join(dataDir, 'acl.conf'))}\n` }),
  });
  tcpPort = d.ports['exproto:tcp:default']!;
  adapter = h.connectAdapter(adapterPort);
  app = await connectClient(d.mqttUrl, { clientId: uid('app'), username: 'app', password: 'app-secret' });
  await app.sub('#', { qos: 0 });
});

afterAll(async () => {
  for (const x of devices) x.destroy();
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  await h?.stop();
  d?.cleanup();
});

async function device(handler = h): Promise<{ dev: TcpDevice; conn: string }> {
  const dev = await TcpDevice.connect(tcpPort);
  devices.push(dev);
  return { dev, conn: await handler.created(dev.localPort) };
}

const auth = (conn: string, clientid: string, username: string, password: string) =>
  adapter.call('Authenticate', { conn, clientinfo: { proto_name: 'line', proto_ver: '1', clientid, username }, password });

describe('ExProto: authentication, bans and ACLs of the broker', () => {
  it('a refused Authenticate is PERMISSION_DENY, the connection stays open, and nothing is published for it', async () => {
    const { dev, conn } = await device();
    const id = uid('dev');
    const r = await auth(conn, id, 'alice', 'wrong');
    expect(r.code).toBe('PERMISSION_DENY');
    expect(r.message).toBe('bad_username_or_password');
    expect((await auth(conn, id, '', '')).code).toBe('PERMISSION_DENY');
    expect((await adapter.call('Publish', { conn, topic: `devices/${id}/t`, qos: 0, payload: Buffer.from('no') })).code).toBe('UNKNOWN');
    expect((await adapter.call('Send', { conn, bytes: Buffer.from('DENIED\n') })).code).toBe('SUCCESS');
    await dev.waitText('DENIED\n');
    expect(dev.closed).toBe(false);
    await sleep(200);
    expect(app.msgs.some((m) => m.topic === `devices/${id}/t`)).toBe(false);
    // The same connection may try again with the right password.
    expect((await auth(conn, id, 'alice', 'secret')).code).toBe('SUCCESS');
  });

  it('a banned username is refused', async () => {
    const { conn } = await device();
    const r = await auth(conn, uid('dev'), 'mallory', 'x');
    expect(r).toEqual({ code: 'PERMISSION_DENY', message: 'banned' });
  });

  it('ACL: Publish and Subscribe outside the allowed topics are PERMISSION_DENY "Authorization deny"; inside they pass', async () => {
    const { conn } = await device();
    const id = uid('dev');
    expect((await auth(conn, id, 'alice', 'secret')).code).toBe('SUCCESS');
    expect(await adapter.call('Publish', { conn, topic: 'elsewhere/t', qos: 1, payload: Buffer.from('x') })).toEqual({ code: 'PERMISSION_DENY', message: 'Authorization deny' });
    expect(await adapter.call('Subscribe', { conn, topic: 'cmd/other', qos: 0 })).toEqual({ code: 'PERMISSION_DENY', message: 'Authorization deny' });
    expect((await adapter.call('Subscribe', { conn, topic: `cmd/${id}`, qos: 0 })).code).toBe('SUCCESS');
    expect((await adapter.call('Publish', { conn, topic: `devices/${id}/t`, qos: 1, payload: Buffer.from('ok') })).code).toBe('SUCCESS');
    await app.waitMessages(1, 3000, (m) => m.topic === `devices/${id}/t`);
    expect(app.msgs.some((m) => m.topic === 'elsewhere/t')).toBe(false);
  });

  it('RawPublish bypasses the ACL', async () => {
    expect((await adapter.call('RawPublish', { topic: 'elsewhere/raw', qos: 0, payload: Buffer.from('r') })).code).toBe('SUCCESS');
    await app.waitMessages(1, 3000, (m) => m.topic === 'elsewhere/raw');
  });
});

describe('ExProto: a failing or slow handler', () => {
  it('a gRPC error from OnReceivedBytes closes the device, with a logged reason, and OnSocketClosed names the call', async () => {
    h.on.OnReceivedBytes = () => {
      throw Object.assign(new Error('parser exploded'), { code: grpc.status.INTERNAL });
    };
    try {
      const { dev, conn } = await device();
      dev.write('boom');
      await dev.waitClosed();
      const closed = await h.waitFor((e) => e.req.conn === conn && e.method === 'OnSocketClosed');
      expect(closed.req.reason).toContain('on_received_bytes');
      expect(closed.req.reason).toContain('parser exploded');
      expect(d.logs()).toMatch(/"method":"OnReceivedBytes".*"msg":"handler_call_failed"|"msg":"handler_call_failed".*"method":"OnReceivedBytes"/);
      expect((await adapter.call('Send', { conn, bytes: Buffer.from('x') })).code).toBe('CONN_PROCESS_NOT_ALIVE');
    } finally {
      delete h.on.OnReceivedBytes;
    }
  });

  it('a call past request_timeout (deadline) closes the device with DEADLINE_EXCEEDED', async () => {
    h.on.OnReceivedBytes = () => sleep(1600);
    try {
      const { dev, conn } = await device();
      const t0 = Date.now();
      dev.write('slow');
      await dev.waitClosed(4000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      const closed = await h.waitFor((e) => e.req.conn === conn && e.method === 'OnSocketClosed', 4000);
      expect(closed.req.reason).toContain('DEADLINE_EXCEEDED');
    } finally {
      delete h.on.OnReceivedBytes;
    }
  });

  it('handler down: a new device is closed at once with a logged reason; the gateway reconnects when the handler is back', async () => {
    const port = h.port;
    await h.stop();
    const dev = await TcpDevice.connect(tcpPort);
    devices.push(dev);
    await dev.waitClosed(4000);
    await until(() => /"msg":"handler_call_failed"[^\n]*UNAVAILABLE|UNAVAILABLE[^\n]*"msg":"handler_call_failed"/.test(d.logs()), 3000, 'UNAVAILABLE in the log');
    // The same handler program starts again on its address.
    h = new TestHandler();
    await h.start(port);
    adapter = h.connectAdapter(adapterPort);
    // Backoff is 0.1..0.5 s in this config: a device within a few seconds gets through.
    let conn = '';
    for (let i = 0; i < 20 && !conn; i++) {
      const x = await TcpDevice.connect(tcpPort);
      devices.push(x);
      conn = await h.created(x.localPort, 500).catch(() => '');
      if (conn) {
        expect((await adapter.call('Send', { conn, bytes: Buffer.from('back\n') })).code).toBe('SUCCESS');
        await x.waitText('back\n');
      }
    }
    expect(conn).not.toBe('');
    expect(d.logs()).toContain('exproto_handler_connected');
  });
});
