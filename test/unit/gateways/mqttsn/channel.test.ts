import { beforeEach, describe, expect, it } from 'vitest';
import { MqttsnChannel } from '../../../../gateways/mqttsn/channel.js';
import { mqttsnConfigSchema } from '../../../../gateways/mqttsn/config.js';
import { shortId, type Frame } from '../../../../gateways/mqttsn/frame.js';
import { PredefinedTopics } from '../../../../gateways/mqttsn/registry.js';
import type { Link } from '../../../../gateways/transport/types.js';
import { FakeGatewayContext } from '../../../helpers/fake-gateway-context.js';

type Cfg = Parameters<typeof mqttsnConfigSchema.parse>[0];

class FakeLink implements Link<Frame> {
  readonly key = '10.0.0.9:5000';
  readonly peer = { address: '10.0.0.9', port: 5000, family: 'IPv4' as const };
  readonly sub = null;
  readonly listener = 'udp:default';
  readonly sockPort = 1884;
  sent: Frame[] = [];
  closed = false;
  send(f: Frame): void {
    if (!this.closed) this.sent.push(f);
  }
  close(): void {
    this.closed = true;
  }
  take(): Frame[] {
    return this.sent.splice(0);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(cfg: Cfg = {}) {
  const ctx = new FakeGatewayContext({ name: 'mqttsn' });
  const config = mqttsnConfigSchema.parse({ enable: true, ...cfg });
  ctx.mountpoint = config.mountpoint;
  const link = new FakeLink();
  const ch = new MqttsnChannel({
    ctx,
    config,
    predefined: new PredefinedTopics(config.predefined),
    link,
    generateClientId: () => 'generated-id-0001',
    count: (n) => ctx.metrics.inc(n),
  });
  const rx = (f: Frame): Frame[] => {
    ch.handleFrame(f);
    return link.take();
  };
  return { ctx, link, ch, rx, config };
}

const connect = (clientId = 'dev1', o: { will?: boolean; clean?: boolean; duration?: number } = {}): Frame => ({
  type: 'connect',
  will: o.will ?? false,
  cleanSession: o.clean ?? true,
  protocolId: 1,
  duration: o.duration ?? 60,
  clientId,
});

async function connected(cfg: Cfg = {}, clientId = 'dev1', o: { clean?: boolean; duration?: number } = {}) {
  const s = setup(cfg);
  s.rx(connect(clientId, o));
  await tick();
  expect(s.link.take()).toEqual([{ type: 'connack', rc: 0 }]);
  return s;
}

const pub = (o: Partial<Extract<Frame, { type: 'publish' }>>): Frame => ({
  type: 'publish',
  dup: false,
  qos: 0,
  retain: false,
  topicIdType: 0,
  topicId: 0,
  msgId: 0,
  payload: Buffer.from('hi'),
  ...o,
});

describe('MqttsnChannel: connect and will (spec §4, checklist 2-4)', () => {
  it('CONNECT without will gets CONNACK 0 and opens a session with protocol version 1.2', async () => {
    const { ctx, ch } = await connected();
    expect(ch.state).toBe('connected');
    expect(ctx.devices[0]).toMatchObject({ clientId: 'dev1', protoVer: '1.2', listener: 'udp:default', peerHost: '10.0.0.9', keepalive: 60 });
    expect(ctx.sessions.get('dev1')!.window).toBe(1);
  });

  it('runs the will handshake WILLTOPICREQ / WILLMSGREQ before CONNACK', async () => {
    const { rx, ctx } = setup();
    expect(rx(connect('dev1', { will: true }))).toEqual([{ type: 'willtopicreq' }]);
    expect(rx({ type: 'willtopic', qos: 1, retain: true, topic: 'will/t' })).toEqual([{ type: 'willmsgreq' }]);
    expect(rx({ type: 'willmsg', payload: Buffer.from('gone') })).toEqual([]);
    await tick();
    expect(ctx.sessions.get('dev1')!.will).toEqual({ topic: 'will/t', payload: Buffer.from('gone'), qos: 1, retain: true });
  });

  it('empty WILLTOPIC clears the will and goes straight to CONNACK', async () => {
    const { rx, link, ctx } = setup();
    rx(connect('dev1', { will: true }));
    expect(rx({ type: 'willtopic', qos: 0, retain: false, topic: null })).toEqual([]);
    await tick();
    expect(link.take()).toEqual([{ type: 'connack', rc: 0 }]);
    expect(ctx.sessions.get('dev1')!.will).toBeNull();
  });

  it('ignores CONNECT during the will handshake', () => {
    const { rx, ch } = setup();
    rx(connect('dev1', { will: true }));
    expect(rx(connect('dev1'))).toEqual([]);
    expect(ch.state).toBe('wait_willtopic');
  });

  it('answers CONNACK 0x80 and closes when authentication fails', async () => {
    const { rx, link, ctx } = setup();
    ctx.authDeny.add('bad');
    rx(connect('bad'));
    await tick();
    expect(link.take()).toEqual([{ type: 'connack', rc: 0x80 }]);
    expect(link.closed).toBe(true);
    expect(ctx.sessions.size).toBe(0);
  });

  it('authenticates with the client id and no credentials, or with clientinfo_override templates', async () => {
    const a = await connected();
    expect(a.ctx.authRequests).toEqual([{ clientId: 'dev1', username: null, password: null }]);
    const b = await connected({ clientinfo_override: { username: 'sn-${clientid}', password: 'pw' } });
    expect(b.ctx.authRequests).toEqual([{ clientId: 'dev1', username: 'sn-dev1', password: Buffer.from('pw') }]);
    expect(b.ctx.devices[0]!.username).toBe('sn-dev1');
  });

  it('gives an empty client id a generated one', async () => {
    const { ctx } = await connected({}, '');
    expect(ctx.sessions.has('generated-id-0001')).toBe(true);
  });

  it('DISCONNECT while waiting for authentication is answered and the late result ignored', async () => {
    const { rx, link, ctx } = setup();
    ctx.holdAuth = true;
    rx(connect('dev1'));
    expect(rx({ type: 'disconnect', duration: null })).toEqual([{ type: 'disconnect', duration: null }]);
    ctx.authPending.shift()!();
    await tick();
    expect(link.sent).toEqual([]);
    expect(ctx.sessions.size).toBe(0);
  });

  it('closes an idle channel that never completes CONNECT after idle_timeout', () => {
    const { ch, rx } = setup({ idle_timeout: 10 });
    rx(connect('dev1', { will: true }));
    expect(ch.handleIdle(5000)).toBe(false);
    expect(ch.handleIdle(10000)).toBe(true);
    expect(ch.state).toBe('closed');
  });

  it('answers SEARCHGW in any state with its gateway id', async () => {
    const { rx } = await connected({ gateway_id: 9 });
    expect(rx({ type: 'searchgw', radius: 1 })).toEqual([{ type: 'gwinfo', gwId: 9, gwAdd: null }]);
  });
});

describe('MqttsnChannel: REGISTER and PUBLISH from the device (spec §5.1, checklist 5-10)', () => {
  it('allocates ids from 1025, returns the same id again, refuses wildcards', async () => {
    const { rx } = await connected();
    expect(rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'topic/a' })).toEqual([{ type: 'regack', topicId: 1025, msgId: 1, rc: 0 }]);
    expect(rx({ type: 'register', topicId: 0, msgId: 2, topicName: 'topic/a' })).toEqual([{ type: 'regack', topicId: 1025, msgId: 2, rc: 0 }]);
    expect(rx({ type: 'register', topicId: 0, msgId: 3, topicName: 'topic/b' })).toEqual([{ type: 'regack', topicId: 1026, msgId: 3, rc: 0 }]);
    expect(rx({ type: 'register', topicId: 0, msgId: 4, topicName: 'x/+' })).toEqual([{ type: 'regack', topicId: 0, msgId: 4, rc: 3 }]);
  });

  it('REGISTER of a predefined name returns the predefined id', async () => {
    const { rx } = await connected({ predefined: [{ id: 7, topic: 'pre/seven' }] });
    expect(rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'pre/seven' })).toEqual([{ type: 'regack', topicId: 7, msgId: 1, rc: 0 }]);
  });

  it('QoS 1 PUBLISH on a registered id is published under the mountpoint and PUBACKed', async () => {
    const { rx, ctx } = await connected({ mountpoint: 'sn/' });
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'topic/a' });
    expect(rx(pub({ qos: 1, topicId: 1025, msgId: 7 }))).toEqual([{ type: 'puback', topicId: 1025, msgId: 7, rc: 0 }]);
    expect(ctx.published).toEqual([{ topic: 'sn/topic/a', payload: 'hi', qos: 1, retain: false, from: 'dev1' }]);
  });

  it('waits for durability before PUBACK when the broker says so', async () => {
    const { rx, ctx, link } = await connected();
    ctx.durable = true;
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'topic/a' });
    expect(rx(pub({ qos: 1, topicId: 1025, msgId: 7 }))).toEqual([]);
    ctx.durableQueue.shift()!();
    expect(link.take()).toEqual([{ type: 'puback', topicId: 1025, msgId: 7, rc: 0 }]);
  });

  it('drops a durability answer that arrives after the connection was reset', async () => {
    const { rx, ctx, link } = await connected();
    ctx.durable = true;
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'topic/a' });
    rx(pub({ qos: 1, topicId: 1025, msgId: 7 }));
    rx({ type: 'disconnect', duration: null });
    link.take();
    ctx.commit();
    expect(link.take()).toEqual([]);
  });

  it('fences a defect: an input that throws ends this client (will published), nothing escapes to the transport', async () => {
    const { rx, ctx, link, ch } = await connected();
    const session = ctx.sessions.get('dev1')!;
    session.publish = () => {
      throw new Error('defect in the publish path');
    };
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'topic/a' });
    expect(() => rx(pub({ qos: 1, topicId: 1025, msgId: 7 }))).not.toThrow();
    expect(ch.state).toBe('closed');
    expect(link.closed).toBe(true);
    expect(ctx.closes).toEqual([{ clientId: 'dev1', reason: 'internal_error', sendWill: true }]);
  });

  it('unknown normal id gets PUBACK 0x02, also for QoS 0', async () => {
    const { rx, ctx } = await connected();
    expect(rx(pub({ qos: 0, topicId: 4000 }))).toEqual([{ type: 'puback', topicId: 4000, msgId: 0, rc: 2 }]);
    expect(rx(pub({ qos: 1, topicId: 4000, msgId: 3 }))).toEqual([{ type: 'puback', topicId: 4000, msgId: 3, rc: 2 }]);
    expect(ctx.published).toEqual([]);
  });

  it('QoS 2: PUBREC, PUBREL -> PUBCOMP, delivered once even when retransmitted with DUP', async () => {
    const { rx, ctx } = await connected();
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'q2' });
    expect(rx(pub({ qos: 2, topicId: 1025, msgId: 5 }))).toEqual([{ type: 'pubrec', msgId: 5 }]);
    expect(rx(pub({ qos: 2, topicId: 1025, msgId: 5, dup: true }))).toEqual([{ type: 'pubrec', msgId: 5 }]);
    expect(rx(pub({ qos: 2, topicId: 1025, msgId: 5 }))).toEqual([{ type: 'puback', topicId: 1025, msgId: 5, rc: 3 }]);
    expect(rx({ type: 'pubrel', msgId: 5 })).toEqual([{ type: 'pubcomp', msgId: 5 }]);
    expect(ctx.published.length).toBe(1);
  });

  it('QoS 2 beyond max_awaiting_rel gets PUBACK 0x01 (congestion)', async () => {
    const { rx } = await connected({ max_awaiting_rel: 1 });
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'q2' });
    rx(pub({ qos: 2, topicId: 1025, msgId: 5 }));
    expect(rx(pub({ qos: 2, topicId: 1025, msgId: 6 }))).toEqual([{ type: 'puback', topicId: 1025, msgId: 6, rc: 1 }]);
  });

  it('a QoS 2 publish whose PUBREL never came stops blocking after await_rel_timeout', async () => {
    const { rx, ctx } = await connected({ max_awaiting_rel: 1, await_rel_timeout: 30, keepalive_multiplier: 10 });
    rx({ type: 'register', topicId: 0, msgId: 1, topicName: 'q2' });
    rx(pub({ qos: 2, topicId: 1025, msgId: 5 }));
    ctx.clock.advance(30000);
    expect(rx(pub({ qos: 2, topicId: 1025, msgId: 6 }))).toEqual([{ type: 'pubrec', msgId: 6 }]);
  });

  it('short topic names publish as is; one with a wildcard gets PUBACK 0x03', async () => {
    const { rx, ctx } = await connected();
    expect(rx(pub({ topicIdType: 2, topicId: shortId('ab') }))).toEqual([]);
    expect(ctx.published[0]!.topic).toBe('ab');
    expect(rx(pub({ topicIdType: 2, topicId: shortId('a#'), qos: 1, msgId: 2 }))).toEqual([
      { type: 'puback', topicId: shortId('a#'), msgId: 2, rc: 3 },
    ]);
  });

  it('predefined ids resolve from config, per client id overriding global ones', async () => {
    const { rx, ctx } = await connected({
      predefined: [
        { id: 1, topic: 'predef/t1' },
        { id: 1, topic: 'mine/t1', clientid: 'dev1' },
        { id: 2, topic: 'predef/t2' },
      ],
    });
    rx(pub({ topicIdType: 1, topicId: 1 }));
    rx(pub({ topicIdType: 1, topicId: 2 }));
    expect(ctx.published.map((p) => p.topic)).toEqual(['mine/t1', 'predef/t2']);
    expect(rx(pub({ topicIdType: 1, topicId: 3 }))).toEqual([{ type: 'puback', topicId: 3, msgId: 0, rc: 2 }]);
  });

  it('ids pairing gave the device (the device registry) apply from its CONNECT, next to the config ones; unpairing drops them at the next CONNECT', async () => {
    const s = setup({ predefined: [{ id: 2, topic: 'predef/t2' }] });
    s.ctx.pairedTopics.set('dev1', [{ id: 9, topic: 'devices/dev1/telemetry' }]);
    s.rx(connect('dev1'));
    await tick();
    expect(s.link.take()).toEqual([{ type: 'connack', rc: 0 }]);
    s.rx(pub({ topicIdType: 1, topicId: 9 }));
    s.rx(pub({ topicIdType: 1, topicId: 2 }));
    expect(s.ctx.published.map((p) => p.topic)).toEqual(['devices/dev1/telemetry', 'predef/t2']);
    // Unpaired: what the registry gives at the next CONNECT replaces the client's paired ids; the config's stay.
    const predefined = new PredefinedTopics([{ id: 3, topic: 'mine/t3', clientid: 'dev1' }]);
    predefined.setClient('dev1', [{ id: 9, topic: 'devices/dev1/telemetry' }]);
    expect([predefined.name(9, 'dev1'), predefined.name(3, 'dev1')]).toEqual(['devices/dev1/telemetry', 'mine/t3']);
    predefined.setClient('dev1', []);
    expect([predefined.name(9, 'dev1'), predefined.name(3, 'dev1')]).toEqual([undefined, 'mine/t3']);
  });

  it('ACL deny gets PUBACK 0x80', async () => {
    const { rx, ctx } = await connected();
    ctx.denyPublish.add('ab');
    expect(rx(pub({ topicIdType: 2, topicId: shortId('ab'), qos: 1, msgId: 4 }))).toEqual([{ type: 'puback', topicId: shortId('ab'), msgId: 4, rc: 0x80 }]);
  });

  it('QoS -1 while connected is published as QoS 0; refused with 0x03 when enable_qos3 is off', async () => {
    const a = await connected();
    a.rx(pub({ qos: -1, topicIdType: 2, topicId: shortId('ab') }));
    expect(a.ctx.published[0]!.qos).toBe(0);
    const b = await connected({ enable_qos3: false });
    expect(b.rx(pub({ qos: -1, topicIdType: 2, topicId: shortId('ab') }))).toEqual([{ type: 'puback', topicId: shortId('ab'), msgId: 0, rc: 3 }]);
  });
});

describe('MqttsnChannel: SUBSCRIBE and delivery (spec §5.2-§5.3, checklist 10-14)', () => {
  it('SUBSCRIBE by name without wildcard registers it; with wildcard SUBACK id 0', async () => {
    const { rx } = await connected();
    expect(rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 0, name: 'a/b' } })).toEqual([
      { type: 'suback', qos: 1, topicId: 1025, msgId: 1, rc: 0 },
    ]);
    expect(rx({ type: 'subscribe', dup: false, qos: 2, msgId: 2, topic: { idType: 0, name: 'x/+' } })).toEqual([
      { type: 'suback', qos: 2, topicId: 0, msgId: 2, rc: 0 },
    ]);
  });

  it('SUBSCRIBE predefined answers with the same id, unknown id 0x02, reserved type 0x03, deny 0x80', async () => {
    const { rx, ctx } = await connected({ predefined: [{ id: 1, topic: 'predef/t1' }] });
    expect(rx({ type: 'subscribe', dup: false, qos: 0, msgId: 1, topic: { idType: 1, id: 1 } })).toEqual([
      { type: 'suback', qos: 0, topicId: 1, msgId: 1, rc: 0 },
    ]);
    expect(rx({ type: 'subscribe', dup: false, qos: 0, msgId: 2, topic: { idType: 1, id: 9 } })).toEqual([
      { type: 'suback', qos: 0, topicId: 9, msgId: 2, rc: 2 },
    ]);
    expect(rx({ type: 'subscribe', dup: false, qos: 0, msgId: 3, topic: { idType: 3, raw: Buffer.from([0, 1]) } })).toEqual([
      { type: 'suback', qos: 0, topicId: 0, msgId: 3, rc: 3 },
    ]);
    ctx.denySubscribe.add('secret/#');
    expect(rx({ type: 'subscribe', dup: false, qos: 1, msgId: 4, topic: { idType: 0, name: 'secret/#' } })).toEqual([
      { type: 'suback', qos: 1, topicId: 0, msgId: 4, rc: 0x80 },
    ]);
    expect(ctx.sessions.get('dev1')!.subs.has('predef/t1')).toBe(true);
  });

  it('delivers on a predefined id and on a short name without REGISTER', async () => {
    const { rx, ctx, link } = await connected({ predefined: [{ id: 1, topic: 'predef/t1' }] });
    rx({ type: 'subscribe', dup: false, qos: 0, msgId: 1, topic: { idType: 1, id: 1 } });
    rx({ type: 'subscribe', dup: false, qos: 0, msgId: 2, topic: { idType: 2, name: 'ab' } });
    ctx.mqttPublish('predef/t1', 'p');
    ctx.mqttPublish('ab', 's');
    expect(link.take()).toEqual([
      pub({ topicIdType: 1, topicId: 1, payload: Buffer.from('p') }),
      pub({ topicIdType: 2, topicId: shortId('ab'), payload: Buffer.from('s') }),
    ]);
  });

  it('wildcard subscription: REGISTER first, PUBLISH after REGACK, and the id is reused', async () => {
    const { rx, ctx, link } = await connected({ mountpoint: 'mp/' });
    rx({ type: 'subscribe', dup: false, qos: 0, msgId: 1, topic: { idType: 0, name: 'x/+' } });
    ctx.mqttPublish('mp/x/1', 'one');
    expect(link.take()).toEqual([{ type: 'register', topicId: 1025, msgId: 1, topicName: 'x/1' }]);
    expect(rx({ type: 'regack', topicId: 1025, msgId: 1, rc: 0 })).toEqual([pub({ topicId: 1025, payload: Buffer.from('one') })]);
    ctx.mqttPublish('mp/x/1', 'two');
    expect(link.take()).toEqual([pub({ topicId: 1025, payload: Buffer.from('two') })]);
  });

  it('retained messages on SUBSCRIBE come after SUBACK', async () => {
    const { rx, ctx } = await connected();
    ctx.mqttPublish('r/t', 'kept', 0, true);
    const out = rx({ type: 'subscribe', dup: false, qos: 0, msgId: 1, topic: { idType: 0, name: 'r/t' } });
    expect(out.map((f) => f.type)).toEqual(['suback', 'publish']);
    expect(out[1]).toMatchObject({ topicId: 1025, retain: true });
  });

  it('re-sends REGISTER every register_interval and DISCONNECTs after register_max retries', async () => {
    const { rx, ctx, link, ch } = await connected();
    rx({ type: 'subscribe', dup: false, qos: 0, msgId: 1, topic: { idType: 0, name: 'x/#' } });
    ctx.mqttPublish('x/1', 'one');
    expect(link.take().map((f) => f.type)).toEqual(['register']);
    for (let i = 0; i < 3; i++) {
      ctx.clock.advance(5000);
      expect(link.take()).toEqual([{ type: 'register', topicId: 1025, msgId: 1, topicName: 'x/1' }]);
    }
    ctx.clock.advance(5000);
    expect(link.take()).toEqual([{ type: 'disconnect', duration: null }]);
    expect(ch.state).toBe('closed');
  });

  it('window of 1: the second QoS 1 delivery waits for the PUBACK of the first', async () => {
    const { rx, ctx, link } = await connected();
    rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 2, name: 'ab' } });
    ctx.mqttPublish('ab', 'm1', 1);
    ctx.mqttPublish('ab', 'm2', 1);
    const first = link.take();
    expect(first).toEqual([pub({ qos: 1, topicIdType: 2, topicId: shortId('ab'), msgId: 1, payload: Buffer.from('m1') })]);
    expect(rx({ type: 'puback', topicId: shortId('ab'), msgId: 1, rc: 0 })).toEqual([
      pub({ qos: 1, topicIdType: 2, topicId: shortId('ab'), msgId: 2, payload: Buffer.from('m2') }),
    ]);
    expect(ctx.acks).toEqual([1]);
  });

  it('PUBACK 0x02 from the device causes a re-REGISTER and a resend', async () => {
    const { rx, ctx, link } = await connected();
    rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 0, name: 'a/b' } });
    ctx.mqttPublish('a/b', 'm1', 1);
    expect(link.take()).toEqual([pub({ qos: 1, topicId: 1025, msgId: 1, payload: Buffer.from('m1') })]);
    expect(rx({ type: 'puback', topicId: 1025, msgId: 1, rc: 2 })).toEqual([{ type: 'register', topicId: 1025, msgId: 1, topicName: 'a/b' }]);
    expect(rx({ type: 'regack', topicId: 1025, msgId: 1, rc: 0 })).toEqual([pub({ qos: 1, dup: true, topicId: 1025, msgId: 1, payload: Buffer.from('m1') })]);
  });

  it('QoS 2 delivery: PUBREC -> PUBREL, PUBCOMP completes it', async () => {
    const { rx, ctx, link } = await connected();
    rx({ type: 'subscribe', dup: false, qos: 2, msgId: 1, topic: { idType: 2, name: 'ab' } });
    ctx.mqttPublish('ab', 'm', 2);
    expect(link.take()[0]).toMatchObject({ type: 'publish', qos: 2, msgId: 1 });
    expect(rx({ type: 'pubrec', msgId: 1 })).toEqual([{ type: 'pubrel', msgId: 1 }]);
    expect(ctx.received).toEqual([1]);
    rx({ type: 'pubcomp', msgId: 1 });
    expect(ctx.sessions.get('dev1')!.inflight.size).toBe(0);
  });

  it('retransmits an unacknowledged QoS 1 delivery with DUP after publish_interval', async () => {
    const { rx, ctx, link } = await connected({ retry: { publish_interval: 10, publish_max: 2 } });
    rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 2, name: 'ab' } });
    ctx.mqttPublish('ab', 'm', 1);
    link.take();
    ctx.clock.advance(10000);
    expect(link.take()).toEqual([pub({ qos: 1, dup: true, topicIdType: 2, topicId: shortId('ab'), msgId: 1, payload: Buffer.from('m') })]);
  });

  it('UNSUBSCRIBE is always answered', async () => {
    const { rx, ctx } = await connected();
    rx({ type: 'subscribe', dup: false, qos: 0, msgId: 1, topic: { idType: 0, name: 'a/b' } });
    expect(rx({ type: 'unsubscribe', msgId: 2, topic: { idType: 0, name: 'a/b' } })).toEqual([{ type: 'unsuback', msgId: 2 }]);
    expect(rx({ type: 'unsubscribe', msgId: 3, topic: { idType: 1, id: 77 } })).toEqual([{ type: 'unsuback', msgId: 3 }]);
    expect(ctx.sessions.get('dev1')!.subs.size).toBe(0);
  });
});

describe('MqttsnChannel: keepalive, disconnect and will (spec §3.1, checklist 16, 20, 21)', () => {
  it('PINGREQ gets PINGRESP; silence for 1.5 x Duration sends DISCONNECT and publishes the will', async () => {
    const { rx, ctx, link, ch } = setup();
    rx(connect('dev1', { will: true, duration: 10 }));
    rx({ type: 'willtopic', qos: 0, retain: false, topic: 'will/t' });
    rx({ type: 'willmsg', payload: Buffer.from('bye') });
    await tick();
    link.take();
    ctx.clock.advance(10000);
    expect(rx({ type: 'pingreq', clientId: null })).toEqual([{ type: 'pingresp' }]);
    ctx.clock.advance(14000);
    expect(ch.state).toBe('connected');
    ctx.clock.advance(1000);
    expect(link.take()).toEqual([{ type: 'disconnect', duration: null }]);
    expect(ch.state).toBe('closed');
    expect(ctx.published).toEqual([{ topic: 'will/t', payload: 'bye', qos: 0, retain: false, from: 'dev1' }]);
    expect(ctx.closes[0]).toMatchObject({ reason: 'keepalive_timeout', sendWill: true });
  });

  it('WILLTOPICUPD / WILLMSGUPD replace the will used at keepalive timeout', async () => {
    const { rx, ctx } = await connected({}, 'dev1', { duration: 10 });
    expect(rx({ type: 'willmsgupd', payload: Buffer.from('x') })).toEqual([{ type: 'willmsgresp', rc: 3 }]);
    expect(rx({ type: 'willtopicupd', qos: 1, retain: false, topic: 'new/will' })).toEqual([{ type: 'willtopicresp', rc: 0 }]);
    expect(rx({ type: 'willmsgupd', payload: Buffer.from('new') })).toEqual([{ type: 'willmsgresp', rc: 0 }]);
    ctx.clock.advance(15000);
    expect(ctx.published).toEqual([{ topic: 'new/will', payload: 'new', qos: 1, retain: false, from: 'dev1' }]);
  });

  it('clean DISCONNECT is answered and publishes the will in EMQX mode only', async () => {
    for (const [will_on_disconnect, expected] of [
      [true, 1],
      [false, 0],
    ] as const) {
      const { rx, ctx, link } = setup({ will_on_disconnect });
      rx(connect('dev1', { will: true }));
      rx({ type: 'willtopic', qos: 0, retain: false, topic: 'w' });
      rx({ type: 'willmsg', payload: Buffer.from('bye') });
      await tick();
      link.take();
      expect(rx({ type: 'disconnect', duration: null })).toEqual([{ type: 'disconnect', duration: null }]);
      expect(link.closed).toBe(true);
      expect(ctx.published.length).toBe(expected);
    }
  });

  it('a malformed frame closes the channel and publishes the will', async () => {
    const { ch, ctx } = await connected();
    ch.handleFrameError('MQTTSN_BAD_BODY', 'x');
    expect(ch.state).toBe('closed');
    expect(ctx.closes[0]).toMatchObject({ reason: 'malformed_packet', sendWill: true });
  });

  it('a kick from the broker sends DISCONNECT and closes', async () => {
    const { ch, link } = await connected();
    ch.kick('kicked');
    expect(link.take()).toEqual([{ type: 'disconnect', duration: null }]);
    expect(link.closed).toBe(true);
  });

  it('CONNECT again while connected starts over without the will', async () => {
    const { rx, ctx, ch } = await connected();
    rx(connect('dev1'));
    await tick();
    expect(ch.state).toBe('connected');
    expect(ctx.closes[0]).toMatchObject({ reason: 'normal', sendWill: false });
  });
});

describe('MqttsnChannel: sleeping clients (MQTT-SN 1.2 §6.14, checklist 17-19)', () => {
  let s: Awaited<ReturnType<typeof connected>>;
  beforeEach(async () => {
    s = await connected();
    s.rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 0, name: 'cmd/#' } });
    expect(s.rx({ type: 'disconnect', duration: 60 })).toEqual([{ type: 'disconnect', duration: null }]);
    expect(s.ch.state).toBe('asleep');
  });

  it('holds messages while asleep and flushes them in order, with REGISTERs, before PINGRESP', () => {
    const { ctx, rx, link } = s;
    ctx.mqttPublish('cmd/a', 'one', 1);
    ctx.mqttPublish('cmd/a', 'two', 0);
    ctx.mqttPublish('cmd/b', 'three', 1);
    expect(link.take()).toEqual([]);
    expect(ctx.sessions.get('dev1')!.queuedCount()).toBe(3);
    expect(rx({ type: 'pingreq', clientId: 'dev1' })).toEqual([{ type: 'register', topicId: 1025, msgId: 1, topicName: 'cmd/a' }]);
    expect(rx({ type: 'regack', topicId: 1025, msgId: 1, rc: 0 })).toEqual([pub({ qos: 1, topicId: 1025, msgId: 1, payload: Buffer.from('one') })]);
    // QoS 0 "two" follows the PUBACK, then REGISTER for cmd/b.
    expect(rx({ type: 'puback', topicId: 1025, msgId: 1, rc: 0 })).toEqual([
      pub({ qos: 0, topicId: 1025, msgId: 0, payload: Buffer.from('two') }),
      { type: 'register', topicId: 1026, msgId: 2, topicName: 'cmd/b' },
    ]);
    expect(rx({ type: 'regack', topicId: 1026, msgId: 2, rc: 0 })).toEqual([pub({ qos: 1, topicId: 1026, msgId: 2, payload: Buffer.from('three') })]);
    expect(rx({ type: 'puback', topicId: 1026, msgId: 2, rc: 0 })).toEqual([{ type: 'pingresp' }]);
    expect(s.ch.state).toBe('asleep');
    expect(ctx.sessions.get('dev1')!.attached).toBe(false);
  });

  it('PINGREQ with nothing buffered gets PINGRESP at once; another client id is ignored', () => {
    expect(s.rx({ type: 'pingreq', clientId: 'other' })).toEqual([]);
    expect(s.rx({ type: 'pingreq', clientId: 'dev1' })).toEqual([{ type: 'pingresp' }]);
    expect(s.ch.state).toBe('asleep');
  });

  it('sleep timeout removes the client without the will (EMQX) or with it (spec switch)', async () => {
    s.ctx.clock.advance(60000);
    expect(s.ch.state).toBe('closed');
    expect(s.ctx.closes[0]).toMatchObject({ reason: 'keepalive_timeout', sendWill: false });
    const t = await connected({ sleep: { will_on_timeout: true, timeout_multiplier: 1.5 } });
    t.rx({ type: 'disconnect', duration: 10 });
    t.ctx.clock.advance(10000);
    expect(t.ch.state).toBe('asleep');
    t.ctx.clock.advance(5000);
    expect(t.ctx.closes[0]).toMatchObject({ sendWill: true });
  });

  it('CONNECT while asleep resumes: CONNACK 0, active, queued messages delivered', async () => {
    s.ctx.mqttPublish('cmd/x', 'queued', 1);
    const out = s.rx(connect('dev1'));
    expect(out[0]).toEqual({ type: 'connack', rc: 0 });
    expect(out[1]).toMatchObject({ type: 'register', topicName: 'cmd/x' });
    expect(s.ch.state).toBe('connected');
  });

  it('a new DISCONNECT with duration while asleep restarts the sleep timer', () => {
    s.ctx.clock.advance(50000);
    expect(s.rx({ type: 'disconnect', duration: 60 })).toEqual([{ type: 'disconnect', duration: null }]);
    s.ctx.clock.advance(50000);
    expect(s.ch.state).toBe('asleep');
  });
});

describe('MqttsnChannel: session resume (spec §5.4, checklist 22)', () => {
  it('CleanSession=0 after keepalive timeout: messages of the gap delivered, REGISTERs first with subs_resume', async () => {
    const a = await connected({ subs_resume: true }, 'dev1', { clean: false, duration: 10 });
    a.rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 0, name: 'sub/a' } });
    a.ctx.clock.advance(15000);
    expect(a.ch.state).toBe('closed');
    a.ctx.mqttPublish('sub/a', 'gap', 1);
    // A new channel (new datagram source) for the same client id.
    const link = new (a.link.constructor as new () => typeof a.link)();
    const config = mqttsnConfigSchema.parse({ enable: true, subs_resume: true });
    const ch = new MqttsnChannel({
      ctx: a.ctx,
      config,
      predefined: new PredefinedTopics([]),
      link,
      generateClientId: () => 'x',
      count: () => {},
    });
    ch.handleFrame(connect('dev1', { clean: false }));
    await tick();
    expect(link.take()).toEqual([{ type: 'connack', rc: 0 }, { type: 'register', topicId: 1025, msgId: 1, topicName: 'sub/a' }]);
    ch.handleFrame({ type: 'regack', topicId: 1025, msgId: 1, rc: 0 });
    expect(link.take()).toEqual([pub({ qos: 1, topicId: 1025, msgId: 1, payload: Buffer.from('gap') })]);
  });
});

describe('MqttsnChannel: fuzz (random frames in any state never throw)', () => {
  it('survives random decoded frames, deliveries and clock jumps', async () => {
    let seed = 0xc0ffee;
    const rnd = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const { decode } = await import('../../../../gateways/mqttsn/frame.js');
    const states = new Set<string>();
    for (let run = 0; run < 40; run++) {
      const s = run % 4 === 0 ? setup({ predefined: [{ id: 1, topic: 'p/1' }] }) : await connected({ predefined: [{ id: 1, topic: 'p/1' }] });
      s.ctx.mqttPublish('p/1', 'retained', 1, true);
      if (s.ch.state === 'connected') s.rx({ type: 'subscribe', dup: false, qos: 1, msgId: 1, topic: { idType: 0, name: '#' } });
      for (let i = 0; i < 300; i++) {
        const len = 2 + Math.floor(rnd() * 12);
        const b = Buffer.alloc(len);
        for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
        b[0] = len;
        b[1] = [0x04, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x12, 0x14, 0x16, 0x18, 0x1a, 0x1c][Math.floor(rnd() * 16)]!;
        const r = decode(b);
        // Malformed input closes the channel by design, so feed mostly decodable frames.
        if (r.kind === 'frame') expect(() => s.ch.handleFrame(r.frame)).not.toThrow();
        else if (rnd() < 0.02) expect(() => s.ch.handleFrameError(r.code, r.detail)).not.toThrow();
        if (rnd() < 0.1) s.ctx.mqttPublish(rnd() < 0.5 ? 'p/1' : 'ab', 'x', (Math.floor(rnd() * 3) as 0 | 1 | 2));
        if (rnd() < 0.05) s.ctx.clock.advance(Math.floor(rnd() * 20000));
        if (i % 50 === 0) await tick();
        states.add(s.ch.state);
        if (s.ch.state === 'closed') break;
      }
    }
    expect(states.has('closed')).toBe(true);
    expect(states.has('connected')).toBe(true);
    expect(states.has('asleep')).toBe(true);
  });
});
