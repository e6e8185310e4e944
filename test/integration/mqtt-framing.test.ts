// The PUBLISH / ack decoding path on the wire: packets split byte by byte or packed many per TCP
// segment, large and empty payloads, every v5 PUBLISH property passed through, and the malformed
// variants the spec names (duplicate properties, client-sent Subscription-Identifier, property
// length overruns, wrong ack lengths, PUBREL flags).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { generate } from 'mqtt-packet';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let sub: TestClient;
const raws: RawClient[] = [];

beforeAll(async () => {
  d = await startDaemon();
  sub = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('fsub') });
  await sub.sub('fr/#', { qos: 2 });
});

afterAll(async () => {
  await sub?.end(true);
  for (const r of raws) r.destroy();
  await d?.stop();
  d?.cleanup();
});

async function connected(v: 4 | 5): Promise<RawClient> {
  const r = new RawClient(d.mqttPort, v);
  raws.push(r);
  await r.connect({ clientId: uid(`f${v}`) });
  return r;
}

function disconnectCode(r: RawClient): number | null {
  const p = r.packets.find((x) => x.cmd === 'disconnect');
  return p ? ((p as { reasonCode?: number }).reasonCode ?? 0) : null;
}

/** v5 PUBLISH QoS 1 (pid 1) with a raw property block. */
function v5PublishWithProps(topic: string, props: number[], payload = 'x'): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([0, t.length]), t, Buffer.from([0, 1, props.length]), Buffer.from(props), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x32, body.length]), body]);
}

describe('framing', () => {
  it('a QoS 1 PUBLISH sent one byte at a time is decoded, delivered and acknowledged', async () => {
    const r = await connected(4);
    const bytes = generate({ cmd: 'publish', topic: 'fr/bytewise', payload: Buffer.from('slowly'), qos: 1, messageId: 5, retain: false, dup: false });
    for (const b of bytes) {
      r.sendBytes(Buffer.from([b]));
      await sleep(2);
    }
    await r.next((p) => p.cmd === 'puback' && p.messageId === 5);
    await sub.waitMessages(1, 2000, (m) => m.topic === 'fr/bytewise' && m.text === 'slowly');
  });

  it('100 PUBLISHes packed into one write are all decoded in order', async () => {
    const r = await connected(5);
    const all = Buffer.concat(
      Array.from({ length: 100 }, (_, i) => generate({ cmd: 'publish', topic: 'fr/packed', payload: Buffer.from(String(i)), qos: 1, messageId: i + 1, retain: false, dup: false }, { protocolVersion: 5 })),
    );
    r.sendBytes(all);
    const got = await sub.waitMessages(100, 3000, (m) => m.topic === 'fr/packed');
    expect(got.map((m) => Number(m.text))).toEqual([...Array(100).keys()]);
    await sleep(100);
    expect(r.packets.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual([...Array(100).keys()].map((i) => i + 1));
  });

  it('a 300 KB payload and an empty payload (non-retained) pass intact', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('big') });
    const big = Buffer.alloc(300 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await c.pub('fr/big', big, { qos: 1 });
    await c.pub('fr/empty', Buffer.alloc(0), { qos: 2 });
    const [m] = await sub.waitMessages(1, 3000, (x) => x.topic === 'fr/big');
    expect(Buffer.compare(m!.payload, big)).toBe(0);
    const [e] = await sub.waitMessages(1, 3000, (x) => x.topic === 'fr/empty');
    expect(e!.payload.length).toBe(0);
    await c.end();
  });

  it('every v5 PUBLISH property a client may send passes through; user properties keep order and duplicates', async () => {
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    await r.connect({ clientId: uid('props') });
    const s = new RawClient(d.mqttPort, 5);
    raws.push(s);
    await s.connect({ clientId: uid('propsub') });
    await s.subscribe([{ topic: 'fr/props', qos: 1 }]);
    r.send({
      cmd: 'publish',
      topic: 'fr/props',
      payload: Buffer.from('{"a":1}'),
      qos: 1,
      messageId: 9,
      retain: false,
      dup: false,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 120,
        contentType: 'application/json',
        responseTopic: 'fr/reply',
        correlationData: Buffer.from('corr-1'),
        userProperties: { k: ['v1', 'v2'], z: 'last' },
      },
    } as never);
    await r.next((p) => p.cmd === 'puback' && p.messageId === 9);
    const m = (await s.next((p) => p.cmd === 'publish')) as IPublishPacket;
    const pr = m.properties!;
    expect(pr.payloadFormatIndicator).toBe(true);
    expect(pr.messageExpiryInterval).toBeGreaterThanOrEqual(119);
    expect(pr.messageExpiryInterval).toBeLessThanOrEqual(120);
    expect(pr.contentType).toBe('application/json');
    expect(pr.responseTopic).toBe('fr/reply');
    expect(Buffer.from(pr.correlationData!).toString()).toBe('corr-1');
    expect(pr.userProperties).toEqual({ k: ['v1', 'v2'], z: 'last' });
    expect(m.payload.toString()).toBe('{"a":1}');
  });
});

describe('pipelining', () => {
  it('CONNECT, SUBSCRIBE and a QoS 1 PUBLISH in one write: CONNACK, SUBACK, PUBACK and the message come back in order', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.ready();
    const topic = `fr/pipe/${uid('t')}`;
    r.sendBytes(
      Buffer.concat([
        generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: uid('pipe') } as never),
        generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as never),
        generate({ cmd: 'publish', topic, payload: Buffer.from('self'), qos: 1, messageId: 2, retain: false, dup: false }),
      ]),
    );
    await r.next((p) => p.cmd === 'publish');
    await r.next((p) => p.cmd === 'puback');
    const order = r.packets.map((p) => p.cmd).filter((c) => c !== 'publish');
    expect(order.slice(0, 3)).toEqual(['connack', 'suback', 'puback']);
    expect(r.publishes()[0]!.payload.toString()).toBe('self');
  });
});

describe('malformed PUBLISH and acks', () => {
  it('v3.1.1: a QoS 0 PUBLISH with DUP=1 closes the connection [MQTT-3.3.1-2]', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x38, 4, 0, 1, 0x61, 0x78]));
    await r.waitClosed(2000);
  });

  it('v5: a Subscription-Identifier in a client PUBLISH closes the connection [MQTT-3.3.4-6]', async () => {
    const r = await connected(5);
    r.sendBytes(v5PublishWithProps('fr/subid', [0x0b, 0x05]));
    await r.waitClosed(2000);
    // The spec names no code for this rule; Protocol Error and Malformed Packet are both fair.
    expect([0x81, 0x82]).toContain(disconnectCode(r));
  });

  it('v5: a property given twice (Content-Type) is a Protocol Error', async () => {
    const r = await connected(5);
    r.sendBytes(v5PublishWithProps('fr/dup', [0x03, 0, 1, 0x61, 0x03, 0, 1, 0x62]));
    await r.waitClosed(2000);
    expect([0x81, 0x82]).toContain(disconnectCode(r));
  });

  it('v5: a property length running past the packet is malformed (0x81)', async () => {
    const r = await connected(5);
    const t = Buffer.from('fr/over');
    const body = Buffer.concat([Buffer.from([0, t.length]), t, Buffer.from([0, 1, 50, 0x03, 0, 40, 0x61])]);
    r.sendBytes(Buffer.concat([Buffer.from([0x32, body.length]), body]));
    await r.waitClosed(2000);
    expect(disconnectCode(r)).toBe(0x81);
  });

  it('v5: an unknown property id is malformed', async () => {
    const r = await connected(5);
    r.sendBytes(v5PublishWithProps('fr/unknown', [0x7f, 0x00]));
    await r.waitClosed(2000);
    expect([0x81, 0x82]).toContain(disconnectCode(r));
  });

  it('v3.1.1: a topic length longer than the packet closes the connection', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x30, 4, 0, 30, 0x61, 0x62]));
    await r.waitClosed(2000);
  });

  it('v3.1.1: PUBACK with a Remaining Length other than 2 closes the connection [MQTT-3.4.2]', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x40, 3, 0, 1, 0]));
    await r.waitClosed(2000);
  });

  it('PUBREL with flags 0000 instead of 0010 closes the connection [MQTT-3.6.1-1]', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x60, 2, 0, 1]));
    await r.waitClosed(2000);
  });

  it('after all that the subscriber is still connected and receiving', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('after') });
    await c.pub('fr/after', 'fine', { qos: 1 });
    await sub.waitMessages(1, 2000, (m) => m.topic === 'fr/after');
    expect(sub.c.connected).toBe(true);
    await c.end();
  });
});
