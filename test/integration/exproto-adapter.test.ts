// The ExProto contract end to end (gateways/exproto/SPEC.md §3, §4, §8): the real daemon, a grpc-js
// handler built from the shipped exproto.proto, raw TCP and UDP devices, MQTT.js on the other side.
// Every ConnectionAdapter rpc and every handler event, including calls the handler makes back into
// the adapter while its own OnSocketCreated is still pending.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, uid, until, type TestClient } from '../helpers/mqtt-clients.js';
import { TcpDevice, TestHandler, UdpDevice, exprotoConfig, freePort, type AdapterClient } from './exproto-harness.js';

let d: Daemon;
let h: TestHandler;
let adapter: AdapterClient;
let app: TestClient;
let tcpPort: number;
let udpPort: number;
let apiPort: number;
const devices: TcpDevice[] = [];

beforeAll(async () => {
  h = new TestHandler();
  await h.start();
  const adapterPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-exproto-'));
  writeFileSync(join(dataDir, 'keys'), 'ops:ops-secret\n');
  d = await startDaemon({
    dataDir,
    config: exprotoConfig({ adapterPort, handlerPort: h.port, udp: true, gateway: 'mountpoint = "ex/"', extra: `[api]\nport = 0\napi_key_bootstrap_file = ${JSON.stringify(join(dataDir, 'keys'))}\n` }),
  });
  tcpPort = d.ports['exproto:tcp:default']!;
  udpPort = d.ports['exproto:udp:default']!;
  apiPort = d.ports['api:http']!;
  adapter = h.connectAdapter(adapterPort);
  app = await connectClient(d.mqttUrl, { clientId: uid('app') });
  await app.sub(['ex/#', '$SYS/brokers/+/gateway/#', 'raw/#'], { qos: 1 });
});

afterAll(async () => {
  for (const x of devices) x.destroy();
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  await h?.stop();
  d?.cleanup();
});

async function device(): Promise<{ dev: TcpDevice; conn: string }> {
  const dev = await TcpDevice.connect(tcpPort);
  devices.push(dev);
  return { dev, conn: await h.created(dev.localPort) };
}

async function authed(clientid = uid('dev')): Promise<{ dev: TcpDevice; conn: string; clientid: string }> {
  const x = await device();
  const r = await adapter.call('Authenticate', { conn: x.conn, clientinfo: { proto_name: 'line', proto_ver: '1', clientid, username: '' }, password: '' });
  expect(r.code).toBe('SUCCESS');
  return { ...x, clientid };
}

describe('ExProto: handler events in order', () => {
  it('a TCP connect gives exactly one OnSocketCreated with socktype TCP and the real addresses, before any bytes', async () => {
    const dev = await TcpDevice.connect(tcpPort);
    devices.push(dev);
    dev.write('hello');
    const conn = await h.created(dev.localPort);
    await h.waitFor((e) => e.req.conn === conn && e.method === 'OnReceivedBytes');
    const evs = h.of(conn);
    expect(evs.filter((e) => e.method === 'OnSocketCreated')).toHaveLength(1);
    expect(evs[0]!.method).toBe('OnSocketCreated');
    const ci = evs[0]!.req.conninfo;
    expect(ci.socktype).toBe('TCP');
    expect(ci.peername).toEqual({ host: '127.0.0.1', port: dev.localPort });
    expect(ci.sockname).toEqual({ host: '127.0.0.1', port: tcpPort });
    expect(ci.peercert).toBeNull();
    expect(conn).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('bytes arrive in order and never concurrently for one conn, however slow the handler is', async () => {
    h.on.OnReceivedBytes = async () => sleep(60);
    try {
      const { dev, conn } = await device();
      for (let i = 0; i < 8; i++) {
        dev.write(`m${i};`);
        await sleep(15);
      }
      await until(() => Buffer.concat(h.of(conn).filter((e) => e.method === 'OnReceivedBytes').map((e) => e.req.bytes as Buffer)).toString().length >= 24, 5000, 'all bytes');
      const evs = h.of(conn).filter((e) => e.method === 'OnReceivedBytes');
      expect(Buffer.concat(evs.map((e) => e.req.bytes as Buffer)).toString()).toBe('m0;m1;m2;m3;m4;m5;m6;m7;');
      expect(h.of(conn).every((e) => e.concurrent === 0)).toBe(true);
    } finally {
      delete h.on.OnReceivedBytes;
    }
  });

  it('the peer closing gives OnSocketClosed{tcp_closed} after the bytes still queued', async () => {
    h.on.OnReceivedBytes = async () => sleep(100);
    try {
      const { dev, conn } = await device();
      dev.write('a');
      await sleep(20);
      dev.write('b');
      dev.end();
      const closed = await h.waitFor((e) => e.req.conn === conn && e.method === 'OnSocketClosed');
      expect(closed.req.reason).toBe('tcp_closed');
      const methods = h.of(conn).map((e) => e.method);
      expect(methods[methods.length - 1]).toBe('OnSocketClosed');
      expect(Buffer.concat(h.of(conn).filter((e) => e.method === 'OnReceivedBytes').map((e) => e.req.bytes as Buffer)).toString()).toBe('ab');
    } finally {
      delete h.on.OnReceivedBytes;
    }
  });
});

describe('ExProto: ConnectionAdapter', () => {
  it('Publish before Authenticate is UNKNOWN and publishes nothing; Authenticate opens a session listed in the API', async () => {
    const { conn } = await device();
    const before = app.msgs.length;
    const r = await adapter.call('Publish', { conn, topic: 'early/t', qos: 0, payload: Buffer.from('x') });
    expect(r.code).toBe('UNKNOWN');
    expect(r.message).not.toBe('');
    const id = uid('dev');
    const a = await adapter.call('Authenticate', { conn, clientinfo: { proto_name: 'line', proto_ver: '1.0', clientid: id, username: 'u1' }, password: 'p' });
    expect(a).toEqual({ code: 'SUCCESS', message: '' });
    const again = await adapter.call('Authenticate', { conn, clientinfo: { proto_name: 'line', proto_ver: '1.0', clientid: id, username: 'u1' }, password: 'p' });
    expect(again).toEqual({ code: 'PERMISSION_DENY', message: 'Duplicated authenticate command' });
    await app.waitMessages(1, 3000, (m) => m.topic.endsWith(`/gateway/line/clients/${id}/connected`));
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/clients?clientid=${id}`, { headers: { authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}` } });
    const body = (await res.json()) as { data: { clientid: string; proto_name: string; proto_ver: string; username: string }[] };
    expect(body.data.map((c) => [c.clientid, c.proto_name, c.proto_ver, c.username])).toEqual([[id, 'line', '1.0', 'u1']]);
    expect(app.msgs.slice(before).some((m) => m.topic.includes('early'))).toBe(false);
  });

  it('Authenticate without clientid is REQUIRED_PARAMS_MISSED', async () => {
    const { conn } = await device();
    const r = await adapter.call('Authenticate', { conn, clientinfo: { proto_name: 'line', proto_ver: '1', clientid: '' }, password: '' });
    expect(r.code).toBe('REQUIRED_PARAMS_MISSED');
  });

  it('Publish after Authenticate reaches MQTT on mountpoint + topic, from the client id; bad QoS is PARAMS_TYPE_ERROR', async () => {
    const { conn, clientid } = await authed();
    const r = await adapter.call('Publish', { conn, topic: `t/${clientid}`, qos: 1, payload: Buffer.from('hi') });
    expect(r.code).toBe('SUCCESS');
    const [m] = await app.waitMessages(1, 3000, (x) => x.topic === `ex/t/${clientid}`);
    expect(m!.text).toBe('hi');
    expect((await adapter.call('Publish', { conn, topic: 't/x', qos: 3, payload: Buffer.from('') })).code).toBe('PARAMS_TYPE_ERROR');
  });

  it('Subscribe delivers MQTT messages through OnReceivedMessages, unmounted, with EMQX fields; Unsubscribe stops them', async () => {
    const { conn, clientid } = await authed();
    expect((await adapter.call('Subscribe', { conn, topic: 'cmd/#', qos: 3 })).code).toBe('PARAMS_TYPE_ERROR');
    expect((await adapter.call('Subscribe', { conn, topic: `cmd/${clientid}`, qos: 1 })).code).toBe('SUCCESS');
    const t0 = Date.now();
    await app.pub(`ex/cmd/${clientid}`, 'go', { qos: 1 });
    const e = await h.waitFor((x) => x.req.conn === conn && x.method === 'OnReceivedMessages');
    const m = e.req.messages[0];
    expect(m.topic).toBe(`cmd/${clientid}`);
    expect(m.payload.toString()).toBe('go');
    expect(m.qos).toBe(1);
    expect(m.from).toBe(app.c.options.clientId);
    expect(m.id).toMatch(/^[0-9A-F]{32}$/);
    expect(m.node).not.toBe('');
    expect(Math.abs(Number(m.timestamp) - t0)).toBeLessThan(5000);
    expect((await adapter.call('Unsubscribe', { conn, topic: `cmd/${clientid}` })).code).toBe('SUCCESS');
    expect((await adapter.call('Unsubscribe', { conn, topic: 'never/subscribed' })).code).toBe('SUCCESS');
    await app.pub(`ex/cmd/${clientid}`, 'again', { qos: 1 });
    await sleep(300);
    expect(h.of(conn).filter((x) => x.method === 'OnReceivedMessages')).toHaveLength(1);
  });

  it('Subscribe and Unsubscribe before Authenticate are UNKNOWN', async () => {
    const { conn } = await device();
    expect((await adapter.call('Subscribe', { conn, topic: 'a', qos: 0 })).code).toBe('UNKNOWN');
    expect((await adapter.call('Unsubscribe', { conn, topic: 'a' })).code).toBe('UNKNOWN');
  });

  it('Send writes bytes to the device; a garbage conn is PARAMS_TYPE_ERROR', async () => {
    const { dev, conn } = await device();
    expect((await adapter.call('Send', { conn, bytes: Buffer.from('OK\n') })).code).toBe('SUCCESS');
    await dev.waitText('OK\n');
    expect((await adapter.call('Send', { conn: 'not a conn!', bytes: Buffer.from('x') })).code).toBe('PARAMS_TYPE_ERROR');
  });

  it('Close closes the socket, OnSocketClosed{normal} comes last, the disconnected event is published; Send after is CONN_PROCESS_NOT_ALIVE', async () => {
    const { dev, conn, clientid } = await authed();
    expect((await adapter.call('Close', { conn })).code).toBe('SUCCESS');
    await dev.waitClosed();
    const e = await h.waitFor((x) => x.req.conn === conn && x.method === 'OnSocketClosed');
    expect(e.req.reason).toBe('normal');
    await app.waitMessages(1, 3000, (m) => m.topic.endsWith(`/gateway/line/clients/${clientid}/disconnected`));
    const r = await adapter.call('Send', { conn, bytes: Buffer.from('x') });
    expect(r).toEqual({ code: 'CONN_PROCESS_NOT_ALIVE', message: 'Connection process is not alive' });
    expect((await adapter.call('Close', { conn })).code).toBe('CONN_PROCESS_NOT_ALIVE');
  });

  it('RawPublish works without any connection and without the mountpoint', async () => {
    expect((await adapter.call('RawPublish', { topic: 'raw/x', qos: 0, payload: Buffer.from('r') })).code).toBe('SUCCESS');
    const [m] = await app.waitMessages(1, 3000, (x) => x.topic === 'raw/x');
    expect(app.msgs.some((x) => x.topic === 'ex/raw/x')).toBe(false);
    expect(m!.text).toBe('r');
    expect(m!.packet.qos).toBe(0);
  });

  it('StartTimer: a bad interval is PARAMS_TYPE_ERROR; silence for 1.5 x interval gives OnTimerTimeout, then OnSocketClosed{keepalive_timeout}', async () => {
    const { dev, conn } = await device();
    expect((await adapter.call('StartTimer', { conn, type: 'KEEPALIVE', interval: 0 })).code).toBe('PARAMS_TYPE_ERROR');
    const t0 = Date.now();
    expect((await adapter.call('StartTimer', { conn, type: 'KEEPALIVE', interval: 1 })).code).toBe('SUCCESS');
    const timeout = await h.waitFor((x) => x.req.conn === conn && x.method === 'OnTimerTimeout', 5000);
    expect(timeout.req.type).toBe('KEEPALIVE');
    expect(timeout.at - t0).toBeGreaterThanOrEqual(1400);
    const closed = await h.waitFor((x) => x.req.conn === conn && x.method === 'OnSocketClosed');
    expect(closed.req.reason).toBe('keepalive_timeout');
    await dev.waitClosed();
  });

  it('TCP: idle_timeout closes a device that sends nothing, unless the handler started a keepalive (server speaks first)', async () => {
    const silent = await device();
    const kept = await device();
    expect((await adapter.call('StartTimer', { conn: kept.conn, type: 'KEEPALIVE', interval: 10 })).code).toBe('SUCCESS');
    const closed = await h.waitFor((x) => x.req.conn === silent.conn && x.method === 'OnSocketClosed', 6000);
    expect(closed.req.reason).toBe('idle_timeout');
    await silent.dev.waitClosed();
    await sleep(500);
    expect(kept.dev.closed).toBe(false);
    expect((await adapter.call('Send', { conn: kept.conn, bytes: Buffer.from('HELLO\n') })).code).toBe('SUCCESS');
    await kept.dev.waitText('HELLO\n');
  });

  it('a second Authenticate with the same client id discards the older connection (OnSocketClosed{discarded})', async () => {
    const first = await authed();
    const second = await device();
    const r = await adapter.call('Authenticate', { conn: second.conn, clientinfo: { proto_name: 'line', proto_ver: '1', clientid: first.clientid }, password: '' });
    expect(r.code).toBe('SUCCESS');
    const e = await h.waitFor((x) => x.req.conn === first.conn && x.method === 'OnSocketClosed');
    expect(e.req.reason).toBe('discarded');
    await first.dev.waitClosed();
    expect(second.dev.closed).toBe(false);
  });
});

describe('ExProto: clients are broker clients', () => {
  it('a kick through the HTTP API closes the device with OnSocketClosed{kicked}', async () => {
    const { dev, conn, clientid } = await authed();
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v5/clients/${clientid}`, { method: 'DELETE', headers: { authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}` } });
    expect(res.status).toBe(204);
    await dev.waitClosed();
    const e = await h.waitFor((x) => x.req.conn === conn && x.method === 'OnSocketClosed');
    expect(e.req.reason).toBe('kicked');
  });
});

describe('ExProto: re-entrant calls', () => {
  it('the handler authenticates, subscribes and sends from inside its pending OnSocketCreated without deadlock', async () => {
    const id = uid('re');
    const replies: string[] = [];
    h.on.OnSocketCreated = async (req, hh) => {
      const a = hh.adapter!;
      replies.push((await a.call('Authenticate', { conn: req.conn, clientinfo: { proto_name: 'line', proto_ver: '1', clientid: id }, password: '' }, 2000)).code);
      replies.push((await a.call('Subscribe', { conn: req.conn, topic: `re/${id}`, qos: 0 }, 2000)).code);
      replies.push((await a.call('Send', { conn: req.conn, bytes: Buffer.from('WELCOME\n') }, 2000)).code);
      replies.push((await a.call('StartTimer', { conn: req.conn, type: 'KEEPALIVE', interval: 30 }, 2000)).code);
    };
    try {
      const t0 = Date.now();
      const dev = await TcpDevice.connect(tcpPort);
      devices.push(dev);
      await dev.waitText('WELCOME\n', 3000);
      expect(Date.now() - t0).toBeLessThan(1500);
      await until(() => replies.length === 4, 3000, 'four adapter replies');
      expect(replies).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
      const conn = await h.created(dev.localPort);
      // Bytes sent meanwhile still come after OnSocketCreated.
      dev.write('x');
      await app.pub(`ex/re/${id}`, 'm');
      await h.waitFor((x) => x.req.conn === conn && x.method === 'OnReceivedMessages');
      expect(h.of(conn)[0]!.method).toBe('OnSocketCreated');
    } finally {
      delete h.on.OnSocketCreated;
    }
  });
});

describe('ExProto: UDP devices', () => {
  it('one conn per peer, socktype UDP, one OnReceivedBytes per datagram, Send answers with a datagram', async () => {
    const u = await UdpDevice.open(udpPort);
    try {
      u.send('d1');
      u.send('d2');
      const conn = await h.created(u.localPort);
      const created = h.of(conn)[0]!;
      expect(created.req.conninfo.socktype).toBe('UDP');
      expect(created.req.conninfo.peername).toEqual({ host: '127.0.0.1', port: u.localPort });
      await until(() => h.of(conn).filter((e) => e.method === 'OnReceivedBytes').length === 2, 3000, 'two datagrams');
      expect(h.of(conn).filter((e) => e.method === 'OnReceivedBytes').map((e) => e.req.bytes.toString())).toEqual(['d1', 'd2']);
      expect((await adapter.call('Send', { conn, bytes: Buffer.from('ack') })).code).toBe('SUCCESS');
      await u.waitText('ack');
    } finally {
      u.close();
    }
  });

  it('a UDP peer without StartTimer is closed after idle_timeout; with StartTimer it is not', async () => {
    const idle = await UdpDevice.open(udpPort);
    const kept = await UdpDevice.open(udpPort);
    try {
      idle.send('x');
      kept.send('y');
      const c1 = await h.created(idle.localPort);
      const c2 = await h.created(kept.localPort);
      expect((await adapter.call('StartTimer', { conn: c2, type: 'KEEPALIVE', interval: 10 })).code).toBe('SUCCESS');
      const closed = await h.waitFor((x) => x.req.conn === c1 && x.method === 'OnSocketClosed', 6000);
      expect(closed.req.reason).toBe('idle_timeout');
      expect(h.of(c2).some((x) => x.method === 'OnSocketClosed')).toBe(false);
      expect((await adapter.call('Send', { conn: c2, bytes: Buffer.from('still') })).code).toBe('SUCCESS');
    } finally {
      idle.close();
      kept.close();
    }
  });
});
