// The gateway with its real listeners (UDP on 127.0.0.1 and ::1, a serial pty) and a fake broker.
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { broadcastAddresses, MqttsnGateway, mqttsnGateway } from '../../../../gateways/mqttsn/index.js';
import { mqttsnConfigSchema } from '../../../../gateways/mqttsn/config.js';
import { decode, shortId } from '../../../../gateways/mqttsn/frame.js';
import { Forwarder, ptyPair, serialWire, SnClient, udpWire } from '../../../helpers/mqttsn-client.js';
import { FakeGatewayContext } from '../../../helpers/fake-gateway-context.js';

type Cfg = Parameters<typeof mqttsnConfigSchema.parse>[0];

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(cfg: Cfg = {}) {
  const ctx = new FakeGatewayContext({ name: 'mqttsn' });
  const config = mqttsnConfigSchema.parse({ enable: true, listeners: { udp: { default: { bind: '127.0.0.1', port: 0 } } }, ...cfg });
  ctx.mountpoint = config.mountpoint;
  const gw = mqttsnGateway.create(ctx, config) as MqttsnGateway;
  await gw.start();
  cleanup.push(() => gw.stop());
  const port = Number(gw.listeners()[0]!.bind.split(':').pop());
  const client = async (): Promise<SnClient> => {
    const c = await SnClient.udp(port);
    cleanup.push(() => c.close());
    return c;
  };
  return { ctx, gw, port, client };
}

describe('config', () => {
  it('defaults to disabled with a UDP listener on 0.0.0.0:1884 and rejects unknown keys', () => {
    const c = mqttsnConfigSchema.parse(undefined);
    expect(c.enable).toBe(false);
    expect(c.listeners.udp).toEqual({ default: { enable: true, bind: '0.0.0.0', port: 1884, forwarder: true, max_connections: 1024000 } });
    expect(c.gateway_id).toBe(1);
    expect(mqttsnConfigSchema.safeParse({ bogus: 1 }).success).toBe(false);
    expect(mqttsnConfigSchema.safeParse({ predefined: [{ id: 2000, topic: 'x' }] }).success).toBe(false);
  });
});

describe('MqttsnGateway over UDP', () => {
  it('reports the bound port and answers SEARCHGW with GWINFO from the listener port (checklist 1)', async () => {
    const { gw, port } = await start({ gateway_id: 7 });
    expect(gw.listeners()).toEqual([{ id: 'udp:default', type: 'udp', bind: `127.0.0.1:${port}`, running: true }]);
    const w = await udpWire(port);
    cleanup.push(() => w.close());
    const got = new Promise<Buffer>((r) => w.onMessage(r));
    w.send(Buffer.from('030101', 'hex'));
    expect((await got).toString('hex')).toBe('030207');
    // SEARCHGW does not leave a channel behind.
    expect(gw.channels().length).toBe(0);
  });

  it('connects, registers, publishes and receives over a real socket', async () => {
    const { ctx, client } = await start();
    const c = await client();
    expect(await c.connect('dev1')).toBe(0);
    const { topicId } = await c.register('topic/a');
    c.publish({ topicId, qos: 1, payload: 'hello' });
    expect((await c.next('puback')).rc).toBe(0);
    expect(ctx.published).toEqual([{ topic: 'topic/a', payload: 'hello', qos: 1, retain: false, from: 'dev1' }]);
  });

  it('QoS -1 without CONNECT publishes predefined and short topics as NegQoS-Client (checklist 15)', async () => {
    const { ctx, client, gw } = await start({ predefined: [{ id: 1, topic: 'predef/t1' }] });
    const c = await client();
    c.publish({ topicIdType: 1, topicId: 1, qos: -1, payload: 'p' });
    c.publish({ topicIdType: 2, topicId: shortId('ab'), qos: -1, payload: 's' });
    c.publish({ topicIdType: 0, topicId: 1025, qos: -1, payload: 'dropped' });
    await c.quiet(100);
    expect(ctx.anonymous).toEqual([
      { topic: 'predef/t1', payload: 'p', qos: 0, retain: false, from: 'NegQoS-Client' },
      { topic: 'ab', payload: 's', qos: 0, retain: false, from: 'NegQoS-Client' },
    ]);
    expect(gw.channels().length).toBe(0);
  });

  it('QoS -1 without CONNECT is refused with PUBACK 0x03 when enable_qos3 is false', async () => {
    const { ctx, client } = await start({ enable_qos3: false, predefined: [{ id: 1, topic: 'predef/t1' }] });
    const c = await client();
    c.publish({ topicIdType: 1, topicId: 1, qos: -1, payload: 'p' });
    expect(await c.next('puback')).toEqual({ type: 'puback', topicId: 1, msgId: 0, rc: 3 });
    expect(ctx.anonymous).toEqual([]);
  });

  it('QoS -1 without CONNECT that the ACL denies gets PUBACK 0x80', async () => {
    const { ctx, client } = await start({ predefined: [{ id: 1, topic: 'predef/t1' }] });
    ctx.denyPublish.add('predef/t1');
    const c = await client();
    c.publish({ topicIdType: 1, topicId: 1, qos: -1, payload: 'p' });
    expect((await c.next('puback')).rc).toBe(0x80);
  });

  it('drops frames other than CONNECT from unconnected peers and echoes DISCONNECT', async () => {
    const { client, gw } = await start();
    const c = await client();
    c.send({ type: 'pingreq', clientId: null });
    c.send({ type: 'disconnect', duration: null });
    expect(await c.any()).toEqual({ type: 'disconnect', duration: null });
    expect(await c.quiet(100)).toEqual([]);
    expect(gw.channels().length).toBe(0);
  });

  it('serves two wireless nodes behind one forwarder as separate clients (MQTT-SN 1.2 §5.5)', async () => {
    const { ctx, port, gw } = await start();
    const fw = new Forwarder(await udpWire(port));
    cleanup.push(() => fw.close());
    const n1 = new SnClient(fw.node(Buffer.from([0x01])));
    const n2 = new SnClient(fw.node(Buffer.from([0xa1, 0xb2])));
    expect(await n1.connect('node-1')).toBe(0);
    expect(await n2.connect('node-2')).toBe(0);
    expect(gw.channels().map((c) => c.clientId).sort()).toEqual(['node-1', 'node-2']);
    expect((await n1.subscribe({ short: 'ab' })).rc).toBe(0);
    ctx.mqttPublish('ab', 'for-n1');
    expect(await n1.next('publish')).toMatchObject({ topicIdType: 2, payload: Buffer.from('for-n1') });
    n2.publish({ topicIdType: 2, topicId: shortId('cd'), payload: 'from-n2' });
    await n2.quiet(100);
    expect(ctx.published.at(-1)).toMatchObject({ topic: 'cd', from: 'node-2' });
    expect(n2.frames).toEqual([]);
  });

  it('a sleeping device that wakes up from a new source port gets its messages there', async () => {
    const { ctx, client, gw } = await start();
    const c = await client();
    await c.connect('sleeper', { clean: false });
    await c.subscribe({ short: 'zz' }, 1);
    c.send({ type: 'disconnect', duration: 60 });
    await c.next('disconnect');
    ctx.mqttPublish('zz', 'while-asleep', 1);
    const c2 = await client();
    c2.send({ type: 'pingreq', clientId: 'sleeper' });
    const p = await c2.next('publish');
    expect(p.payload.toString()).toBe('while-asleep');
    c2.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, rc: 0 });
    await c2.next('pingresp');
    expect(gw.channels().length).toBe(1);
    expect(await c.quiet(50)).toEqual([]);
  });

  it('refuses encapsulated messages when the listener has forwarder = false', async () => {
    const { port, gw } = await start({ listeners: { udp: { default: { bind: '127.0.0.1', port: 0, forwarder: false } } } });
    const fw = new Forwarder(await udpWire(port));
    cleanup.push(() => fw.close());
    const n1 = new SnClient(fw.node(Buffer.from([0x01])));
    n1.send({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 10, clientId: 'x' });
    expect(await n1.quiet(150)).toEqual([]);
    expect(gw.channels().length).toBe(0);
  });

  it('listens on IPv6', async () => {
    const { gw, port } = await start({ listeners: { udp: { v6: { bind: '::1', port: 0 } } } });
    expect(gw.listeners()[0]!.bind).toBe(`[::1]:${port}`);
    const c = await SnClient.udp(port, '::1');
    cleanup.push(() => c.close());
    expect(await c.connect('v6dev')).toBe(0);
  });

  it('sends ADVERTISE(gwid, interval) to the configured addresses on start (checklist 25)', async () => {
    const sink = dgram.createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => sink.close(() => r())));
    const got = new Promise<Buffer>((r) => sink.once('message', r));
    await start({ gateway_id: 3, advertise: { enable: true, interval: 900, port: sink.address().port, addresses: ['127.0.0.1'], interfaces: ['lo'] } });
    const b = await got;
    expect(b.toString('hex')).toBe('0500030384');
    expect(decode(b)).toMatchObject({ kind: 'frame', frame: { type: 'advertise', gwId: 3, duration: 900 } });
  });
});

describe('MqttsnGateway reload and discovery helpers', () => {
  it('applies new predefined topics to new connections and refuses listener changes', async () => {
    const { gw, client, ctx } = await start({ predefined: [{ id: 1, topic: 'old/t' }] });
    await gw.reload({ enable: true, listeners: { udp: { default: { bind: '127.0.0.1', port: 0 } } }, predefined: [{ id: 1, topic: 'new/t' }] });
    const c = await client();
    await c.connect('after-reload');
    c.publish({ topicIdType: 1, topicId: 1, payload: 'x' });
    await c.quiet(50);
    expect(ctx.published.at(-1)!.topic).toBe('new/t');
    await expect(gw.reload({ enable: true, listeners: { udp: { default: { bind: '127.0.0.1', port: 1 } } } })).rejects.toThrow(/restart/);
  });

  it('computes the IPv4 broadcast address of an interface', () => {
    expect(broadcastAddresses(['lo'])).toEqual(['127.255.255.255']);
    expect(broadcastAddresses(['no-such-if'])).toEqual([]);
  });
});

describe('MqttsnGateway over a serial line (pty pair)', () => {
  it('connects, subscribes and receives over the line', async () => {
    const pty = await ptyPair();
    cleanup.push(() => pty.stop());
    const ctx = new FakeGatewayContext({ name: 'mqttsn' });
    const gw = mqttsnGateway.create(
      ctx,
      mqttsnConfigSchema.parse({ enable: true, listeners: { udp: {}, serial: { radio: { device: pty.gateway, baud_rate: 115200 } } } }),
    ) as MqttsnGateway;
    await gw.start();
    cleanup.push(() => gw.stop());
    expect(gw.listeners()).toEqual([{ id: 'serial:radio', type: 'serial', bind: pty.gateway, running: true }]);
    const c = new SnClient(await serialWire(pty.device));
    cleanup.push(() => c.close());
    expect(await c.connect('radio-1')).toBe(0);
    // Line noise is skipped without ending the connection.
    c.wire.send(Buffer.from([0x00, 0x00, 0x01]));
    await c.quiet(50);
    expect(gw.channels().map((x) => x.state)).toEqual(['connected']);
    expect((await c.subscribe({ name: 'cmd/x' }, 1)).topicId).toBe(1025);
    ctx.mqttPublish('cmd/x', 'over-serial', 1);
    const p = await c.next('publish');
    expect(p).toMatchObject({ topicId: 1025, qos: 1, payload: Buffer.from('over-serial') });
    c.send({ type: 'puback', topicId: 1025, msgId: p.msgId, rc: 0 });
    await c.quiet(50);
    expect(ctx.acks).toEqual([p.msgId]);
  });

  it('serves two forwarder nodes over one serial line', async () => {
    const pty = await ptyPair();
    cleanup.push(() => pty.stop());
    const ctx = new FakeGatewayContext({ name: 'mqttsn' });
    const gw = mqttsnGateway.create(
      ctx,
      mqttsnConfigSchema.parse({ enable: true, listeners: { udp: {}, serial: { radio: { device: pty.gateway, forwarder: true } } } }),
    ) as MqttsnGateway;
    await gw.start();
    cleanup.push(() => gw.stop());
    const fw = new Forwarder(await serialWire(pty.device));
    cleanup.push(() => fw.close());
    const a = new SnClient(fw.node(Buffer.from('0a', 'hex')));
    const b = new SnClient(fw.node(Buffer.from('0b', 'hex')));
    expect(await a.connect('ser-a')).toBe(0);
    expect(await b.connect('ser-b')).toBe(0);
    a.publish({ topicIdType: 2, topicId: shortId('aa'), payload: '1' });
    b.publish({ topicIdType: 2, topicId: shortId('bb'), payload: '2' });
    await a.quiet(100);
    expect(ctx.published.map((p) => [p.topic, p.from])).toEqual([
      ['aa', 'ser-a'],
      ['bb', 'ser-b'],
    ]);
  });
});
