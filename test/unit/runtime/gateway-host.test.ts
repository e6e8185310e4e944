import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionRefusedError, type Delivery, type DisconnectReason } from '../../../gateways/gateway.js';
import { Broker } from '../../../src/broker/broker.js';
import { GatewayHost } from '../../../src/runtime/gateway-host.js';
import { allowAllAuthenticator } from '../../../src/core/hooks.js';
import { createMessage } from '../../../src/core/message.js';
import { systemClock } from '../../../src/core/types.js';
import { validateConfig } from '../../../src/config/load.js';
import { Store } from '../../../src/store/store.js';

const log = pino({ level: 'silent' });

function setup() {
  const store = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
  const broker = new Broker({ config: validateConfig({ sys_topics: { sys_msg_interval: 0, sys_heartbeat_interval: 0 } }), store, log, clock: systemClock });
  broker.start();
  const host = new GatewayHost({ name: 'mqttsn', sysName: 'mqtt-sn', protoName: 'MQTT-SN', broker, authenticator: () => allowAllAuthenticator, log, mountpoint: '' });
  return { store, broker, host };
}

function sink() {
  const got: Delivery[] = [];
  const kicked: DisconnectReason[] = [];
  return { got, kicked, deliver: (d: Delivery) => got.push(d), kick: (r: DisconnectReason) => kicked.push(r) };
}

const device = { clientId: 'sensor-1', username: null, peerHost: '127.0.0.1', peerPort: 1, listener: 'udp:default' };

describe('gateway sessions', () => {
  let env: ReturnType<typeof setup>;
  afterEach(() => {
    env.broker.stop();
    env.store.close();
  });

  it('refuses a persistent session while the store is failing, as MQTT CONNECT does; clean sessions still open', () => {
    env = setup();
    env.broker.refusesPersistentSessions = () => true;
    expect(() => env.host.openSession(device, { cleanStart: false, expiryInterval: 600 }, sink())).toThrow(SessionRefusedError);
    expect(() => env.host.openSession(device, { cleanStart: true, expiryInterval: 60 }, sink())).toThrow(SessionRefusedError);
    expect(env.broker.connectionCount()).toBe(0);
    const s = env.host.openSession(device, { cleanStart: true, expiryInterval: 0 }, sink());
    expect(s.clientId).toBe('sensor-1');
    expect(env.broker.connectionCount()).toBe(1);
  });

  it('a sleeping device keeps its connection: messages (QoS 0 too) wait, and arrive in order on wake', () => {
    env = setup();
    const a = sink();
    const s = env.host.openSession(device, { cleanStart: true, expiryInterval: 0 }, a);
    expect(s.subscribe('cmd/#', { qos: 1 }).ok).toBe(true);
    s.detach(); // asleep
    expect(env.broker.connectionCount()).toBe(1);
    for (const [i, qos] of [[0, 0], [1, 1], [2, 0]] as const) env.broker.publish(createMessage({ topic: 'cmd/x', payload: Buffer.from(String(i)), qos, retain: false, now: Date.now() }));
    expect(a.got).toHaveLength(0);
    expect(s.queuedCount()).toBe(3);
    s.attach(a); // wakes
    expect(a.got.map((d) => d.message.payload.toString())).toEqual(['0', '1', '2']);
  });

  it('a sleeping device taken over is kicked and counted out once', () => {
    env = setup();
    const a = sink();
    const s = env.host.openSession(device, { cleanStart: false, expiryInterval: 600 }, a);
    s.detach();
    const b = sink();
    const s2 = env.host.openSession(device, { cleanStart: false, expiryInterval: 600 }, b);
    expect(a.kicked).toEqual(['takenover']);
    expect(s2.resumed).toBe(true);
    expect(env.broker.connectionCount()).toBe(1);
    s.close('normal'); // the old channel ending late changes nothing
    expect(env.broker.connectionCount()).toBe(1);
    s2.close('normal');
    expect(env.broker.connectionCount()).toBe(0);
  });

  it('$SYS events carry the name the gateway module gives (EMQX spells mqttsn as mqtt-sn), not a table in the broker', () => {
    env = setup();
    const watcher = sink();
    const w = env.host.openSession({ ...device, clientId: 'watcher' }, { cleanStart: true, expiryInterval: 0 }, watcher);
    expect(w.subscribe('$SYS/brokers/+/gateway/#', { qos: 0 }).ok).toBe(true);
    const s = env.host.openSession(device, { cleanStart: true, expiryInterval: 0 }, sink());
    s.close('normal');
    const topics = watcher.got.map((d) => d.message.topic.replace(/^\$SYS\/brokers\/[^/]+/, ''));
    expect(topics).toEqual(['/gateway/mqtt-sn/clients/sensor-1/connected', '/gateway/mqtt-sn/clients/sensor-1/disconnected']);
    expect(env.broker.client('sensor-1')).toBeNull();
  });
});
