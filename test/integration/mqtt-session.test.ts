// Sessions: v3 clean session = 0 keeps subscriptions and queues offline messages; v5 Clean Start +
// Session-Expiry-Interval [MQTT-3.1.2-4..6, 3.1.2-23]; Session Present [MQTT-3.2.2-1..3]; takeover
// of a duplicate client id [MQTT-3.1.4-3]; zero-length client ids [MQTT-3.1.3-6..8]; the mqueue
// bound drops the oldest (EMQX).
import { describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, until, waitClose, type TestClient, daemonPerFile } from '../helpers/mqtt-clients.js';

let d: Daemon;
const { open, raws } = daemonPerFile((x) => (d = x));

async function publisher(): Promise<TestClient> {
  const p = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('pub') });
  open.push(p);
  return p;
}

describe('persistent sessions', () => {
  for (const version of [3, 4] as const) {
    it(`v${version} clean session = 0: subscriptions kept, offline QoS 1 and QoS 0 queued, session present on resume (3.1.1 only)`, async () => {
      const id = uid(`ps${version}`);
      const topic = `sess/v3/${uid('t')}`;
      const a = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: id, clean: false });
      expect(a.connack.sessionPresent).toBe(false);
      await a.sub(topic, { qos: 1 });
      await a.end();
      const p = await publisher();
      await p.pub(topic, 'offline-1', { qos: 1 });
      await p.pub(topic, 'offline-0', { qos: 0 });
      await p.pub(topic, 'offline-2', { qos: 1 });
      await sleep(100);
      const b = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: id, clean: false });
      open.push(b);
      // MQTT 3.1's CONNACK has no Session Present flag: its first byte is reserved, 0 (MQTT 3.1 §3.2);
      // the kept session shows in the queued messages below.
      expect(b.connack.sessionPresent).toBe(version === 4);
      const got = await b.waitMessages(3, 3000);
      expect(got.map((m) => m.text)).toEqual(['offline-1', 'offline-0', 'offline-2']);
      expect(got.map((m) => m.packet.qos)).toEqual([1, 0, 1]);
      // The subscription is still there for live messages.
      await p.pub(topic, 'live', { qos: 1 });
      await b.waitMessages(4, 3000);
    });
  }

  it('v3.1.1 clean session = 1 discards the old session: no session present, no subscriptions, no queue', async () => {
    const id = uid('clean');
    const topic = `sess/clean/${uid('t')}`;
    const a = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
    await a.sub(topic, { qos: 1 });
    await a.end();
    const p = await publisher();
    await p.pub(topic, 'queued', { qos: 1 });
    const b = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id, clean: true });
    expect(b.connack.sessionPresent).toBe(false);
    await sleep(300);
    expect(b.msgs).toHaveLength(0);
    await b.end();
    // The discarded session's subscription is gone too: a clean=false reconnect finds nothing.
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
    open.push(c);
    expect(c.connack.sessionPresent).toBe(false);
    await p.pub(topic, 'after', { qos: 1 });
    await sleep(300);
    expect(c.msgs).toHaveLength(0);
  });

  it('v5 Session-Expiry-Interval keeps the session while it has not expired', async () => {
    const id = uid('v5keep');
    const topic = `sess/v5keep/${uid('t')}`;
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 } };
    const a = await connectClient(d.mqttUrl, opts);
    expect(a.connack.sessionPresent).toBe(false);
    await a.sub(topic, { qos: 2 });
    await a.end();
    const p = await publisher();
    await p.pub(topic, 'q2', { qos: 2 });
    const b = await connectClient(d.mqttUrl, opts);
    open.push(b);
    expect(b.connack.sessionPresent).toBe(true);
    const [m] = await b.waitMessages(1, 3000);
    expect(m!.text).toBe('q2');
    expect(m!.packet.qos).toBe(2);
  });

  it('v5 a short Session-Expiry-Interval expires: subscription and queued messages are gone', async () => {
    const id = uid('v5exp');
    const topic = `sess/v5exp/${uid('t')}`;
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 1 } };
    const a = await connectClient(d.mqttUrl, opts);
    await a.sub(topic, { qos: 1 });
    await a.end();
    const p = await publisher();
    await p.pub(topic, 'before-expiry', { qos: 1 });
    await sleep(1700);
    const b = await connectClient(d.mqttUrl, opts);
    open.push(b);
    expect(b.connack.sessionPresent).toBe(false);
    await p.pub(topic, 'after-expiry', { qos: 1 });
    await sleep(300);
    expect(b.msgs).toHaveLength(0);
  });

  it('v5 Session-Expiry-Interval 0 (default) ends the session at disconnect, even with Clean Start = 0', async () => {
    const id = uid('v5zero');
    const topic = `sess/v5zero/${uid('t')}`;
    const a = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false });
    await a.sub(topic, { qos: 1 });
    await a.end();
    const b = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false });
    open.push(b);
    expect(b.connack.sessionPresent).toBe(false);
  });

  it('v5 DISCONNECT can shorten the Session-Expiry-Interval to 0 (session ends)', async () => {
    const id = uid('v5disc');
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    await r.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } } as never);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sess/v5disc', qos: 1 }] });
    await r.next((p) => p.cmd === 'suback');
    r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await r.waitClosed();
    const b = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    open.push(b);
    expect(b.connack.sessionPresent).toBe(false);
  });

  it('a persistent session and its queued messages survive a daemon restart', async () => {
    const d2 = await startDaemon();
    try {
      const id = uid('restart');
      const topic = `sess/restart/${uid('t')}`;
      const a = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await a.sub(topic, { qos: 1 });
      await a.end();
      const p = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await p.pub(topic, 'acked-before-restart', { qos: 1 });
      await p.end();
      await d2.restart();
      const b = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      expect(b.connack.sessionPresent).toBe(true);
      const [m] = await b.waitMessages(1, 3000);
      expect(m!.text).toBe('acked-before-restart');
      await b.end();
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});

describe('takeover of a duplicate client id', () => {
  it('v5: the old connection gets DISCONNECT 0x8E; clean start = 0 moves the session (session present, subs kept)', async () => {
    const id = uid('take');
    const topic = `sess/take/${uid('t')}`;
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } };
    const old = await connectClient(d.mqttUrl, opts);
    await old.sub(topic, { qos: 1 });
    const closed = waitClose(old.c, 3000);
    const fresh = await connectClient(d.mqttUrl, opts);
    open.push(fresh);
    const { disconnect } = await closed;
    expect(disconnect?.reasonCode).toBe(0x8e);
    expect(fresh.connack.sessionPresent).toBe(true);
    const p = await publisher();
    await p.pub(topic, 'to-new-owner', { qos: 1 });
    const [m] = await fresh.waitMessages(1, 3000);
    expect(m!.text).toBe('to-new-owner');
    await sleep(200);
    expect(old.msgs).toHaveLength(0);
    await old.end(true);
  });

  it('v5 clean start = 1 takeover: old gets 0x8E, new session is fresh', async () => {
    const id = uid('disc');
    const old = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, properties: { sessionExpiryInterval: 60 } });
    await old.sub('sess/discard', { qos: 1 });
    const closed = waitClose(old.c, 3000);
    const fresh = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: true });
    open.push(fresh);
    expect((await closed).disconnect?.reasonCode).toBe(0x8e);
    expect(fresh.connack.sessionPresent).toBe(false);
    await old.end(true);
  });

  it('v3.1.1: a clean session taken over by clean session = 0 is not resumed (it lasted only as long as its connection) [MQTT-3.1.2-6]', async () => {
    const id = uid('cleantake');
    const old = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id, clean: true });
    await old.sub('sess/cleantake', { qos: 1 });
    const fresh = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
    open.push(fresh);
    expect(fresh.connack.sessionPresent).toBe(false);
    const p = await publisher();
    await p.pub('sess/cleantake', 'old-sub', { qos: 1 });
    await sleep(300);
    expect(fresh.msgs).toHaveLength(0);
    await old.end(true);
  });

  it('v5: a session with Session-Expiry-Interval 0 taken over by Clean Start = 0 is not resumed', async () => {
    const id = uid('zerotake');
    const old = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id });
    await old.sub('sess/zerotake', { qos: 1 });
    const fresh = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    open.push(fresh);
    expect(fresh.connack.sessionPresent).toBe(false);
    await old.end(true);
  });

  it('v3.1.1: the old connection is closed and the new one works', async () => {
    const id = uid('take3');
    const old = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id });
    const closed = waitClose(old.c, 3000);
    const fresh = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id });
    open.push(fresh);
    await closed;
    await fresh.sub('sess/take3', { qos: 1 });
    await fresh.pub('sess/take3', 'ok', { qos: 1 });
    await fresh.waitMessages(1, 3000);
    await old.end(true);
  });
});

describe('zero-length client id', () => {
  it('v5: accepted with an Assigned Client Identifier that works as an id', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: '' });
    open.push(c);
    const assigned = c.connack.properties?.assignedClientIdentifier;
    expect(typeof assigned).toBe('string');
    expect(assigned!.length).toBeGreaterThan(0);
    const c2 = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: '' });
    open.push(c2);
    expect(c2.connack.properties?.assignedClientIdentifier).not.toBe(assigned);
  });

  it('v3.1.1 with clean session = 1: accepted (server assigns an id)', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    const ack = await r.connect({ clientId: '', clean: true });
    expect(ack.returnCode).toBe(0);
    r.send({ cmd: 'pingreq' });
    await r.next((p) => p.cmd === 'pingresp');
  });

  it('v3.1.1 with clean session = 0: refused with 0x02 Identifier rejected [MQTT-3.1.3-8]', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.ready();
    // Hand-built: mqtt-packet refuses to encode this CONNECT. Flags 0x00 = clean session 0, keepalive 60.
    r.sendBytes(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0]));
    const ack = (await r.next((p) => p.cmd === 'connack')) as { returnCode?: number };
    expect(ack.returnCode).toBe(0x02);
    await r.waitClosed();
  });

  it('v3.1 (MQIsdp): refused with 0x02', async () => {
    const r = new RawClient(d.mqttPort, 3);
    raws.push(r);
    await r.ready();
    // MQIsdp v3, clean session, keepalive 60, empty client id (3.1 requires 1..23 characters).
    r.sendBytes(Buffer.from([0x10, 14, 0, 6, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70, 3, 0x02, 0, 60, 0, 0]));
    const ack = (await r.next((p) => p.cmd === 'connack')) as { returnCode?: number };
    expect(ack.returnCode).toBe(0x02);
    await r.waitClosed();
  });
});

describe('message queue bound', () => {
  it('an offline persistent session with max_mqueue_len = 5 receives the newest 5, and the drop is logged', async () => {
    const d2 = await startDaemon({ config: '[mqtt]\nmax_mqueue_len = 5\n' });
    try {
      const id = uid('mq');
      const topic = `sess/mq/${uid('t')}`;
      const a = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await a.sub(topic, { qos: 1 });
      await a.end();
      const p = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      for (let i = 0; i < 12; i++) await p.pub(topic, String(i), { qos: 1 });
      await p.end();
      const b = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await b.waitMessages(5, 3000);
      await sleep(300);
      expect(b.msgs.map((m) => Number(m.text))).toEqual([7, 8, 9, 10, 11]);
      await b.end();
      await until(() => d2.logs().includes('dropped_msg_due_to_mqueue_is_full'), 2000, 'mqueue drop log line');
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});

describe('connection storms and caps', () => {
  it('ten simultaneous CONNECTs with one client id leave exactly one connection, which works', async () => {
    const id = uid('storm');
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, properties: { sessionExpiryInterval: 30 } }, 3000)));
    const clients = attempts.filter((a): a is PromiseFulfilledResult<TestClient> => a.status === 'fulfilled').map((a) => a.value);
    for (const c of clients) open.push(c);
    await sleep(500);
    const alive = clients.filter((c) => c.c.connected);
    expect(alive).toHaveLength(1);
    await alive[0]!.sub('sess/storm', { qos: 1 });
    await alive[0]!.pub('sess/storm', 'ok', { qos: 1 });
    await alive[0]!.waitMessages(1, 2000);
  });

  it('max_session_expiry_interval caps a v5 request and CONNACK says so', async () => {
    const d2 = await startDaemon({ config: '[mqtt]\nmax_session_expiry_interval = 10\n' });
    try {
      const c = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('cap'), properties: { sessionExpiryInterval: 3600 } });
      expect(c.connack.properties?.sessionExpiryInterval).toBe(10);
      await c.end();
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});

