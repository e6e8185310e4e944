// Retained messages [MQTT-3.3.1-5..13]: set, replace, delete by empty payload, delivered on subscribe
// with RETAIN=1, v5 Retain Handling 0/1/2 and Retain-As-Published, not sent on $share subscriptions.
import { describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, uid, type TestClient, daemonPerFile } from '../helpers/mqtt-clients.js';

let d: Daemon;
const { open } = daemonPerFile((x) => (d = x));

async function client(version: 3 | 4 | 5 = 5, extra: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: uid(`r${version}`), ...extra });
  open.push(c);
  return c;
}

describe('retained messages', () => {
  it('is delivered to a later subscriber with RETAIN=1, replaced by a newer one, and deleted by an empty payload', async () => {
    const pub = await client(4);
    const topic = `ret/basic/${uid('t')}`;
    await pub.pub(topic, 'v1', { qos: 1, retain: true });
    const s1 = await client(4);
    await s1.sub(topic, { qos: 1 });
    const [m1] = await s1.waitMessages(1, 3000);
    expect(m1!.text).toBe('v1');
    expect(m1!.packet.retain).toBe(true);
    expect(m1!.packet.qos).toBe(1);

    await pub.pub(topic, 'v2', { qos: 1, retain: true });
    // A live subscriber gets the publish with RETAIN=0 [MQTT-3.3.1-9] (v3.1.1 has no RAP).
    const live = await s1.waitMessages(2, 3000);
    expect(live[1]!.text).toBe('v2');
    expect(live[1]!.packet.retain).toBe(false);
    const s2 = await client(3);
    await s2.sub(topic, { qos: 0 });
    const [m2] = await s2.waitMessages(1, 3000);
    expect(m2!.text).toBe('v2');
    expect(m2!.packet.retain).toBe(true);
    expect(m2!.packet.qos).toBe(0);

    await pub.pub(topic, '', { qos: 1, retain: true });
    const s3 = await client(5);
    await s3.sub(topic, { qos: 1 });
    await sleep(400);
    expect(s3.msgs).toHaveLength(0);
  });

  it('matches retained messages by wildcard filters, one per topic', async () => {
    const pub = await client(5);
    const base = `ret/wild/${uid('t')}`;
    await pub.pub(`${base}/a/x`, 'ax', { qos: 0, retain: true });
    await pub.pub(`${base}/b/x`, 'bx', { qos: 1, retain: true });
    await pub.pub(`${base}/b/y`, 'by', { qos: 1, retain: true });
    await pub.pub(`${base}/b/x`, 'bx2', { qos: 1, retain: true });
    const s = await client(5);
    await s.sub(`${base}/+/x`, { qos: 1 });
    const got = await s.waitMessages(2, 3000);
    await sleep(200);
    expect(s.msgs.map((m) => `${m.topic}=${m.text}`).sort()).toEqual([`${base}/a/x=ax`, `${base}/b/x=bx2`]);
    expect(got.every((m) => m.packet.retain)).toBe(true);
    const all = await client(4);
    await all.sub(`${base}/#`, { qos: 0 });
    await all.waitMessages(3, 3000);
    await sleep(200);
    expect(all.msgs).toHaveLength(3);
  });

  it('v5 Retain Handling: 0 sends on every subscribe, 1 only for a new subscription, 2 never', async () => {
    const pub = await client(5);
    const topic = `ret/rh/${uid('t')}`;
    await pub.pub(topic, 'kept', { qos: 1, retain: true });

    const rh0 = await client(5);
    await rh0.sub(topic, { qos: 1, rh: 0 });
    await rh0.waitMessages(1, 3000);
    await rh0.sub(topic, { qos: 1, rh: 0 });
    await rh0.waitMessages(2, 3000);
    expect(rh0.msgs.every((m) => m.packet.retain && m.text === 'kept')).toBe(true);

    const rh1 = await client(5);
    await rh1.sub(topic, { qos: 1, rh: 1 });
    await rh1.waitMessages(1, 3000);
    await rh1.sub(topic, { qos: 1, rh: 1 }); // existing subscription: nothing [MQTT-3.3.1-10]
    await sleep(400);
    expect(rh1.msgs).toHaveLength(1);

    const rh2 = await client(5);
    await rh2.sub(topic, { qos: 1, rh: 2 });
    await sleep(400);
    expect(rh2.msgs).toHaveLength(0);
    // ...but live messages still arrive
    await pub.pub(topic, 'live', { qos: 1 });
    const [live] = await rh2.waitMessages(1, 3000);
    expect(live!.text).toBe('live');
  });

  it('v5 Retain-As-Published keeps RETAIN=1 on live forwards; without it the flag is cleared', async () => {
    const rap = await client(5);
    const norap = await client(5);
    const topic = `ret/rap/${uid('t')}`;
    await rap.sub(topic, { qos: 1, rap: true });
    await norap.sub(topic, { qos: 1, rap: false });
    const pub = await client(5);
    await pub.pub(topic, 'r', { qos: 1, retain: true });
    await pub.pub(topic, 'n', { qos: 1, retain: false });
    const a = await rap.waitMessages(2, 3000);
    const b = await norap.waitMessages(2, 3000);
    expect(a.map((m) => [m.text, m.packet.retain])).toEqual([
      ['r', true],
      ['n', false],
    ]);
    expect(b.map((m) => [m.text, m.packet.retain])).toEqual([
      ['r', false],
      ['n', false],
    ]);
  });

  it('does not send retained messages to a $share subscription', async () => {
    const pub = await client(5);
    const topic = `ret/share/${uid('t')}`;
    await pub.pub(topic, 'kept', { qos: 1, retain: true });
    const s = await client(5);
    await s.sub(`$share/g1/${topic}`, { qos: 1 });
    await sleep(400);
    expect(s.msgs).toHaveLength(0);
  });

  it('keeps retained messages across a daemon restart', async () => {
    const d2 = await startDaemon();
    try {
      const topic = `ret/durable/${uid('t')}`;
      const pub = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await pub.pub(topic, 'survives', { qos: 1, retain: true });
      await pub.end();
      await d2.restart();
      const s = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: uid('s') });
      await s.sub(topic, { qos: 1 });
      const [m] = await s.waitMessages(1, 3000);
      expect(m!.text).toBe('survives');
      expect(m!.packet.retain).toBe(true);
      await s.end();
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});

describe.concurrent('retainer limits', () => {
  it('max_payload_size: a larger retained payload is delivered live but not retained', async () => {
    const d2 = await startDaemon({ config: '[retainer]\nmax_payload_size = 100\n' });
    try {
      const pub = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('p') });
      const live = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('live') });
      await live.sub('lim/#', { qos: 1 });
      await pub.pub('lim/big', Buffer.alloc(200, 1), { qos: 1, retain: true });
      await pub.pub('lim/small', Buffer.alloc(100, 1), { qos: 1, retain: true });
      await live.waitMessages(2, 2000);
      const s = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('s') });
      await s.sub('lim/#', { qos: 1 });
      await s.waitMessages(1, 2000);
      await sleep(300);
      expect(s.msgs.map((m) => m.topic)).toEqual(['lim/small']);
      expect(d2.logs()).toMatch(/retain_failed_for_payload_size_exceeded_limit/);
      for (const c of [live, pub, s]) await c.end(true);
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });

  it('max_retained_messages: new topics are refused when the table is full, existing ones can be replaced', async () => {
    const d2 = await startDaemon({ config: '[retainer]\nmax_retained_messages = 5\n' });
    try {
      // The broker's own retained $SYS entries exist but do not count against the user's limit.
      const sys = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('sys') });
      await sys.sub('$SYS/#', { qos: 0 });
      await sleep(300);
      expect(sys.msgs.filter((m) => m.packet.retain).length).toBeGreaterThanOrEqual(3);
      const room = 5;
      const pub = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('p') });
      for (let i = 0; i < room; i++) await pub.pub(`lim/t${i}`, `v${i}`, { qos: 1, retain: true });
      await pub.pub('lim/overflow', 'no-room', { qos: 1, retain: true });
      await pub.pub('lim/t0', 'replaced', { qos: 1, retain: true });
      const s = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('s') });
      await s.sub('lim/#', { qos: 1 });
      await s.waitMessages(room, 2000);
      await sleep(300);
      const got = s.msgs.map((m) => `${m.topic}=${m.text}`).sort();
      expect(got).not.toContain('lim/overflow=no-room');
      expect(got).toContain('lim/t0=replaced');
      expect(got).toHaveLength(room);
      expect(d2.logs()).toMatch(/table_is_full/);
      for (const c of [sys, pub, s]) await c.end(true);
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });

  it('msg_expiry_interval: retained messages without their own expiry are dropped after it', async () => {
    const d2 = await startDaemon({ config: '[retainer]\nmsg_expiry_interval = 1\n' });
    try {
      const pub = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('p') });
      await pub.pub('lim/exp', 'short-lived', { qos: 1, retain: true });
      const s = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('s') });
      await s.sub('lim/exp', { qos: 1 });
      await s.waitMessages(1, 2000);
      await sleep(1300);
      const late = await connectClient(d2.mqttUrl, { protocolVersion: 5, clientId: uid('late') });
      await late.sub('lim/exp', { qos: 1 });
      await sleep(300);
      expect(late.msgs).toHaveLength(0);
      for (const c of [pub, s, late]) await c.end(true);
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});
