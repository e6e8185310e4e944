// mqtt.publisher_flow_control: a publisher feeding a connected subscriber that acknowledges slower
// than it publishes is held back by TCP instead of having its acknowledged messages dropped from the
// subscriber's queue; a subscriber that stops acknowledging cannot hold publishers for long.
import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generate, parser as makeParser, type IPublishPacket, type Packet } from 'mqtt-packet';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';

const daemons: Daemon[] = [];
const clients: TestClient[] = [];
const raws: RawClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.end(true);
  for (const r of raws.splice(0)) r.destroy();
  for (const x of sockets.splice(0)) x.destroy();
  for (const d of daemons.splice(0)) {
    await d.stop();
    d.cleanup();
  }
});

/** A small queue (high water 300) so that overflow would be quick without flow control. */
async function daemon(flowControl: boolean): Promise<Daemon> {
  const d = await startDaemon({ config: `[mqtt]\nmax_mqueue_len = 400\npublisher_flow_control = ${flowControl}\n[sys_topics]\nsys_msg_interval = 1\n` });
  daemons.push(d);
  return d;
}

/** The broker's mqtt.flow_control.waits counter, from its next $SYS metrics publish. */
async function flowWaits(d: Daemon): Promise<number> {
  const c = await connectClient(d.mqttUrl, { clientId: uid('sys') });
  clients.push(c);
  await c.sub('$SYS/brokers/+/metrics/mqtt/flow_control/waits', { qos: 0 });
  const before = c.msgs.length;
  await c.waitMessages(before + 1, 3000);
  return Number(c.msgs[c.msgs.length - 1]!.text);
}

/**
 * A raw client subscribed to `subTopic` at QoS 1 that acknowledges what it received every 5 ms
 * (until stopped) and publishes `n` QoS 1 messages to `pubTopic`: a first few, so that both sides
 * have acknowledged something (a consumer counts as slow, not stalled), then the rest at once.
 */
async function pubAndSlowAck(d: Daemon, subTopic: string, pubTopic: string, n: number): Promise<{ raw: RawClient; start: () => Promise<number>; stop: () => void }> {
  const raw = new RawClient(d.mqttPort, 4);
  raws.push(raw);
  await raw.connect({ clientId: uid('both') });
  await raw.subscribe([{ topic: subTopic, qos: 1 }]);
  let idx = 0;
  const acker = setInterval(() => {
    const pkts = raw.packets;
    for (; idx < pkts.length; idx++) {
      const p = pkts[idx]!;
      if (p.cmd === 'publish' && p.qos === 1) raw.send({ cmd: 'puback', messageId: p.messageId! });
    }
  }, 5);
  const pub = (i: number) => raw.send({ cmd: 'publish', topic: pubTopic, payload: Buffer.from(`m${i}`), qos: 1, messageId: i, retain: false, dup: false });
  const acked = () => raw.packets.filter((p) => p.cmd === 'puback').length;
  return {
    raw,
    stop: () => clearInterval(acker),
    start: async () => {
      for (let i = 1; i <= 20; i++) pub(i);
      await sleep(100);
      const t0 = Date.now();
      for (let i = 21; i <= n; i++) pub(i);
      while (acked() < n) {
        if (Date.now() - t0 > 20_000) throw new Error(`only ${acked()}/${n} PUBACKs`);
        await sleep(5);
      }
      return Date.now() - t0;
    },
  };
}

/**
 * A QoS 1 subscriber that acknowledges what it has every `everyMs` (a slow consumer that keeps
 * up at its own pace), until `stopAfter` acknowledgements.
 */
async function slowSubscriber(d: Daemon, topic: string, everyMs: number, stopAfter = Infinity): Promise<{ raw: RawClient; seen: () => Set<string>; stop: () => void }> {
  const raw = new RawClient(d.mqttPort, 4);
  raws.push(raw);
  await raw.connect({ clientId: uid('slow') });
  expect(await raw.subscribe([{ topic, qos: 1 }])).toEqual([1]);
  let acked = 0;
  let idx = 0;
  const timer = setInterval(() => {
    const pubs = raw.packets;
    for (; idx < pubs.length && acked < stopAfter; idx++) {
      const p = pubs[idx]!;
      if (p.cmd !== 'publish') continue;
      raw.send({ cmd: 'puback', messageId: (p as IPublishPacket).messageId! });
      acked++;
    }
  }, everyMs);
  return {
    raw,
    seen: () => new Set(raw.publishes().map((p) => p.payload.toString())),
    stop: () => clearInterval(timer),
  };
}

/** Publish `n` QoS 1 messages without waiting between them; resolves when every PUBACK is in. */
async function publishAll(d: Daemon, topic: string, n: number): Promise<TestClient> {
  const pub = await connectClient(d.mqttUrl, { clientId: uid('fast') });
  clients.push(pub);
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) acks.push(pub.c.publishAsync(topic, `m${i}`, { qos: 1 }));
  await withTimeout(Promise.all(acks), 20_000, `PUBACKs for ${n} publishes`);
  return pub;
}

/**
 * A QoS 0 subscriber on a plain socket that reads at most `perTickBytes` every 5 ms once subscribed, so the
 * broker's output to it backs up (TCP pushes back into the broker's socket buffer). Counts PUBLISH payloads.
 */
async function slowQos0Reader(d: Daemon, topic: string, perTickBytes: number): Promise<{ payloads: string[]; stop: () => void }> {
  const sock = netConnect({ host: '127.0.0.1', port: d.mqttPort });
  sockets.push(sock);
  sock.on('error', () => undefined);
  const parser = makeParser({ protocolVersion: 4 });
  const payloads: string[] = [];
  let subacked = false;
  parser.on('packet', (p: Packet) => {
    if (p.cmd === 'suback') subacked = true;
    if (p.cmd === 'publish') payloads.push(p.payload.toString('latin1', 0, 8));
  });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(generate({ cmd: 'connect', clientId: uid('slow0'), protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60 }));
  sock.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }));
  const onData = (b: Buffer) => parser.parse(b);
  sock.on('data', onData);
  const t0 = Date.now();
  while (!subacked) {
    if (Date.now() - t0 > 3000) throw new Error('no SUBACK');
    await sleep(5);
  }
  sock.off('data', onData);
  sock.pause();
  const timer = setInterval(() => {
    let budget = perTickBytes;
    for (let b: Buffer | null; budget > 0 && (b = sock.read() as Buffer | null) !== null; budget -= b.length) parser.parse(b);
  }, 5);
  return { payloads, stop: () => clearInterval(timer) };
}

/** `n` QoS 0 publishes of 1 KiB on a plain socket, written at once (the socket buffers what TCP holds back). */
async function blastQos0(d: Daemon, topic: string, n: number): Promise<void> {
  const raw = new RawClient(d.mqttPort, 4);
  raws.push(raw);
  await raw.connect({ clientId: uid('blast') });
  const body = Buffer.alloc(1024, 0x2e);
  for (let i = 0; i < n; i++) {
    const payload = Buffer.from(body);
    payload.write(String(i).padStart(8, '0'), 0, 'latin1');
    raw.send({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
  }
}

describe('publisher flow control', () => {
  it('holds a fast publisher back so a slow but acknowledging subscriber gets every message, in order', async () => {
    const d = await daemon(true);
    const topic = `fc/${uid('t')}`;
    const sub = await slowSubscriber(d, topic, 5);
    const n = 3000;
    await publishAll(d, topic, n);
    const deadline = Date.now() + 15_000;
    while (sub.seen().size < n && Date.now() < deadline) await sleep(20);
    sub.stop();
    const payloads = sub.raw.publishes().map((p) => p.payload.toString());
    expect(new Set(payloads).size).toBe(n);
    // First deliveries come in publish order [MQTT-4.6.0-2] (no DUPs: nothing was dropped or resent).
    expect(payloads.slice(0, n)).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect(await flowWaits(d)).toBeGreaterThan(0);
  }, 30_000);

  it('without it, the same load overflows the queue and drops (the EMQX behaviour)', async () => {
    const d = await daemon(false);
    const topic = `fc/${uid('t')}`;
    const sub = await slowSubscriber(d, topic, 5);
    const n = 3000;
    await publishAll(d, topic, n);
    // Let the subscriber drain what was kept: window + queue at most.
    await sleep(1500);
    sub.stop();
    const got = sub.seen().size;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(n);
  }, 30_000);

  it('QoS 0: a subscriber reading slower than its publisher writes gets every message instead of losing them', async () => {
    // 30 MiB at once against a reader taking ~13 MiB/s: beyond what the kernel and the 4 MiB QoS 0 backlog hold.
    const n = 30_000;
    const run = async (flowControl: boolean) => {
      const d = await daemon(flowControl);
      const topic = `fc0/${uid('t')}`;
      const sub = await slowQos0Reader(d, topic, 64 * 1024);
      await blastQos0(d, topic, n);
      // Done when everything arrived or nothing more came for a second.
      let last = -1;
      let still = Date.now();
      const deadline = Date.now() + 25_000;
      while (sub.payloads.length < n && Date.now() < deadline && Date.now() - still < 1000) {
        await sleep(50);
        if (sub.payloads.length !== last) {
          last = sub.payloads.length;
          still = Date.now();
        }
      }
      sub.stop();
      return { d, got: sub.payloads };
    };
    const held = await run(true);
    expect(held.got.length).toBe(n);
    expect(held.got.slice(0, 3)).toEqual(['00000000', '00000001', '00000002']);
    expect(held.got.at(-1)).toBe(String(n - 1).padStart(8, '0'));
    expect(await flowWaits(held.d)).toBeGreaterThan(0);
    const dropped = await run(false);
    expect(dropped.got.length).toBeLessThan(n);
  }, 60_000);

  it('a subscriber that stops acknowledging holds its publishers for a bounded time only', async () => {
    const d = await daemon(true);
    const topic = `fc/${uid('t')}`;
    const sub = await slowSubscriber(d, topic, 5, 100);
    const t0 = Date.now();
    await publishAll(d, topic, 3000);
    const ms = Date.now() - t0;
    sub.stop();
    // A stalled consumer stops counting after 500 ms without acks; its queue then drops by policy.
    expect(ms).toBeLessThan(5000);
    expect(sub.seen().size).toBeLessThan(3000);
  }, 30_000);

  it('an offline persistent session queues without holding publishers back', async () => {
    const d = await daemon(true);
    const topic = `fc/${uid('t')}`;
    const raw = new RawClient(d.mqttPort, 4);
    raws.push(raw);
    const id = uid('away');
    await raw.connect({ clientId: id, clean: false });
    await raw.subscribe([{ topic, qos: 1 }]);
    raw.send({ cmd: 'disconnect' });
    await raw.waitClosed();
    const t0 = Date.now();
    await publishAll(d, topic, 2000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await flowWaits(d)).toBe(0);
  }, 30_000);

  it('a client publishing into its own slow queue is not held: its acks are what drains it', async () => {
    const d = await daemon(true);
    const topic = `fc/${uid('self')}`;
    const c = await pubAndSlowAck(d, topic, topic, 2000);
    await c.start();
    c.stop();
    expect(await flowWaits(d)).toBe(0);
  }, 30_000);

  it('two clients feeding each other slow queues never both stop reading', async () => {
    const d = await daemon(true);
    const ta = `fc/${uid('a')}`;
    const tb = `fc/${uid('b')}`;
    const a = await pubAndSlowAck(d, ta, tb, 2000);
    const b = await pubAndSlowAck(d, tb, ta, 2000);
    const ms = await Promise.all([a.start(), b.start()]);
    a.stop();
    b.stop();
    // Both were held at times, and neither for long: waits never form a cycle that only the
    // 500 ms bound would break.
    expect(await flowWaits(d)).toBeGreaterThan(0);
    expect(Math.max(...ms)).toBeLessThan(5000);
  }, 30_000);
});
