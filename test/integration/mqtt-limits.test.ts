// Connection and session limits with their reason codes (EMQX mqtt.* zone settings, MQTT 5 §3.2.2.3
// and §4.13): max_packet_size, max_clientid_len, max_topic_levels, max_qos_allowed,
// max_subscriptions, retain_available, wildcard_subscription, shared_subscription.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, tryConnect, uid, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
const open: TestClient[] = [];
const raws: RawClient[] = [];

const CONFIG = `[mqtt]
max_packet_size = 1024
max_clientid_len = 23
max_topic_levels = 3
max_qos_allowed = 1
max_subscriptions = 2
retain_available = false
wildcard_subscription = false
shared_subscription = false
`;

beforeAll(async () => {
  d = await startDaemon({ config: CONFIG });
});

afterAll(async () => {
  for (const c of open) await c.end(true);
  for (const r of raws) r.destroy();
  await d?.stop();
  d?.cleanup();
});

function raw(version: 3 | 4 | 5): RawClient {
  const r = new RawClient(d.mqttPort, version);
  raws.push(r);
  return r;
}

/** A bystander proves the daemon is still fine after each refusal. */
async function bystanderWorks(): Promise<void> {
  const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('by').slice(0, 20) });
  await c.sub('lim/bystander', { qos: 1 });
  await c.pub('lim/bystander', 'ok', { qos: 1 });
  await c.waitMessages(1, 2000);
  await c.end();
}

describe('CONNACK advertises the limits (v5)', () => {
  it('Maximum-Packet-Size, Maximum-QoS, Retain/Wildcard/Shared availability', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: 'adv-1' });
    open.push(c);
    const p = c.connack.properties!;
    expect(p.maximumPacketSize).toBe(1024);
    expect(p.maximumQoS).toBe(1);
    expect(p.retainAvailable).toBe(false);
    expect(p.wildcardSubscriptionAvailable).toBe(false);
    expect(p.sharedSubscriptionAvailable).toBe(false);
  });
});

describe('max_packet_size', () => {
  it('v5: a PUBLISH larger than max_packet_size gets DISCONNECT 0x95 and a log line', async () => {
    const r = raw(5);
    await r.connect({ clientId: 'big-v5' });
    r.send({ cmd: 'publish', topic: 'lim/big', payload: Buffer.alloc(2000, 1), qos: 0, retain: false, dup: false });
    await r.waitClosed();
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x95);
    expect(d.logs()).toMatch(/max_packet_size|frame_too_large/);
    await bystanderWorks();
  });

  it('v3.1.1: a PUBLISH larger than max_packet_size closes the connection', async () => {
    const r = raw(4);
    await r.connect({ clientId: 'big-v4' });
    r.send({ cmd: 'publish', topic: 'lim/big', payload: Buffer.alloc(2000, 1), qos: 1, messageId: 1, retain: false, dup: false });
    await r.waitClosed();
    expect(r.packets.filter((p) => p.cmd === 'puback')).toHaveLength(0);
  });

  it('the limit counts the whole packet: exactly 1024 bytes is accepted, 1025 is not', async () => {
    const s = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: 'edge-sub' });
    open.push(s);
    await s.sub('lim/e', { qos: 0 });
    // QoS 0, topic 'lim/e': 1 (type) + 2 (varint of 1021) + 2 + 5 + payload = 1024 with a 1014-byte payload
    const ok = raw(4);
    await ok.connect({ clientId: 'edge-ok' });
    ok.send({ cmd: 'publish', topic: 'lim/e', payload: Buffer.alloc(1014, 7), qos: 0, retain: false, dup: false });
    const [m] = await s.waitMessages(1, 2000);
    expect(m!.payload.length).toBe(1014);
    const over = raw(4);
    await over.connect({ clientId: 'edge-over' });
    over.send({ cmd: 'publish', topic: 'lim/e', payload: Buffer.alloc(1015, 7), qos: 0, retain: false, dup: false });
    await over.waitClosed();
    expect(ok.closed).toBe(false);
  });

  it('a PUBLISH just under the limit is accepted', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: 'fits' });
    open.push(c);
    await c.sub('lim/fits', { qos: 1 });
    await c.pub('lim/fits', Buffer.alloc(900, 2), { qos: 1 });
    const [m] = await c.waitMessages(1, 2000);
    expect(m!.payload.length).toBe(900);
  });

  it('v5: a CONNECT larger than max_packet_size gets CONNACK 0x95', async () => {
    const r = raw(5);
    await r.ready();
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'bigconn', will: { topic: 'lim/w', payload: Buffer.alloc(2000, 3), qos: 0, retain: false } } as never);
    await r.waitClosed();
    const ack = r.packets.find((p) => p.cmd === 'connack');
    expect(ack?.reasonCode).toBe(0x95);
  });
});

describe('max_clientid_len', () => {
  const long = 'x'.repeat(24);
  it('v5: a 24-byte client id with max 23 gets CONNACK 0x85', async () => {
    const res = await tryConnect(d.mqttUrl, { protocolVersion: 5, clientId: long });
    res.client.end(true);
    expect((res.error as { code?: number } | undefined)?.code).toBe(0x85);
  });
  it('v3.1.1: refused with 0x02 Identifier rejected', async () => {
    const res = await tryConnect(d.mqttUrl, { protocolVersion: 4, clientId: long });
    res.client.end(true);
    expect((res.error as { code?: number } | undefined)?.code).toBe(0x02);
  });
  it('an empty client id is still accepted: the server-assigned id is not subject to the limit (v5 and v3.1.1)', async () => {
    const c5 = await tryConnect(d.mqttUrl, { protocolVersion: 5, clientId: '' });
    c5.client.end(true);
    expect(c5.error).toBeUndefined();
    expect(c5.connack?.properties?.assignedClientIdentifier?.length).toBeGreaterThan(0);
    const r = raw(4);
    const ack = await r.connect({ clientId: '', clean: true });
    expect(ack.returnCode).toBe(0);
  });

  it('a 23-byte client id is accepted', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: 'y'.repeat(23) });
    open.push(c);
    expect(c.connack.reasonCode ?? 0).toBe(0);
  });
});

describe('max_topic_levels', () => {
  it('v5: publishing to a 4-level topic with max 3 is refused with 0x90 and not delivered', async () => {
    const s = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: 'lvl-sub' });
    open.push(s);
    await s.sub('a/b/c', { qos: 1 });
    const r = raw(5);
    await r.connect({ clientId: 'lvl-pub' });
    r.send({ cmd: 'publish', topic: 'a/b/c/d', payload: Buffer.from('deep'), qos: 1, messageId: 5, retain: false, dup: false });
    // EMQX answers 0x90 (Topic Name invalid): either as the PUBACK reason or as DISCONNECT.
    const ans = await r.next((p) => p.cmd === 'puback' || p.cmd === 'disconnect', 2000);
    expect((ans as { reasonCode?: number }).reasonCode).toBe(0x90);
    r.send({ cmd: 'publish', topic: 'a/b/c', payload: Buffer.from('ok'), qos: 0, retain: false, dup: false });
    await sleep(300);
    expect(s.msgs.map((m) => m.text)).not.toContain('deep');
  });
  it('v5: subscribing to a 4-level filter gets SUBACK 0x8F; v3.1.1 gets 0x80', async () => {
    const r5 = raw(5);
    await r5.connect({ clientId: 'lvl-s5' });
    expect(await r5.subscribe([{ topic: 'a/b/c/d', qos: 1 }, { topic: 'a/b/c', qos: 1 }])).toEqual([0x8f, 1]);
    const r4 = raw(4);
    await r4.connect({ clientId: 'lvl-s4' });
    expect(await r4.subscribe([{ topic: 'a/b/c/d', qos: 1 }])).toEqual([0x80]);
  });
});

describe('max_qos_allowed = 1', () => {
  it('v5: a QoS 2 PUBLISH gets DISCONNECT 0x9B', async () => {
    const r = raw(5);
    await r.connect({ clientId: 'qos2-v5' });
    r.send({ cmd: 'publish', topic: 'lim/q2', payload: Buffer.from('x'), qos: 2, messageId: 9, retain: false, dup: false });
    await r.waitClosed();
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x9b);
  });
  it('v5: a will with QoS 2 gets CONNACK 0x9B', async () => {
    const res = await tryConnect(d.mqttUrl, { protocolVersion: 5, clientId: 'qos2-will', will: { topic: 'lim/w', payload: Buffer.from('w'), qos: 2, retain: false } });
    res.client.end(true);
    expect((res.error as { code?: number } | undefined)?.code).toBe(0x9b);
  });
});

describe('max_subscriptions = 2', () => {
  it('v5: the third subscription gets SUBACK 0x97; replacing an existing one is fine', async () => {
    const r = raw(5);
    await r.connect({ clientId: 'subs-v5' });
    expect(await r.subscribe(['lim/s1', 'lim/s2', 'lim/s3'].map((topic) => ({ topic, qos: 1 as const })))).toEqual([1, 1, 0x97]);
    expect(await r.subscribe([{ topic: 'lim/s1', qos: 0 }])).toEqual([0]);
  });
  it('v3.1.1: the third subscription gets 0x80', async () => {
    const r = raw(4);
    await r.connect({ clientId: 'subs-v4' });
    expect(await r.subscribe(['lim/s1', 'lim/s2', 'lim/s3'].map((topic) => ({ topic, qos: 1 as const })))).toEqual([1, 1, 0x80]);
  });
});

describe('disabled features', () => {
  it('retain_available = false: a retained PUBLISH gets DISCONNECT 0x9A (v5)', async () => {
    const r = raw(5);
    await r.connect({ clientId: 'ret-off' });
    r.send({ cmd: 'publish', topic: 'lim/ret', payload: Buffer.from('x'), qos: 0, retain: true, dup: false });
    await r.waitClosed();
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x9a);
  });
  it('wildcard_subscription = false: SUBACK 0xA2; shared_subscription = false: SUBACK 0x9E', async () => {
    const r = raw(5);
    await r.connect({ clientId: 'feat-off' });
    expect(await r.subscribe([{ topic: 'lim/+', qos: 1 }, { topic: '$share/g/lim/x', qos: 1 }, { topic: 'lim/x', qos: 1 }])).toEqual([0xa2, 0x9e, 1]);
  });
});

describe('max_connections', () => {
  it('[mqtt] max_connections = 2: a third connection is refused, a slot frees up when one leaves', async () => {
    const d2 = await startDaemon({ config: '[mqtt]\nmax_connections = 2\n' });
    try {
      const a = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: 'mc-a' });
      const b = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: 'mc-b' });
      const third = await tryConnect(d2.mqttUrl, { protocolVersion: 4, clientId: 'mc-c' }, 3000).catch((e: Error) => ({ error: e, connack: undefined, client: null }));
      third.client?.end(true);
      expect(third.connack).toBeUndefined();
      await a.end();
      await sleep(200);
      const c = await connectClient(d2.mqttUrl, { protocolVersion: 4, clientId: 'mc-c' });
      await c.end();
      await b.end();
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});

