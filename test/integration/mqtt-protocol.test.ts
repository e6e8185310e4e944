// Strict protocol rules a conformant broker enforces (MQTT 3.1.1 §2-3, MQTT 5 §3 and §4.13): malformed
// fixed-header flags, QoS 3, DUP on QoS 0, packet id 0, invalid filters, unsupported authentication
// methods, Receive Maximum exceeded by the client, empty topics. Each offending connection is closed
// (v5: with the reason code the spec names) and the daemon keeps serving others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, uid, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let probe: TestClient;
const raws: RawClient[] = [];

beforeAll(async () => {
  d = await startDaemon({ config: '[mqtt]\nmax_awaiting_rel = 2\n' });
  probe = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('probe') });
  await probe.sub('proto/probe', { qos: 1 });
});

afterAll(async () => {
  await probe?.end(true);
  for (const r of raws) r.destroy();
  await d?.stop();
  d?.cleanup();
});

async function connected(v: 4 | 5, extra: Record<string, unknown> = {}): Promise<RawClient> {
  const r = new RawClient(d.mqttPort, v);
  raws.push(r);
  const ack = await r.connect({ clientId: uid(`p${v}`), ...extra } as never);
  expect(ack.returnCode ?? ack.reasonCode ?? 0).toBe(0);
  return r;
}

async function daemonStillServes(): Promise<void> {
  const n = probe.msgs.length;
  await probe.pub('proto/probe', 'ok', { qos: 1 });
  await probe.waitMessages(n + 1, 2000);
}

/** v5 DISCONNECT reason code the server sent before closing, or null. */
function disconnectCode(r: RawClient): number | null {
  const p = r.packets.find((x) => x.cmd === 'disconnect');
  return p ? ((p as { reasonCode?: number }).reasonCode ?? 0) : null;
}

describe('malformed fixed headers', () => {
  it('v3.1.1 SUBSCRIBE with reserved flags 0000 instead of 0010 closes the connection [MQTT-3.8.1-1]', async () => {
    const r = await connected(4);
    // SUBSCRIBE (0x80, flags must be 0x2), packet id 1, filter "a", QoS 0
    r.sendBytes(Buffer.from([0x80, 6, 0, 1, 0, 1, 0x61, 0]));
    await r.waitClosed(2000);
    expect(r.packets.filter((p) => p.cmd === 'suback')).toHaveLength(0);
    await daemonStillServes();
  });

  it('PUBLISH with QoS 3 closes the connection [MQTT-3.3.1-4]', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x36, 6, 0, 1, 0x61, 0, 1, 0x78]));
    await r.waitClosed(2000);
    await daemonStillServes();
  });

  it('v5 PUBLISH QoS 0 with DUP=1 is malformed [MQTT-3.3.1-2]: DISCONNECT 0x81', async () => {
    const r = await connected(5);
    r.sendBytes(Buffer.from([0x38, 5, 0, 1, 0x61, 0, 0x78]));
    await r.waitClosed(2000);
    expect(disconnectCode(r)).toBe(0x81);
  });

  it('v5 QoS 1 PUBLISH with packet id 0 is malformed [MQTT-2.2.1-3]: DISCONNECT 0x81 or 0x82', async () => {
    const r = await connected(5);
    r.sendBytes(Buffer.from([0x32, 7, 0, 1, 0x61, 0, 0, 0, 0x78]));
    await r.waitClosed(2000);
    expect([0x81, 0x82]).toContain(disconnectCode(r));
  });

  it('v5 SUBSCRIBE with no topic filter is a Protocol Error [MQTT-3.8.3-2]', async () => {
    const r = await connected(5);
    r.sendBytes(Buffer.from([0x82, 3, 0, 1, 0]));
    await r.waitClosed(2000);
    expect([0x81, 0x82]).toContain(disconnectCode(r));
  });
});

describe('topic names and filters', () => {
  it('invalid filters get SUBACK 0x8F (v5) / 0x80 (v3.1.1), valid ones in the same SUBSCRIBE are granted', async () => {
    const bad = ['a/#/b', 'a+', '#a', 'a/b#', ''];
    const r5 = await connected(5);
    const g5 = await r5.subscribe([...bad.map((topic) => ({ topic, qos: 1 as const })), { topic: 'ok/+', qos: 1 }]);
    expect(g5).toEqual([...bad.map(() => 0x8f), 1]);
    const r4 = await connected(4);
    const g4 = await r4.subscribe([...bad.slice(0, 4).map((topic) => ({ topic, qos: 1 as const })), { topic: 'ok/#', qos: 2 }]);
    expect(g4).toEqual([0x80, 0x80, 0x80, 0x80, 2]);
  });

  it('v5 PUBLISH with an empty topic and no alias is a Protocol Error: DISCONNECT 0x82 [MQTT-3.3.2-1, 3.3.4]', async () => {
    const r = await connected(5);
    r.send({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false } as never);
    await r.waitClosed(2000);
    expect([0x82, 0x90]).toContain(disconnectCode(r));
    await daemonStillServes();
  });

  it('a topic containing U+0000 closes the connection [MQTT-4.7.3-2]', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x30, 6, 0, 3, 0x61, 0x00, 0x62, 0x78]));
    await r.waitClosed(2000);
    await daemonStillServes();
  });

  it('an invalid UTF-8 topic filter in SUBSCRIBE closes the connection [MQTT-1.5.4-1]', async () => {
    const r = await connected(4);
    r.sendBytes(Buffer.from([0x82, 7, 0, 1, 0, 2, 0xc3, 0x28, 0]));
    await r.waitClosed(2000);
    expect(r.packets.filter((p) => p.cmd === 'suback')).toHaveLength(0);
  });
});

describe('v5 CONNECT and flow control', () => {
  it('an unsupported Authentication-Method gets CONNACK 0x8C (or 0x87) and the connection is closed [MQTT-4.12.0-1]', async () => {
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    const ack = await r.connect({ clientId: uid('auth'), properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('x') } } as never);
    expect([0x8c, 0x87]).toContain(ack.reasonCode);
    await r.waitClosed(2000);
  });

  it('more unacknowledged QoS 2 PUBLISHes than the advertised Receive-Maximum: DISCONNECT 0x93 [MQTT-3.3.4-8]', async () => {
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    const ack = await r.connect({ clientId: uid('rmx') });
    expect(ack.properties?.receiveMaximum).toBe(2);
    for (let i = 1; i <= 3; i++) r.send({ cmd: 'publish', topic: 'proto/rm', payload: Buffer.from(String(i)), qos: 2, messageId: i, retain: false, dup: false } as never);
    await r.waitClosed(2000);
    expect(disconnectCode(r)).toBe(0x93);
    await daemonStillServes();
  });

  it('a client that stays within Receive-Maximum is fine', async () => {
    const r = await connected(5);
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i <= 2; i++) r.send({ cmd: 'publish', topic: 'proto/rm-ok', payload: Buffer.from('x'), qos: 2, messageId: round * 10 + i, retain: false, dup: false } as never);
      for (let i = 1; i <= 2; i++) {
        await r.next((p) => p.cmd === 'pubrec' && p.messageId === round * 10 + i);
        r.send({ cmd: 'pubrel', messageId: round * 10 + i });
        await r.next((p) => p.cmd === 'pubcomp' && p.messageId === round * 10 + i);
      }
    }
    expect(r.closed).toBe(false);
  });
});

describe('v5 DISCONNECT', () => {
  it('setting a non-zero Session-Expiry-Interval on DISCONNECT after 0 in CONNECT is a Protocol Error [MQTT-3.14.2-2]', async () => {
    const r = await connected(5);
    r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } } as never);
    await r.waitClosed(2000);
    expect(disconnectCode(r)).toBe(0x82);
  });
});

/** A v3.1.1-style CONNECT with the given protocol level and flags, client id "cx", keepalive 60. */
function rawConnect(level: number, flags: number, extra: number[] = []): Buffer {
  const body = [0, 4, 0x4d, 0x51, 0x54, 0x54, level, flags, 0, 60, ...(level === 5 ? [0] : []), 0, 2, 0x63, 0x78, ...extra];
  return Buffer.from([0x10, body.length, ...body]);
}

describe('CONNECT validation', () => {
  it('an unsupported protocol level gets CONNACK 0x01 (unacceptable protocol version) and is closed [MQTT-3.1.2-2]', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.ready();
    r.sendBytes(rawConnect(6, 0x02));
    await r.waitClosed(2000);
    const ack = r.packets.find((p) => p.cmd === 'connack') as { returnCode?: number } | undefined;
    expect(ack?.returnCode).toBe(0x01);
    await daemonStillServes();
  });

  it('the reserved CONNECT flag set is malformed: closed without CONNACK 0x00 [MQTT-3.1.2-3]', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.ready();
    r.sendBytes(rawConnect(4, 0x03));
    await r.waitClosed(2000);
    expect(r.packets.filter((p) => p.cmd === 'connack' && ((p as { returnCode?: number }).returnCode ?? 0) === 0)).toHaveLength(0);
  });

  it('will QoS without the will flag is malformed [MQTT-3.1.2-13]', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.ready();
    r.sendBytes(rawConnect(4, 0x02 | 0x08));
    await r.waitClosed(2000);
    expect(r.packets.filter((p) => p.cmd === 'connack' && ((p as { returnCode?: number }).returnCode ?? 0) === 0)).toHaveLength(0);
  });

  it('v3.1.1 password flag without user name flag is malformed [MQTT-3.1.2-22]', async () => {
    const r = new RawClient(d.mqttPort, 4);
    raws.push(r);
    await r.ready();
    r.sendBytes(rawConnect(4, 0x02 | 0x40, [0, 2, 0x70, 0x77]));
    await r.waitClosed(2000);
    expect(r.packets.filter((p) => p.cmd === 'connack' && ((p as { returnCode?: number }).returnCode ?? 0) === 0)).toHaveLength(0);
  });
});

