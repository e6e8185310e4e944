// Broker.publishFrom is the one publish door for every front: the same limits, topic checks,
// authorization and rewrite whoever publishes, and a store that drops a write closes the client
// behind it instead of letting it be acknowledged.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../../src/broker/broker.js';
import type { Session } from '../../../src/broker/session.js';
import type { Authorizer } from '../../../src/core/hooks.js';
import { createMessage, Message } from '../../../src/core/message.js';
import type { ClientIdentity, Delivery, DisconnectReason, Outlet, Publisher } from '../../../src/core/types.js';
import { systemClock } from '../../../src/core/types.js';
import { validateConfig } from '../../../src/config/load.js';
import { Store } from '../../../src/store/store.js';

const log = pino({ level: 'silent' });

function setup(raw: Record<string, unknown> = {}, authorizer?: Authorizer) {
  const store = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
  const config = validateConfig({ sys_topics: { sys_msg_interval: 0, sys_heartbeat_interval: 0 }, ...raw });
  const broker = new Broker({ config, store, log, clock: systemClock, authorizer });
  broker.start();
  return { store, broker };
}

class TestOutlet implements Outlet {
  got: Delivery[] = [];
  kicked: DisconnectReason[] = [];
  deliver(d: Delivery): void {
    this.got.push(d);
  }
  kick(r: DisconnectReason): void {
    this.kicked.push(r);
  }
}

function open(broker: Broker, clientId: string, expiryInterval = 0): { s: Session; outlet: TestOutlet } {
  const { session } = broker.openSession({
    clientId,
    username: null,
    superuser: false,
    protocol: 'mqtt',
    protoName: 'MQTT',
    protoVer: 5,
    listener: 'tcp:default',
    peerHost: '127.0.0.1',
    peerPort: 1,
    sockPort: 1883,
    keepalive: 60,
    cleanStart: true,
    expiryInterval,
    will: null,
  });
  const outlet = new TestOutlet();
  broker.attach(session, outlet, 32);
  return { s: session, outlet };
}

/** A device without a session (CoAP connectionless, MQTT-SN QoS -1). */
function sessionless(clientId: string, mountpoint = ''): Publisher {
  const id: ClientIdentity = { clientId, username: null, peerHost: '127.0.0.1', peerPort: 2, protocol: 'coap', listener: 'udp:default', superuser: false };
  return { clientId, username: null, superuser: false, mountpoint, recvMsg: 0, authIdentity: () => id };
}

const body = Buffer.from('x');

describe('Broker.publishFrom', () => {
  let env: ReturnType<typeof setup>;
  afterEach(() => {
    env.broker.stop();
    env.store.close();
  });

  it('refuses by the same limits for a session and for a sessionless device', () => {
    env = setup({ mqtt: { max_qos_allowed: 1, max_topic_levels: 3, max_packet_size: 64, retain_available: false } });
    const { s } = open(env.broker, 'mqtt-1');
    for (const from of [s, sessionless('coap-1')]) {
      const now = Date.now();
      expect(env.broker.publishFrom(from, 'a/b', body, 2, false, null, undefined, now)).toEqual({ ok: false, reason: 'qos_not_supported' });
      expect(env.broker.publishFrom(from, 'a/b', body, 0, true, null, undefined, now)).toEqual({ ok: false, reason: 'retain_not_supported' });
      expect(env.broker.publishFrom(from, 'a/+', body, 0, false, null, undefined, now)).toEqual({ ok: false, reason: 'topic_malformed' });
      expect(env.broker.publishFrom(from, '', body, 0, false, null, undefined, now)).toEqual({ ok: false, reason: 'topic_malformed' });
      expect(env.broker.publishFrom(from, 'a/b/c/d', body, 0, false, null, undefined, now)).toEqual({ ok: false, reason: 'topic_too_deep' });
      expect(env.broker.publishFrom(from, 'a/b', Buffer.alloc(65), 0, false, null, undefined, now)).toEqual({ ok: false, reason: 'packet_too_large' });
      expect(env.broker.publishFrom(from, 'a/b', body, 1, false, null, undefined, now)).toMatchObject({ ok: true });
      expect(from.recvMsg).toBe(7);
    }
  });

  it('applies the mountpoint and topic rewrite, then authorizes the mounted topic', () => {
    const seen: string[] = [];
    const authorizer: Authorizer = {
      authorize: (_c, _a, topic) => {
        seen.push(topic);
        return topic.startsWith('dev/d1/denied') ? 'deny' : topic.startsWith('dev/d1/kick') ? 'disconnect' : 'allow';
      },
    };
    env = setup({ rewrite: [{ action: 'publish', source_topic: 'dev/+/raw', dest_topic: 'dev/raw', re: '^dev/(.+)/raw$' }] }, authorizer);
    const { s, outlet } = open(env.broker, 'sub');
    env.broker.subscribe(s, 'dev/#', { qos: 0, nl: false, rap: false, rh: 0, subId: 0 });
    const from = sessionless('d1', 'dev/d1/');
    expect(env.broker.publishFrom(from, 'raw', body, 0, false, null, undefined, Date.now())).toMatchObject({ ok: true, matched: 1 });
    expect(outlet.got.map((d) => d.message.topic)).toEqual(['dev/raw']);
    expect(seen).toEqual(['dev/d1/raw']);
    expect(env.broker.publishFrom(from, 'denied', body, 1, false, null, undefined, Date.now())).toEqual({ ok: false, reason: 'not_authorized' });
    expect(env.broker.publishFrom(from, 'kick', body, 1, false, null, undefined, Date.now())).toEqual({ ok: false, reason: 'not_authorized_disconnect' });
  });

  it('a write the store drops for its own data closes the publisher behind it before its ack', async () => {
    env = setup();
    const { s: sub } = open(env.broker, 'persistent-sub', 3600);
    env.broker.subscribe(sub, 'q/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 });
    env.broker.connectionClosed(sub, sub.outlet!, 'normal', false);
    const { s: pub, outlet } = open(env.broker, 'bad-publisher');
    // What a will with Message-Expiry-Interval given twice once became: expiresAt NaN, a queue row
    // the store cannot write (expires_at NOT NULL). Published as the broker publishes a will.
    const m = createMessage({ topic: 'q/1', payload: body, qos: 1, retain: false, from: pub.clientId, now: Date.now() });
    const r = env.broker.publish(new Message(m.id, m.topic, m.payload, m.qos, m.retain, m.props, m.from, m.fromUsername, m.origin, m.ts, Number.NaN));
    expect(r).toMatchObject({ ok: true, durable: true });
    let acked = false;
    env.store.afterCommit({ committed: () => (acked = outlet.kicked.length === 0) });
    await new Promise((res) => setTimeout(res, 20));
    expect(outlet.kicked).toEqual(['internal_error']);
    expect(acked).toBe(false);
    // The store goes on: a later durable publish from another client commits.
    const { s: other } = open(env.broker, 'good-publisher');
    expect(env.broker.publishFrom(other, 'q/2', body, 1, false, null, undefined, Date.now())).toMatchObject({ ok: true, durable: true });
    let committed = false;
    env.store.afterCommit({ committed: () => (committed = true) });
    await new Promise((res) => setTimeout(res, 20));
    expect(committed).toBe(true);
    expect(env.store.failures).toBe(0);
  });
});
