// MQTT-SN over a serial line (a socat pty pair standing in for a radio) and behind forwarders
// (two wireless nodes each over UDP and over the serial line), in the real daemon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, type TestClient, uid } from '../helpers/mqtt-clients.js';
import { Forwarder, ptyPair, serialWire, SnClient, udpWire } from '../helpers/mqttsn-client.js';
import { shortId } from '../../gateways/mqttsn/frame.js';

let d: Daemon;
let mqttc: TestClient;
let line: Awaited<ReturnType<typeof ptyPair>>;
let fwLine: Awaited<ReturnType<typeof ptyPair>>;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  line = await ptyPair();
  fwLine = await ptyPair();
  d = await startDaemon({
    config: `
[gateway.mqttsn]
enable = true

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0
forwarder = true

[gateway.mqttsn.listeners.serial.radio]
device = "${line.gateway}"
baud_rate = 115200

[gateway.mqttsn.listeners.serial.zigbee]
device = "${fwLine.gateway}"
baud_rate = 38400
forwarder = true
`,
  });
  mqttc = await connectClient(d.mqttUrl, { clientId: uid('app') });
});

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await mqttc?.end(true);
  await d?.stop();
  d?.cleanup();
  line?.stop();
  fwLine?.stop();
});

describe('MQTT-SN over a serial line (daemon)', () => {
  it('a device on the line connects, publishes and receives', async () => {
    const c = new SnClient(await serialWire(line.device));
    cleanup.push(() => c.close());
    const id = uid('radio');
    expect(await c.connect(id)).toBe(0);
    await mqttc.sub('from/radio');
    const { topicId } = await c.register('from/radio');
    c.publish({ topicId, qos: 1, payload: 'over-the-air' });
    expect((await c.next('puback')).rc).toBe(0);
    const [m] = await mqttc.waitMessages(1, 5000, (x) => x.topic === 'from/radio');
    expect(m!.text).toBe('over-the-air');
    const s = await c.subscribe({ name: 'to/radio' }, 1);
    await mqttc.pub('to/radio', 'down', { qos: 1 });
    const p = await c.next('publish');
    expect(p).toMatchObject({ topicId: s.topicId, qos: 1, payload: Buffer.from('down') });
    c.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, rc: 0 });
    c.send({ type: 'disconnect', duration: null });
    await c.next('disconnect');
  });
});

describe('MQTT-SN forwarder encapsulation (daemon)', () => {
  it('two nodes behind one UDP forwarder are separate clients with their own subscriptions', async () => {
    const fw = new Forwarder(await udpWire(d.ports['mqttsn:udp:default']!));
    cleanup.push(() => fw.close());
    const n1 = new SnClient(fw.node(Buffer.from('0001', 'hex')));
    const n2 = new SnClient(fw.node(Buffer.from('0002', 'hex')));
    const id1 = uid('node1');
    const id2 = uid('node2');
    expect(await n1.connect(id1)).toBe(0);
    expect(await n2.connect(id2)).toBe(0);
    await n1.subscribe({ short: 'n1' });
    await n2.subscribe({ short: 'n2' });
    await mqttc.pub('n1', 'to-node-1');
    await mqttc.pub('n2', 'to-node-2');
    expect(await n1.next('publish')).toMatchObject({ topicId: shortId('n1'), payload: Buffer.from('to-node-1') });
    expect(await n2.next('publish')).toMatchObject({ topicId: shortId('n2'), payload: Buffer.from('to-node-2') });
    expect(n1.frames).toEqual([]);
    expect(n2.frames).toEqual([]);
    await mqttc.sub('up/#');
    const t1 = await n1.register('up/1');
    n1.publish({ topicId: t1.topicId, payload: 'from-node-1' });
    const [m] = await mqttc.waitMessages(1, 5000, (x) => x.topic === 'up/1');
    expect(m!.text).toBe('from-node-1');
  });

  it('two nodes behind a serial forwarder (ZigBee-style coordinator) are separate clients', async () => {
    const fw = new Forwarder(await serialWire(fwLine.device));
    cleanup.push(() => fw.close());
    const a = new SnClient(fw.node(Buffer.from('aa01', 'hex')));
    const b = new SnClient(fw.node(Buffer.from('bb02', 'hex')));
    const ida = uid('za');
    const idb = uid('zb');
    expect(await a.connect(ida)).toBe(0);
    expect(await b.connect(idb)).toBe(0);
    await mqttc.sub('zb/#');
    const ta = await a.register('zb/a');
    const tb = await b.register('zb/b');
    expect(ta.topicId).toBe(1025);
    expect(tb.topicId).toBe(1025);
    a.publish({ topicId: ta.topicId, qos: 1, payload: 'A' });
    b.publish({ topicId: tb.topicId, qos: 1, payload: 'B' });
    expect((await a.next('puback')).rc).toBe(0);
    expect((await b.next('puback')).rc).toBe(0);
    const got = await mqttc.waitMessages(2, 5000, (x) => x.topic.startsWith('zb/'));
    expect(got.map((x) => `${x.topic}=${x.text}`).sort()).toEqual(['zb/a=A', 'zb/b=B']);
  });
});
