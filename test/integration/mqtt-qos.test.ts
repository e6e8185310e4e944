// QoS 0/1/2 in both directions for MQTT 3.1, 3.1.1 and 5.0 against the real daemon; packet ids,
// in-flight redelivery with DUP on session resume [MQTT-4.4.0-1], and per-topic order [MQTT-4.6.0].
import { describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, type TestClient, daemonPerFile } from '../helpers/mqtt-clients.js';
import type { IPublishPacket } from 'mqtt-packet';

let d: Daemon;
const { open, raws } = daemonPerFile((x) => (d = x));

async function client(version: 3 | 4 | 5, extra: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: uid(`q${version}`), ...extra });
  open.push(c);
  return c;
}

describe('QoS in both directions', () => {
  for (const version of [3, 4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      it(`v${version} QoS ${qos}: publisher acked, subscriber receives at min(pub, sub) QoS`, async () => {
        const sub = await client(version);
        const pub = await client(version);
        const topic = `qos/${version}/${qos}/${uid('t')}`;
        const grant = await sub.sub(topic, { qos });
        expect(grant[0]!.qos).toBe(qos);
        // For QoS 1/2 publishAsync resolves on PUBACK / PUBCOMP, i.e. the broker completed the flow.
        await pub.pub(topic, `hello-${qos}`, { qos });
        const [m] = await sub.waitMessages(1, 3000);
        expect(m!.topic).toBe(topic);
        expect(m!.text).toBe(`hello-${qos}`);
        expect(m!.packet.qos).toBe(qos);
        expect(m!.packet.retain).toBe(false);
        if (qos > 0) expect(m!.packet.messageId).toBeGreaterThan(0);
      });
    }
  }

  it('downgrades to the subscription QoS and never upgrades (v3.1.1 sub at 1, publishes at 0 and 2)', async () => {
    const sub = await client(4);
    const pub = await client(5);
    const topic = `qos/downgrade/${uid('t')}`;
    await sub.sub(topic, { qos: 1 });
    await pub.pub(topic, 'two', { qos: 2 });
    await pub.pub(topic, 'zero', { qos: 0 });
    const got = await sub.waitMessages(2, 3000);
    const byText = Object.fromEntries(got.map((m) => [m.text, m.packet.qos]));
    expect(byText).toEqual({ two: 1, zero: 0 });
  });

  it('cross-version: v3.1 publisher -> v5 subscriber and v5 publisher -> v3.1 subscriber at QoS 2', async () => {
    const s3 = await client(3);
    const s5 = await client(5);
    const p3 = await client(3);
    const p5 = await client(5);
    const topic = `qos/cross/${uid('t')}`;
    await s3.sub(topic, { qos: 2 });
    await s5.sub(topic, { qos: 2 });
    await p3.pub(topic, 'from-v3', { qos: 2 });
    await p5.pub(topic, 'from-v5', { qos: 2 });
    for (const s of [s3, s5]) {
      const got = await s.waitMessages(2, 3000);
      expect(got.map((m) => m.text).sort()).toEqual(['from-v3', 'from-v5']);
      expect(got.every((m) => m.packet.qos === 2)).toBe(true);
    }
  });

  it('uses distinct non-zero packet ids for concurrent in-flight deliveries and completes the QoS 2 handshake', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    const id = uid('raw');
    const ack = await r.connect({ clientId: id });
    expect(ack.returnCode).toBe(0);
    const topic = `qos/pids/${uid('t')}`;
    r.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic, qos: 2 }] });
    const suback = await r.next((p) => p.cmd === 'suback');
    expect((suback as { granted: number[] }).granted).toEqual([2]);
    const pub = await client(4);
    for (let i = 0; i < 5; i++) await pub.pub(topic, `m${i}`, { qos: 2 });
    for (let i = 0; i < 5; i++) await r.next((p) => p.cmd === 'publish');
    const pubs = r.publishes();
    expect(pubs.map((p) => p.payload.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const pids = pubs.map((p) => p.messageId!);
    expect(pids.every((x) => x > 0 && x <= 65535)).toBe(true);
    expect(new Set(pids).size).toBe(5);
    // PUBREC -> broker answers PUBREL with the same id -> PUBCOMP
    for (const pid of pids) r.send({ cmd: 'pubrec', messageId: pid });
    for (const pid of pids) {
      const rel = await r.next((p) => p.cmd === 'pubrel' && p.messageId === pid);
      expect(rel.messageId).toBe(pid);
      r.send({ cmd: 'pubcomp', messageId: pid });
    }
    r.send({ cmd: 'pingreq' });
    await r.next((p) => p.cmd === 'pingresp');
  });

  it('inbound QoS 2: a resent PUBLISH with the same id before PUBREL is delivered once [MQTT-4.3.3-9]', async () => {
    const sub = await client(4);
    const topic = `qos/exactly-once/${uid('t')}`;
    await sub.sub(topic, { qos: 2 });
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.connect({ clientId: uid('rawpub') });
    const pkt = { cmd: 'publish', topic, payload: Buffer.from('once'), qos: 2, messageId: 42, retain: false, dup: false } as const;
    r.send(pkt);
    await r.next((p) => p.cmd === 'pubrec' && p.messageId === 42);
    r.send({ ...pkt, dup: true });
    await r.next((p) => p.cmd === 'pubrec' && p.messageId === 42);
    r.send({ cmd: 'pubrel', messageId: 42 });
    await r.next((p) => p.cmd === 'pubcomp' && p.messageId === 42);
    await sub.waitMessages(1, 3000);
    await sleep(300);
    expect(sub.msgs.filter((m) => m.topic === topic)).toHaveLength(1);
  });
});

describe('in-flight redelivery on resume', () => {
  for (const version of [4, 5] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'}: unacked QoS 1 and QoS 2 deliveries are resent with DUP=1 and the same packet id; PUBREL is resent for PUBREC'd ones`, async () => {
      const id = uid(`dup${version}`);
      const topic = `qos/dup/${uid('t')}`;
      const persist = version === 5 ? { properties: { sessionExpiryInterval: 60 } } : {};
      const r1 = new RawClient(d.mqttPort, version);
      raws.push(r1);
      await r1.connect({ clientId: id, clean: false, ...persist } as never);
      r1.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${topic}/#`, qos: 2 }] });
      await r1.next((p) => p.cmd === 'suback');
      const pub = await client(4);
      await pub.pub(`${topic}/a`, 'q1-unacked', { qos: 1 });
      await pub.pub(`${topic}/b`, 'q2-unacked', { qos: 2 });
      await pub.pub(`${topic}/c`, 'q2-pubrecd', { qos: 2 });
      const first: IPublishPacket[] = [];
      for (let i = 0; i < 3; i++) first.push((await r1.next((p) => p.cmd === 'publish')) as IPublishPacket);
      expect(first.map((p) => p.dup)).toEqual([false, false, false]);
      const c = first.find((p) => p.payload.toString() === 'q2-pubrecd')!;
      r1.send({ cmd: 'pubrec', messageId: c.messageId });
      await r1.next((p) => p.cmd === 'pubrel' && p.messageId === c.messageId);
      r1.destroy(); // no acks, no DISCONNECT
      await r1.waitClosed();
      await sleep(200);

      const r2 = new RawClient(d.mqttPort, version);
      raws.push(r2);
      const ack = await r2.connect({ clientId: id, clean: false, ...persist } as never);
      expect(ack.sessionPresent).toBe(true);
      const a = first.find((p) => p.payload.toString() === 'q1-unacked')!;
      const b = first.find((p) => p.payload.toString() === 'q2-unacked')!;
      const ra = (await r2.next((p) => p.cmd === 'publish' && p.messageId === a.messageId)) as IPublishPacket;
      expect(ra.dup).toBe(true);
      expect(ra.qos).toBe(1);
      expect(ra.payload.toString()).toBe('q1-unacked');
      const rb = (await r2.next((p) => p.cmd === 'publish' && p.messageId === b.messageId)) as IPublishPacket;
      expect(rb.dup).toBe(true);
      expect(rb.qos).toBe(2);
      const rel = await r2.next((p) => p.cmd === 'pubrel' && p.messageId === c.messageId);
      expect(rel.messageId).toBe(c.messageId);
      // The PUBREC'd message itself must not be sent again [MQTT-4.3.3-?]: only its PUBREL.
      expect(r2.publishes().filter((p) => p.payload.toString() === 'q2-pubrecd')).toHaveLength(0);
      r2.send({ cmd: 'puback', messageId: a.messageId });
      r2.send({ cmd: 'pubrec', messageId: b.messageId });
      await r2.next((p) => p.cmd === 'pubrel' && p.messageId === b.messageId);
      r2.send({ cmd: 'pubcomp', messageId: b.messageId });
      r2.send({ cmd: 'pubcomp', messageId: c.messageId });
      r2.send({ cmd: 'disconnect' });
      await r2.waitClosed();

      // Everything was acknowledged: a third connection gets nothing again.
      const r3 = new RawClient(d.mqttPort, version);
      raws.push(r3);
      const ack3 = await r3.connect({ clientId: id, clean: false, ...persist } as never);
      expect(ack3.sessionPresent).toBe(true);
      await sleep(400);
      expect(r3.publishes()).toHaveLength(0);
      r3.send({ cmd: 'disconnect' });
    });
  }
});

describe('ordering', () => {
  // [MQTT-4.6.0-6] order is guaranteed per topic and QoS (EMQX, like the spec, sends QoS 0 past a full
  // in-flight window), so check each QoS stream separately.
  it('keeps publish order per topic and QoS for 200 mixed QoS 0/1/2 messages', async () => {
    const sub = await client(5);
    const pub = await client(4);
    const topic = `qos/order/${uid('t')}`;
    await sub.sub(topic, { qos: 2 });
    const n = 200;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) sends.push(pub.pub(topic, String(i), { qos: (i % 3) as 0 | 1 | 2 }));
    await Promise.all(sends);
    const got = await sub.waitMessages(n, 8000);
    expect(got).toHaveLength(n);
    for (const q of [0, 1, 2]) {
      const want = [...Array(n).keys()].filter((i) => i % 3 === q);
      expect(got.filter((m) => Number(m.text) % 3 === q).map((m) => Number(m.text))).toEqual(want);
      expect(got.filter((m) => Number(m.text) % 3 === q).every((m) => m.packet.qos === q)).toBe(true);
    }
  });

  it('keeps order of queued QoS 1 messages delivered to a resumed v3.1.1 session, behind a small in-flight window', async () => {
    const d2 = await startDaemon({ config: '[mqtt]\nmax_inflight = 2\n' });
    try {
      const id = uid('ord');
      const topic = `qos/order-offline/${uid('t')}`;
      const s1 = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await s1.sub(topic, { qos: 1 });
      await s1.end();
      const pub = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      for (let i = 0; i < 30; i++) await pub.pub(topic, String(i), { qos: 1 });
      await pub.end();
      const s2 = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      expect(s2.connack.sessionPresent).toBe(true);
      const got = await s2.waitMessages(30, 5000);
      expect(got.map((m) => Number(m.text))).toEqual([...Array(30).keys()]);
      await s2.end();
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});

describe('fan-out', () => {
  it('30 subscribers (mixed versions) each get every QoS 0/1/2 message once, in order, with their own packet ids', async () => {
    const topic = `qos/fanout/${uid('t')}`;
    const subs: RawClient[] = [];
    for (let i = 0; i < 30; i++) {
      const v = ([3, 4, 5] as const)[i % 3]!;
      const r = new RawClient(d.mqttPort, v);
      raws.push(r);
      await r.connect({ clientId: uid(`fan${i}`) });
      await r.subscribe([{ topic, qos: 2 }]);
      subs.push(r);
    }
    const pub = await client(5);
    for (let i = 0; i < 12; i++) await pub.pub(topic, `m${i}`, { qos: (i % 3) as 0 | 1 | 2 });
    const deadline = Date.now() + 5000;
    while (subs.some((r) => r.publishes().length < 12) && Date.now() < deadline) await sleep(20);
    for (const r of subs) {
      const ps = r.publishes();
      expect(ps.map((p) => p.payload.toString())).toEqual([...Array(12).keys()].map((i) => `m${i}`));
      expect(ps.map((p) => p.qos)).toEqual([...Array(12).keys()].map((i) => i % 3));
      const ids = ps.filter((p) => p.qos > 0).map((p) => p.messageId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ps.every((p) => p.topic === topic)).toBe(true);
      // acknowledge so the window never fills
      for (const p of ps) if (p.qos === 1) r.send({ cmd: 'puback', messageId: p.messageId });
    }
  });
});

