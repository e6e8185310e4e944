// MQTT 5 features end to end: topic aliases both ways [MQTT-3.3.2-10..12], message expiry
// [MQTT-3.3.2-5, -6], Receive Maximum [MQTT-3.3.4-9], Maximum Packet Size both ways
// [MQTT-3.1.2-24, -25], subscription identifiers [MQTT-3.3.4-3], No Local [MQTT-3.8.3-3], property
// pass-through [MQTT-3.3.2-15..20], reason codes (PUBACK/PUBREC 0x10, UNSUBACK 0x11).
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import type { Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, type TestClient, reasonOf, daemonPerFile } from '../helpers/mqtt-clients.js';

let d: Daemon;
const { open, raws } = daemonPerFile((x) => (d = x));

async function client(extra: Parameters<typeof connectClient>[1] = {}, version: 3 | 4 | 5 = 5): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: uid('v5'), ...extra });
  open.push(c);
  return c;
}

function raw(): RawClient {
  const r = new RawClient(d.mqttPort, 5);
  raws.push(r);
  return r;
}

const pub0 = (topic: string, payload: string, properties?: Record<string, unknown>) =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, ...(properties ? { properties } : {}) }) as never;

describe('topic aliases', () => {
  it('client -> server: an alias set with the topic is resolved on later publishes with an empty topic', async () => {
    const topic = `v5/alias/in/${uid('t')}`;
    const s = await client();
    await s.sub(topic, { qos: 0 });
    const r = raw();
    const ack = await r.connect({ clientId: uid('ain') });
    expect(ack.properties?.topicAliasMaximum).toBeGreaterThan(0);
    r.send(pub0(topic, 'first', { topicAlias: 3 }));
    r.send(pub0('', 'second', { topicAlias: 3 }));
    r.send(pub0('', 'third', { topicAlias: 3 }));
    const got = await s.waitMessages(3, 2000);
    expect(got.map((m) => [m.topic, m.text])).toEqual([
      [topic, 'first'],
      [topic, 'second'],
      [topic, 'third'],
    ]);
  });

  it('client -> server: an alias that was never set is a Protocol Error (DISCONNECT 0x82)', async () => {
    const r = raw();
    await r.connect({ clientId: uid('aunk') });
    r.send(pub0('', 'x', { topicAlias: 9 }));
    await r.waitClosed();
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x82);
  });

  it('server -> client: with Topic-Alias-Maximum set, repeated topics are sent as alias only', async () => {
    const topic = `v5/alias/out/${uid('t')}`;
    const r = raw();
    await r.connect({ clientId: uid('aout'), properties: { topicAliasMaximum: 5 } } as never);
    expect(await r.subscribe([{ topic, qos: 0 }])).toEqual([0]);
    const p = await client();
    for (let i = 0; i < 3; i++) await p.pub(topic, String(i), { qos: 0 });
    for (let i = 0; i < 3; i++) await r.next((x) => x.cmd === 'publish');
    const pubs = r.publishes();
    const alias = pubs[0]!.properties?.topicAlias;
    expect(pubs[0]!.topic).toBe(topic);
    expect(alias).toBeGreaterThanOrEqual(1);
    expect(alias).toBeLessThanOrEqual(5);
    for (const q of pubs.slice(1)) {
      expect(q.topic).toBe('');
      expect(q.properties?.topicAlias).toBe(alias);
    }
  });

  it('server -> client: no aliases when the client did not allow them', async () => {
    const topic = `v5/alias/none/${uid('t')}`;
    const r = raw();
    await r.connect({ clientId: uid('anone') });
    await r.subscribe([{ topic, qos: 0 }]);
    const p = await client();
    await p.pub(topic, 'a', { qos: 0 });
    await p.pub(topic, 'b', { qos: 0 });
    await r.next((x) => x.cmd === 'publish');
    await r.next((x) => x.cmd === 'publish');
    for (const q of r.publishes()) {
      expect(q.topic).toBe(topic);
      expect(q.properties?.topicAlias).toBeUndefined();
    }
  });
});

describe('message expiry', () => {
  it('an expired message is not delivered to a reconnecting session; a live one carries the decremented interval', async () => {
    const id = uid('exp');
    const topic = `v5/expiry/${uid('t')}`;
    const opts = { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } };
    const s1 = await client(opts);
    await s1.sub(topic, { qos: 1 });
    await s1.end();
    const p = await client();
    await p.pub(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await p.pub(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 10 } });
    await p.pub(topic, 'forever', { qos: 1 });
    await sleep(1600);
    const s2 = await client(opts);
    expect(s2.connack.sessionPresent).toBe(true);
    await s2.waitMessages(2, 2000);
    await sleep(200);
    expect(s2.msgs.map((m) => m.text)).toEqual(['long', 'forever']);
    const left = s2.msgs[0]!.packet.properties?.messageExpiryInterval;
    expect(left).toBeGreaterThanOrEqual(7);
    expect(left).toBeLessThanOrEqual(9);
    expect(s2.msgs[1]!.packet.properties?.messageExpiryInterval).toBeUndefined();
  });

  it('an expired retained message is not sent to new subscribers', async () => {
    const topic = `v5/expiry/ret/${uid('t')}`;
    const p = await client();
    await p.pub(topic, 'soon-gone', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    const early = await client();
    await early.sub(topic, { qos: 1 });
    const [m] = await early.waitMessages(1, 2000);
    expect(m!.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(1);
    await sleep(1300);
    const late = await client();
    await late.sub(topic, { qos: 1 });
    await sleep(300);
    expect(late.msgs).toHaveLength(0);
  });
});

describe('Receive Maximum', () => {
  it('a client with Receive-Maximum 2 that does not ack gets only 2 QoS 1 messages; each PUBACK releases one more', async () => {
    const topic = `v5/rm/${uid('t')}`;
    const r = raw();
    await r.connect({ clientId: uid('rm'), properties: { receiveMaximum: 2 } } as never);
    await r.subscribe([{ topic, qos: 1 }]);
    const p = await client();
    for (let i = 0; i < 5; i++) await p.pub(topic, String(i), { qos: 1 });
    await sleep(400);
    expect(r.publishes().map((x) => x.payload.toString())).toEqual(['0', '1']);
    r.send({ cmd: 'puback', messageId: r.publishes()[0]!.messageId });
    await r.next((x) => x.cmd === 'publish' && x.payload.toString() === '0');
    await r.next((x) => x.cmd === 'publish' && x.payload.toString() === '1');
    await r.next((x) => x.cmd === 'publish' && x.payload.toString() === '2');
    await sleep(300);
    expect(r.publishes()).toHaveLength(3);
    // QoS 0 is not limited by the window [MQTT-3.3.4-9 applies to QoS 1/2].
    await p.pub(topic, 'q0', { qos: 0 });
    await sleep(300);
    expect(r.publishes().map((x) => x.payload.toString())).toContain('q0');
  });

  it('QoS 2 deliveries count against Receive-Maximum until PUBCOMP', async () => {
    const topic = `v5/rm2/${uid('t')}`;
    const r = raw();
    await r.connect({ clientId: uid('rm2'), properties: { receiveMaximum: 1 } } as never);
    await r.subscribe([{ topic, qos: 2 }]);
    const p = await client();
    for (let i = 0; i < 3; i++) await p.pub(topic, String(i), { qos: 2 });
    const first = (await r.next((x) => x.cmd === 'publish')) as IPublishPacket;
    r.send({ cmd: 'pubrec', messageId: first.messageId });
    await r.next((x) => x.cmd === 'pubrel');
    await sleep(300);
    expect(r.publishes()).toHaveLength(1); // PUBREC alone does not free the slot
    r.send({ cmd: 'pubcomp', messageId: first.messageId });
    await r.next((x) => x.cmd === 'publish' && x.payload.toString() === '1');
  });
});

describe('Maximum Packet Size', () => {
  it('deliveries larger than the client’s Maximum-Packet-Size are dropped, smaller ones still arrive (QoS 0 and 1)', async () => {
    const topic = `v5/mps/${uid('t')}`;
    const r = raw();
    await r.connect({ clientId: uid('mps'), properties: { maximumPacketSize: 200 } } as never);
    await r.subscribe([{ topic, qos: 1 }]);
    const p = await client();
    await p.pub(topic, 'x'.repeat(500), { qos: 1 });
    await p.pub(topic, 'y'.repeat(500), { qos: 0 });
    await p.pub(topic, 'small', { qos: 1 });
    await p.pub(topic, 'small0', { qos: 0 });
    await sleep(500);
    const got = r.publishes().map((x) => x.payload.toString());
    expect(got).toEqual(['small', 'small0']);
    expect(r.packets.every((x) => (x.length ?? 0) <= 200)).toBe(true);
    expect(r.closed).toBe(false);
  });

  it('CONNACK advertises the server Maximum-Packet-Size (default 1 MB)', async () => {
    const c = await client();
    expect(c.connack.properties?.maximumPacketSize).toBe(1048576);
  });
});

describe('subscription options and properties', () => {
  it('subscription identifiers: a message matching two subscriptions carries both identifiers', async () => {
    const base = `v5/subid/${uid('t')}`;
    const r = raw();
    await r.connect({ clientId: uid('sid') });
    await r.subscribe([{ topic: `${base}/+`, qos: 1 }], { subscriptionIdentifier: 7 });
    await r.subscribe([{ topic: `${base}/a`, qos: 1 }], { subscriptionIdentifier: 9 });
    await r.subscribe([{ topic: `${base}/#`, qos: 0 }]);
    const p = await client();
    await p.pub(`${base}/a`, 'both', { qos: 1 });
    const m = (await r.next((x) => x.cmd === 'publish')) as IPublishPacket;
    const ids = m.properties?.subscriptionIdentifier;
    expect((Array.isArray(ids) ? ids : [ids]).sort()).toEqual([7, 9]);
    expect(m.qos).toBe(1);
    await sleep(200);
    expect(r.publishes()).toHaveLength(1);
  });

  it('retained messages sent on subscribe carry that subscription’s identifier', async () => {
    const topic = `v5/subid-ret/${uid('t')}`;
    const p = await client();
    await p.pub(topic, 'kept', { qos: 1, retain: true });
    const r = raw();
    await r.connect({ clientId: uid('sidr') });
    await r.subscribe([{ topic, qos: 1 }], { subscriptionIdentifier: 42 });
    const m = (await r.next((x) => x.cmd === 'publish')) as IPublishPacket;
    expect(m.retain).toBe(true);
    const ids = m.properties?.subscriptionIdentifier;
    expect(Array.isArray(ids) ? ids : [ids]).toEqual([42]);
  });

  it('No Local: a client does not get its own messages on that subscription; others do', async () => {
    const topic = `v5/nl/${uid('t')}`;
    const me = await client();
    await me.sub(topic, { qos: 1, nl: true });
    const other = await client();
    await other.sub(topic, { qos: 1 });
    await me.pub(topic, 'mine', { qos: 1 });
    await other.waitMessages(1, 2000);
    await sleep(300);
    expect(me.msgs).toHaveLength(0);
    await other.pub(topic, 'theirs', { qos: 1 });
    const [m] = await me.waitMessages(1, 2000);
    expect(m!.text).toBe('theirs');
  });

  it('user properties, response topic, correlation data, content type and payload format pass through in order', async () => {
    const topic = `v5/props/${uid('t')}`;
    const s = await client();
    await s.sub(topic, { qos: 1 });
    const p = await client();
    await p.pub(topic, 'req', {
      qos: 1,
      properties: {
        userProperties: { a: '1', b: ['x', 'y'] },
        responseTopic: 'v5/reply/here',
        correlationData: Buffer.from([1, 2, 3, 0xff]),
        contentType: 'application/json',
        payloadFormatIndicator: true,
      },
    });
    const [m] = await s.waitMessages(1, 2000);
    const props = m!.packet.properties!;
    expect(props.userProperties).toEqual({ a: '1', b: ['x', 'y'] });
    expect(props.responseTopic).toBe('v5/reply/here');
    expect(Buffer.from(props.correlationData!)).toEqual(Buffer.from([1, 2, 3, 0xff]));
    expect(props.contentType).toBe('application/json');
    expect(props.payloadFormatIndicator).toBe(true);
  });

  it('a v3.1.1 subscriber gets the payload of a v5 publish without properties', async () => {
    const topic = `v5/to3/${uid('t')}`;
    const s = await client({}, 4);
    await s.sub(topic, { qos: 1 });
    const p = await client();
    await p.pub(topic, 'plain', { qos: 1, properties: { userProperties: { k: 'v' }, contentType: 'text/plain' } });
    const [m] = await s.waitMessages(1, 2000);
    expect(m!.text).toBe('plain');
    expect(m!.packet.properties).toBeUndefined();
  });
});

describe('reason codes', () => {
  it('PUBACK 0x10 / PUBREC 0x10 when nobody subscribes; 0x00 when somebody does', async () => {
    const r = raw();
    await r.connect({ clientId: uid('rc') });
    const lonely = `v5/nobody/${uid('t')}`;
    r.send({ cmd: 'publish', topic: lonely, payload: Buffer.from('x'), qos: 1, messageId: 11, retain: false, dup: false } as never);
    expect(reasonOf(await r.next((x) => x.cmd === 'puback' && x.messageId === 11))).toBe(0x10);
    r.send({ cmd: 'publish', topic: lonely, payload: Buffer.from('x'), qos: 2, messageId: 12, retain: false, dup: false } as never);
    expect(reasonOf(await r.next((x) => x.cmd === 'pubrec' && x.messageId === 12))).toBe(0x10);
    r.send({ cmd: 'pubrel', messageId: 12 });
    await r.next((x) => x.cmd === 'pubcomp' && x.messageId === 12);
    const busy = `v5/somebody/${uid('t')}`;
    const s = await client();
    await s.sub(busy, { qos: 1 });
    r.send({ cmd: 'publish', topic: busy, payload: Buffer.from('x'), qos: 1, messageId: 13, retain: false, dup: false } as never);
    expect(reasonOf(await r.next((x) => x.cmd === 'puback' && x.messageId === 13))).toBe(0);
  });

  it('UNSUBACK 0x11 for a subscription that did not exist, 0x00 for one that did', async () => {
    const r = raw();
    await r.connect({ clientId: uid('unsub') });
    await r.subscribe([{ topic: 'v5/unsub/a', qos: 0 }]);
    r.send({ cmd: 'unsubscribe', messageId: 21, unsubscriptions: ['v5/unsub/a', 'v5/unsub/never'] } as never);
    const ack = (await r.next((x) => x.cmd === 'unsuback' && x.messageId === 21)) as { granted?: number[]; reasonCodes?: number[] };
    expect(ack.granted ?? ack.reasonCodes).toEqual([0x00, 0x11]);
  });
});
