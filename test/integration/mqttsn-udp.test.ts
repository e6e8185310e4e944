// The MQTT-SN gateway in the real daemon over UDP on 127.0.0.1, with MQTT.js on the MQTT side
// (gateways/mqttsn/SPEC.md §12 checklist).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, type TestClient, uid } from '../helpers/mqtt-clients.js';
import { SnClient, udpWire } from '../helpers/mqttsn-client.js';
import { shortId } from '../../gateways/mqttsn/frame.js';

const CONFIG = `
[gateway.mqttsn]
enable = true
gateway_id = 7
mountpoint = "sn/"
subs_resume = true
predefined = [ { id = 1, topic = "predef/t1" } ]

[gateway.mqttsn.retry]
register_interval = 0.3
register_max = 3

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`;

let d: Daemon;
let snPort: number;
let mqttc: TestClient;
const opened: SnClient[] = [];

async function sn(): Promise<SnClient> {
  const c = await SnClient.udp(snPort);
  opened.push(c);
  return c;
}

beforeAll(async () => {
  d = await startDaemon({ config: CONFIG });
  snPort = d.ports['mqttsn:udp:default']!;
  expect(snPort).toBeGreaterThan(0);
  mqttc = await connectClient(d.mqttUrl, { clientId: uid('app') });
});

afterAll(async () => {
  for (const c of opened) await c.close();
  await mqttc?.end(true);
  await d?.stop();
  d?.cleanup();
});

describe('MQTT-SN gateway over UDP (daemon)', () => {
  it('answers SEARCHGW with GWINFO(gateway_id) from the listener port (1)', async () => {
    const w = await udpWire(snPort);
    const got = new Promise<Buffer>((r) => w.onMessage(r));
    w.send(Buffer.from('030101', 'hex'));
    expect((await got).toString('hex')).toBe('030207');
    await w.close();
  });

  it('CONNECT -> CONNACK 0 and the $SYS connected event (2, 24)', async () => {
    const id = uid('sn');
    await mqttc.sub(`$SYS/brokers/+/gateway/+/clients/${id}/connected`);
    const c = await sn();
    expect(await c.connect(id)).toBe(0);
    const [ev] = await mqttc.waitMessages(1, 5000, (m) => m.topic.endsWith(`/clients/${id}/connected`));
    expect(JSON.parse(ev!.text)).toMatchObject({ clientid: id, protocol: 'mqttsn', sockport: d.ports['mqttsn:udp:default'] });
  });

  it('runs the will handshake; empty WILLTOPIC goes straight to CONNACK (3)', async () => {
    const c = await sn();
    expect(await c.connect(uid('will'), { will: { topic: 'w/t', payload: 'bye' } })).toBe(0);
    const e = await sn();
    e.send({ type: 'connect', will: true, cleanSession: true, protocolId: 1, duration: 30, clientId: uid('nowill') });
    await e.next('willtopicreq');
    e.send({ type: 'willtopic', qos: 0, retain: false, topic: null });
    expect((await e.next('connack')).rc).toBe(0);
  });

  it('REGISTER ids from 1025, same id again, wildcard refused; QoS 1 PUBLISH reaches MQTT under the mountpoint (5, 6)', async () => {
    const c = await sn();
    await c.connect(uid('reg'));
    const a = await c.register('topic/a');
    expect(a.rc).toBe(0);
    expect(a.topicId).toBeGreaterThanOrEqual(1025);
    expect((await c.register('topic/a')).topicId).toBe(a.topicId);
    expect(await c.register('x/+')).toEqual({ topicId: 0, rc: 3 });
    await mqttc.sub('sn/topic/a', { qos: 1 });
    c.publish({ topicId: a.topicId, qos: 1, payload: 'q1' });
    expect((await c.next('puback')).rc).toBe(0);
    const [m] = await mqttc.waitMessages(1, 5000, (x) => x.topic === 'sn/topic/a');
    expect(m!.text).toBe('q1');
  });

  it('unknown normal id -> PUBACK 2 for QoS 0 and 1 (7)', async () => {
    const c = await sn();
    await c.connect(uid('unk'));
    c.publish({ topicId: 4242, qos: 0, payload: 'x' });
    expect((await c.next('puback')).rc).toBe(2);
    c.publish({ topicId: 4242, qos: 1, payload: 'x' });
    expect((await c.next('puback')).rc).toBe(2);
  });

  it('QoS 2 PUBLISH: PUBREC, PUBREL -> PUBCOMP, delivered once (8)', async () => {
    const c = await sn();
    await c.connect(uid('q2'));
    const { topicId } = await c.register('q2/t');
    await mqttc.sub('sn/q2/t', { qos: 2 });
    const msgId = c.publish({ topicId, qos: 2, payload: 'once' });
    expect((await c.next('pubrec')).msgId).toBe(msgId);
    c.publish({ topicId, qos: 2, payload: 'once', msgId, dup: true });
    await c.next('pubrec');
    c.send({ type: 'pubrel', msgId });
    expect((await c.next('pubcomp')).msgId).toBe(msgId);
    await sleep(200);
    expect(mqttc.msgs.filter((x) => x.topic === 'sn/q2/t').length).toBe(1);
  });

  it('short names publish as is; a short name with # gets PUBACK 3 (9)', async () => {
    const c = await sn();
    await c.connect(uid('short'));
    await mqttc.sub('sn/ab');
    c.publish({ topicIdType: 2, topicId: shortId('ab'), payload: 'short' });
    await mqttc.waitMessages(1, 5000, (x) => x.topic === 'sn/ab');
    c.publish({ topicIdType: 2, topicId: shortId('a#'), qos: 1, payload: 'no' });
    expect((await c.next('puback')).rc).toBe(3);
  });

  it('predefined id 1 publishes to predef/t1 and SUBSCRIBE by predefined id returns the id (10)', async () => {
    const c = await sn();
    await c.connect(uid('pre'));
    await mqttc.sub('sn/predef/t1');
    c.publish({ topicIdType: 1, topicId: 1, payload: 'pre' });
    await mqttc.waitMessages(1, 5000, (x) => x.topic === 'sn/predef/t1' && x.text === 'pre');
    const s = await c.subscribe({ predefined: 1 });
    expect(s).toMatchObject({ topicId: 1, rc: 0 });
  });

  it('SUBSCRIBE x/+ -> SUBACK id 0; delivery REGISTERs x/1 first, then PUBLISH with that id (11)', async () => {
    const c = await sn();
    await c.connect(uid('wild'));
    expect(await c.subscribe({ name: 'x/+' })).toMatchObject({ topicId: 0, rc: 0 });
    await mqttc.pub('sn/x/1', 'w1');
    const r = await c.next('register');
    expect(r.topicName).toBe('x/1');
    expect(c.frames.filter((f) => f.type === 'publish')).toEqual([]);
    c.send({ type: 'regack', topicId: r.topicId, msgId: r.msgId, rc: 0 });
    expect(await c.next('publish')).toMatchObject({ topicIdType: 0, topicId: r.topicId, payload: Buffer.from('w1') });
  });

  it('without REGACK the REGISTER is re-sent and after the retries the gateway DISCONNECTs (12)', async () => {
    const c = await sn();
    await c.connect(uid('noreg'));
    await c.subscribe({ name: 'nr/#' });
    await mqttc.pub('sn/nr/1', 'x');
    const regs = [await c.next('register'), await c.next('register', 2000), await c.next('register', 2000), await c.next('register', 2000)];
    expect(new Set(regs.map((r) => r.msgId)).size).toBe(1);
    expect(await c.next('disconnect', 2000)).toEqual({ type: 'disconnect', duration: null });
  });

  it('window of 1: the second QoS 1 message comes only after PUBACK of the first (13)', async () => {
    const c = await sn();
    await c.connect(uid('win'));
    await c.subscribe({ short: 'wi' }, 1);
    await mqttc.pub('sn/wi', 'm1', { qos: 1 });
    await mqttc.pub('sn/wi', 'm2', { qos: 1 });
    const p1 = await c.next('publish');
    expect(p1.payload.toString()).toBe('m1');
    expect(await c.quiet(300)).toEqual([]);
    c.send({ type: 'puback', topicId: p1.topicId, msgId: p1.msgId, rc: 0 });
    const p2 = await c.next('publish');
    expect(p2.payload.toString()).toBe('m2');
    c.send({ type: 'puback', topicId: p2.topicId, msgId: p2.msgId, rc: 0 });
  });

  it('PUBACK rc 2 from the device makes the gateway REGISTER again (14)', async () => {
    const c = await sn();
    await c.connect(uid('rereg'));
    const s = await c.subscribe({ name: 'rr/t' }, 1);
    await mqttc.pub('sn/rr/t', 'again', { qos: 1 });
    const p = await c.next('publish');
    expect(p.topicId).toBe(s.topicId);
    c.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, rc: 2 });
    const r = await c.next('register');
    expect(r).toMatchObject({ topicId: s.topicId, topicName: 'rr/t' });
    c.send({ type: 'regack', topicId: r.topicId, msgId: r.msgId, rc: 0 });
    expect(await c.next('publish')).toMatchObject({ topicId: s.topicId, payload: Buffer.from('again') });
  });

  it('QoS -1 without CONNECT to a predefined id reaches MQTT (15)', async () => {
    await mqttc.sub('sn/predef/t1');
    const c = await sn();
    c.publish({ topicIdType: 1, topicId: 1, qos: -1, payload: 'negqos' });
    const [m] = await mqttc.waitMessages(1, 5000, (x) => x.text === 'negqos');
    expect(m!.topic).toBe('sn/predef/t1');
    expect(m!.packet.qos).toBe(0);
  });

  it('PINGREQ -> PINGRESP; silence for 1.5 x Duration -> DISCONNECT and the will (16)', async () => {
    await mqttc.sub('sn/will/ka');
    const c = await sn();
    await c.connect(uid('ka'), { duration: 1, will: { topic: 'will/ka', payload: 'gone' } });
    c.send({ type: 'pingreq', clientId: null });
    await c.next('pingresp');
    expect(await c.next('disconnect', 4000)).toEqual({ type: 'disconnect', duration: null });
    const [m] = await mqttc.waitMessages(1, 5000, (x) => x.topic === 'sn/will/ka');
    expect(m!.text).toBe('gone');
  });

  it('a sleeping client gets, in order after PINGREQ(id), what was published while it slept, then PINGRESP (17)', async () => {
    const id = uid('sleep');
    const c = await sn();
    // CleanSession=0: the broker keeps QoS 0 messages for a detached session only when it is persistent.
    await c.connect(id, { clean: false });
    const s = await c.subscribe({ name: 'cmd/sleep' }, 1);
    c.send({ type: 'disconnect', duration: 60 });
    expect(await c.next('disconnect')).toEqual({ type: 'disconnect', duration: null });
    for (let i = 1; i <= 4; i++) await mqttc.pub('sn/cmd/sleep', `m${i}`, { qos: i % 2 === 0 ? 0 : 1 });
    expect(await c.quiet(300)).toEqual([]);
    c.send({ type: 'pingreq', clientId: id });
    const got: string[] = [];
    for (;;) {
      const f = await c.any(3000);
      if (f.type === 'pingresp') break;
      if (f.type === 'register') {
        c.send({ type: 'regack', topicId: f.topicId, msgId: f.msgId, rc: 0 });
        continue;
      }
      expect(f.type).toBe('publish');
      if (f.type !== 'publish') break;
      expect(f.topicId).toBe(s.topicId);
      got.push(f.payload.toString());
      if (f.qos === 1) c.send({ type: 'puback', topicId: f.topicId, msgId: f.msgId, rc: 0 });
    }
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4']);
    // Back asleep: new messages wait for the next wake-up.
    await mqttc.pub('sn/cmd/sleep', 'later', { qos: 1 });
    expect(await c.quiet(300)).toEqual([]);
  });

  it('CONNECT while asleep -> CONNACK 0 and the queued messages (19)', async () => {
    const id = uid('wake');
    const c = await sn();
    await c.connect(id);
    await c.subscribe({ short: 'wk' }, 1);
    c.send({ type: 'disconnect', duration: 60 });
    await c.next('disconnect');
    await mqttc.pub('sn/wk', 'held', { qos: 1 });
    expect(await c.connect(id)).toBe(0);
    expect(await c.next('publish')).toMatchObject({ payload: Buffer.from('held') });
  });

  it('clean DISCONNECT -> 02 18, and the will is published (EMQX mode) (20)', async () => {
    await mqttc.sub('sn/will/clean');
    const c = await sn();
    await c.connect(uid('clean'), { will: { topic: 'will/clean', payload: 'w' } });
    c.send({ type: 'disconnect', duration: null });
    await c.next('disconnect');
    expect(c.raw.at(-1)!.toString('hex')).toBe('0218');
    await mqttc.waitMessages(1, 5000, (x) => x.topic === 'sn/will/clean');
  });

  it('WILLTOPICUPD / WILLMSGUPD are acknowledged and used at keepalive timeout (21)', async () => {
    await mqttc.sub('sn/will/upd');
    const c = await sn();
    await c.connect(uid('upd'), { duration: 1 });
    c.send({ type: 'willtopicupd', qos: 0, retain: false, topic: 'will/upd' });
    expect((await c.next('willtopicresp')).rc).toBe(0);
    c.send({ type: 'willmsgupd', payload: Buffer.from('updated') });
    expect((await c.next('willmsgresp')).rc).toBe(0);
    const [m] = await mqttc.waitMessages(1, 5000, (x) => x.topic === 'sn/will/upd');
    expect(m!.text).toBe('updated');
  });

  it('CleanSession=0 resumes after keepalive timeout: REGISTER (subs_resume) then the messages of the gap (22)', async () => {
    const id = uid('resume');
    const c = await sn();
    await c.connect(id, { clean: false, duration: 1 });
    await c.subscribe({ name: 'res/t' }, 1);
    await c.next('disconnect', 4000);
    await mqttc.pub('sn/res/t', 'gap', { qos: 1 });
    const c2 = await sn();
    expect(await c2.connect(id, { clean: false, duration: 30 })).toBe(0);
    const r = await c2.next('register');
    expect(r.topicName).toBe('res/t');
    c2.send({ type: 'regack', topicId: r.topicId, msgId: r.msgId, rc: 0 });
    const p = await c2.next('publish');
    expect(p).toMatchObject({ topicId: r.topicId, payload: Buffer.from('gap') });
    c2.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, rc: 0 });
  });
});
