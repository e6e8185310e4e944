// Delivery details that need their own daemon settings: the default in-flight window (32) for v3
// clients, retry_interval resend while connected, mqueue_store_qos0 = false, the v3
// session_expiry_interval, upgrade_qos, inbound QoS 2 state across a reconnect, takeover with
// in-flight messages, and durability of acknowledged/in-flight messages across kill -9.
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, until, type TestClient, reasonOf, daemonPerFile } from '../helpers/mqtt-clients.js';

let d: Daemon;
const { open, raws } = daemonPerFile((x) => (d = x));

async function withDaemon(config: string, fn: (x: Daemon) => Promise<void>): Promise<void> {
  const x = await startDaemon({ config });
  try {
    await fn(x);
  } finally {
    await x.kill();
    x.cleanup();
  }
}

function raw(port: number, v: 3 | 4 | 5): RawClient {
  const r = new RawClient(port, v);
  raws.push(r);
  return r;
}

describe.concurrent('in-flight window and resend', () => {
  it('a v3.1.1 client that never acks has at most max_inflight (32) QoS 1 messages in flight; the rest wait in the queue', async () => {
    const topic = `dl/window/${uid('t')}`;
    const r = raw(d.mqttPort, 4);
    await r.connect({ clientId: uid('win') });
    await r.subscribe([{ topic, qos: 1 }]);
    const p = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
    open.push(p);
    for (let i = 0; i < 40; i++) await p.pub(topic, String(i), { qos: 1 });
    await sleep(400);
    expect(r.publishes()).toHaveLength(32);
    for (const q of r.publishes().slice(0, 8)) r.send({ cmd: 'puback', messageId: q.messageId });
    await until(() => r.publishes().length === 40, 2000, 'the 8 queued messages');
    expect(r.publishes().map((q) => Number(q.payload.toString()))).toEqual([...Array(40).keys()]);
  });

  it('retry_interval = 1: an unacked QoS 1 delivery is resent with DUP=1 and the same packet id while connected', async () => {
    await withDaemon('[mqtt]\nretry_interval = 1\n', async (x) => {
      const topic = `dl/retry/${uid('t')}`;
      const r = raw(x.mqttPort, 4);
      await r.connect({ clientId: uid('retry'), keepalive: 0 });
      await r.subscribe([{ topic, qos: 1 }]);
      const p = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await p.pub(topic, 'again', { qos: 1 });
      const first = (await r.next((q) => q.cmd === 'publish')) as IPublishPacket;
      expect(first.dup).toBe(false);
      const again = (await r.next((q) => q.cmd === 'publish', 3500)) as IPublishPacket;
      expect(again.dup).toBe(true);
      expect(again.messageId).toBe(first.messageId);
      expect(again.payload.toString()).toBe('again');
      r.send({ cmd: 'puback', messageId: first.messageId });
      await sleep(2200);
      expect(r.publishes()).toHaveLength(2);
      await p.end(true);
    });
  });

  it('retry_interval = 0 (default): no resend while connected', async () => {
    const topic = `dl/noretry/${uid('t')}`;
    const r = raw(d.mqttPort, 4);
    await r.connect({ clientId: uid('noretry'), keepalive: 0 });
    await r.subscribe([{ topic, qos: 1 }]);
    const p = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
    open.push(p);
    await p.pub(topic, 'once', { qos: 1 });
    await r.next((q) => q.cmd === 'publish');
    await sleep(1500);
    expect(r.publishes()).toHaveLength(1);
  });
});

describe.concurrent('queue and expiry settings', () => {
  it('mqueue_store_qos0 = false: QoS 0 messages for an offline session are dropped (logged), QoS 1 kept', async () => {
    await withDaemon('[mqtt]\nmqueue_store_qos0 = false\n', async (x) => {
      const id = uid('noq0');
      const topic = `dl/q0/${uid('t')}`;
      const a = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await a.sub(topic, { qos: 1 });
      await a.end();
      const p = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await p.pub(topic, 'zero', { qos: 0 });
      await p.pub(topic, 'one', { qos: 1 });
      await p.end();
      const b = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await b.waitMessages(1, 2000);
      await sleep(300);
      expect(b.msgs.map((m) => m.text)).toEqual(['one']);
      expect(x.logs()).toMatch(/dropped_qos0_msg/);
      await b.end();
    });
  });

  it('session_expiry_interval = 1 applies to v3 clean session = 0 sessions', async () => {
    await withDaemon('[mqtt]\nsession_expiry_interval = 1\n', async (x) => {
      const id = uid('v3exp');
      const a = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await a.sub('dl/v3exp', { qos: 1 });
      await a.end();
      const quick = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      expect(quick.connack.sessionPresent).toBe(true);
      await quick.end();
      await sleep(1600);
      const late = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      expect(late.connack.sessionPresent).toBe(false);
      await late.end();
    });
  });

  it('upgrade_qos = true: a QoS 0 publish is delivered at the subscription QoS', async () => {
    await withDaemon('[mqtt]\nupgrade_qos = true\n', async (x) => {
      const s = await connectClient(x.mqttUrl, { protocolVersion: 5, clientId: uid('up') });
      await s.sub('dl/upgrade', { qos: 2 });
      const p = await connectClient(x.mqttUrl, { protocolVersion: 5, clientId: uid('p') });
      await p.pub('dl/upgrade', 'up', { qos: 0 });
      const [m] = await s.waitMessages(1, 2000);
      expect(m!.packet.qos).toBe(2);
      await s.end();
      await p.end();
    });
  });
});

describe('state across reconnects', () => {
  it('inbound QoS 2: PUBREC before a disconnect, PUBREL after resuming gets PUBCOMP 0x00 and the message is delivered once', async () => {
    const topic = `dl/q2resume/${uid('t')}`;
    const s = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('s') });
    open.push(s);
    await s.sub(topic, { qos: 2 });
    const id = uid('q2r');
    const r1 = raw(d.mqttPort, 5);
    await r1.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } } as never);
    r1.send({ cmd: 'publish', topic, payload: Buffer.from('exactly-once'), qos: 2, messageId: 77, retain: false, dup: false } as never);
    await r1.next((q) => q.cmd === 'pubrec' && q.messageId === 77);
    r1.destroy();
    await r1.waitClosed();
    const r2 = raw(d.mqttPort, 5);
    const ack = await r2.connect({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } } as never);
    expect(ack.sessionPresent).toBe(true);
    // The client resends the PUBLISH with DUP (allowed before PUBREL), then PUBREL.
    r2.send({ cmd: 'publish', topic, payload: Buffer.from('exactly-once'), qos: 2, messageId: 77, retain: false, dup: true } as never);
    await r2.next((q) => q.cmd === 'pubrec' && q.messageId === 77);
    r2.send({ cmd: 'pubrel', messageId: 77 });
    const comp = await r2.next((q) => q.cmd === 'pubcomp' && q.messageId === 77);
    expect(reasonOf(comp)).toBe(0);
    await s.waitMessages(1, 2000);
    await sleep(300);
    expect(s.msgs.filter((m) => m.text === 'exactly-once')).toHaveLength(1);
  });

  it('takeover with clean start = 0: unacked deliveries of the old connection are resent to the new one with DUP', async () => {
    const topic = `dl/takeover/${uid('t')}`;
    const id = uid('tko');
    const r1 = raw(d.mqttPort, 4);
    await r1.connect({ clientId: id, clean: false });
    await r1.subscribe([{ topic, qos: 1 }]);
    const p = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
    open.push(p);
    await p.pub(topic, 'pending', { qos: 1 });
    const first = (await r1.next((q) => q.cmd === 'publish')) as IPublishPacket;
    const r2 = raw(d.mqttPort, 4);
    const ack = await r2.connect({ clientId: id, clean: false });
    expect(ack.sessionPresent).toBe(true);
    const again = (await r2.next((q) => q.cmd === 'publish')) as IPublishPacket;
    expect(again.dup).toBe(true);
    expect(again.messageId).toBe(first.messageId);
    expect(again.payload.toString()).toBe('pending');
    await r1.waitClosed();
  });

  it('re-subscribing replaces the subscription (new QoS) without a duplicate route [MQTT-3.8.4-3]', async () => {
    const topic = `dl/resub/${uid('t')}`;
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('resub') });
    open.push(c);
    await c.sub(topic, { qos: 2 });
    await c.sub(topic, { qos: 0 });
    const p = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
    open.push(p);
    await p.pub(topic, 'x', { qos: 2 });
    await c.waitMessages(1, 2000);
    await sleep(300);
    expect(c.msgs).toHaveLength(1);
    expect(c.msgs[0]!.packet.qos).toBe(0);
    await c.c.unsubscribeAsync(topic);
    await p.pub(topic, 'after-unsub', { qos: 1 });
    await sleep(300);
    expect(c.msgs).toHaveLength(1);
  });
});

describe('durability across kill -9', () => {
  it('an acknowledged queued message and an unacked in-flight one both come back after SIGKILL (in-flight with DUP)', async () => {
    await withDaemon('', async (x) => {
      const id = uid('k9');
      const topic = `dl/k9/${uid('t')}`;
      const r1 = new RawClient(x.mqttPort, 4);
      raws.push(r1);
      await r1.connect({ clientId: id, clean: false });
      await r1.subscribe([{ topic, qos: 1 }]);
      const p = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await p.pub(topic, 'inflight', { qos: 1 });
      const first = (await r1.next((q) => q.cmd === 'publish')) as IPublishPacket;
      r1.destroy();
      await r1.waitClosed();
      await sleep(100);
      await p.pub(topic, 'queued', { qos: 1 }); // PUBACK only after the store committed it
      await p.end(true);
      await x.kill();
      await x.restart();
      const r2 = new RawClient(x.mqttPort, 4);
      raws.push(r2);
      const ack = await r2.connect({ clientId: id, clean: false });
      expect(ack.sessionPresent).toBe(true);
      const a = (await r2.next((q) => q.cmd === 'publish')) as IPublishPacket;
      const b = (await r2.next((q) => q.cmd === 'publish')) as IPublishPacket;
      expect([a.payload.toString(), a.dup, a.messageId]).toEqual(['inflight', true, first.messageId]);
      expect([b.payload.toString(), b.dup]).toEqual(['queued', false]);
    });
  });
});
