// Session behaviour of the bridge client against a scripted upstream (a raw mqtt-packet server on
// 127.0.0.1) that can withhold acks, refuse connections and drop links: bridge bit, DUP
// retransmission, PUBREL resend, stalled-window detection, failover, no UNSUBSCRIBE on shutdown.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import { bridgesConfigShape } from '../../src/bridge/config.js';
import { startBridges, type BridgeService } from '../../src/bridge/index.js';
import { createMessage, type Message } from '../../src/core/message.js';
import type { Config } from '../../src/config/schema.js';
import { freePort } from '../helpers/mosquitto.js';
import { sleep, until } from '../helpers/mqtt-clients.js';
import { fakeBroker, openStore, type FakeBroker } from '../unit/bridge/fake-broker.js';

interface Conn {
  sock: Socket;
  packets: Packet[];
  connect: IConnectPacket & { bridgeMode?: boolean };
  version: 3 | 4 | 5;
  send(p: Packet): void;
}

interface UpstreamScript {
  /** CONNACK code (v3 returnCode / v5 reasonCode); default 0. */
  refuse?: number;
  sessionPresent?: boolean;
  receiveMaximum?: number;
  maximumQoS?: 0 | 1;
  retainAvailable?: boolean;
  /** v5 CONNACK user property outpost-node. */
  node?: string;
  /** Do not answer PINGREQ (a dead upstream that keeps the TCP connection open). */
  silent?: boolean;
  /** Acknowledge QoS 1/2 publishes (default true); 'pubrec-only' answers QoS 2 with PUBREC but never PUBCOMP. */
  ack?: boolean | 'pubrec-only';
}

class FakeUpstream {
  readonly conns: Conn[] = [];
  private readonly server: Server;
  script: UpstreamScript = {};
  port = 0;

  constructor() {
    this.server = createServer((sock) => this.accept(sock));
  }

  listen(port = 0): Promise<void> {
    return new Promise((resolve) =>
      this.server.listen(port, '127.0.0.1', () => {
        const a = this.server.address();
        this.port = typeof a === 'object' && a ? a.port : 0;
        resolve();
      }),
    );
  }

  private accept(sock: Socket): void {
    const parser = mqttPacket.parser();
    let conn: Conn | null = null;
    sock.on('error', () => undefined);
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') {
        const version = (p.protocolVersion ?? 4) as 3 | 4 | 5;
        conn = {
          sock,
          packets: [p],
          connect: p,
          version,
          send: (q) => sock.write(mqttPacket.generate(q, { protocolVersion: version })),
        };
        this.conns.push(conn);
        const s = this.script;
        const ack: Packet =
          version === 5
            ? {
                cmd: 'connack',
                sessionPresent: s.sessionPresent ?? false,
                reasonCode: s.refuse ?? 0,
                properties: {
                  ...(s.receiveMaximum ? { receiveMaximum: s.receiveMaximum } : {}),
                  ...(s.maximumQoS !== undefined ? { maximumQoS: s.maximumQoS } : {}),
                  ...(s.retainAvailable !== undefined ? { retainAvailable: s.retainAvailable } : {}),
                  ...(s.node !== undefined ? { userProperties: { 'outpost-node': s.node } } : {}),
                },
              }
            : { cmd: 'connack', sessionPresent: s.sessionPresent ?? false, returnCode: s.refuse ?? 0 };
        conn.send(ack);
        if (s.refuse) sock.end();
        return;
      }
      if (!conn) return;
      conn.packets.push(p);
      const ackMode = this.script.ack ?? true;
      if (p.cmd === 'publish' && p.qos === 1 && ackMode === true) conn.send({ cmd: 'puback', messageId: p.messageId! });
      if (p.cmd === 'publish' && p.qos === 2 && ackMode !== false) conn.send({ cmd: 'pubrec', messageId: p.messageId! });
      if (p.cmd === 'pubrel' && ackMode === true) conn.send({ cmd: 'pubcomp', messageId: p.messageId! });
      if (p.cmd === 'subscribe') conn.send({ cmd: 'suback', messageId: p.messageId!, granted: p.subscriptions.map((x) => x.qos) });
      if (p.cmd === 'pingreq' && !this.script.silent) conn.send({ cmd: 'pingresp' });
    });
    sock.on('data', (d) => parser.parse(d));
  }

  last(): Conn {
    return this.conns[this.conns.length - 1]!;
  }

  publishes(c: Conn = this.last()): IPublishPacket[] {
    return c.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
  }

  dropAll(): void {
    for (const c of this.conns) c.sock.destroy();
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeUpstream(script: UpstreamScript = {}, port = 0): Promise<FakeUpstream> {
  const u = new FakeUpstream();
  u.script = script;
  await u.listen(port);
  cleanups.push(() => u.close());
  return u;
}

function config(bridges: Record<string, unknown>): Config {
  return z.strictObject(bridgesConfigShape).parse({ bridges }) as unknown as Config;
}

const FAST = { reconnect: { min: 0.05, max: 0.2 } };

async function edge(bridges: Record<string, unknown>, random: () => number = () => 0.5): Promise<{ broker: FakeBroker; svc: BridgeService }> {
  const store = openStore();
  const broker = fakeBroker(store);
  const svc = await startBridges(broker, config(bridges), broker.log, { random });
  cleanups.push(async () => {
    await svc.stop();
    store.close();
  });
  return { broker, svc };
}

const local = (topic: string, payload: string, qos: 0 | 1 | 2 = 1): Message => createMessage({ topic, payload: Buffer.from(payload), qos, retain: false, now: Date.now() });

describe('bridge session towards the upstream', () => {
  it('v3.1.1 CONNECT carries the bridge bit (0x84), the stable client id and clean_start=false', async () => {
    const up = await fakeUpstream();
    await edge({ b: { servers: [`127.0.0.1:${up.port}`], clientid: 'site-1', ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    expect(up.last().connect).toMatchObject({ protocolVersion: 4, bridgeMode: true, clientId: 'site-1', clean: false, keepalive: 60 });
  });

  it('sends the configured credentials', async () => {
    const up = await fakeUpstream();
    await edge({ b: { servers: [`127.0.0.1:${up.port}`], username: 'edge', password: 's3cret', ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    expect(up.last().connect.username).toBe('edge');
    expect(up.last().connect.password?.toString()).toBe('s3cret');
  });

  it('pings at the keepalive interval and reconnects when the upstream goes silent', async () => {
    const up = await fakeUpstream({ silent: true });
    const { svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], keepalive: 1, ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    await until(() => up.conns[0]!.packets.some((p) => p.cmd === 'pingreq'), 3000, 'PINGREQ');
    await until(() => up.conns.length === 2, 4000, 'reconnect after keepalive timeout');
    expect(svc.status()[0]!.lastErrorCode).toBe('OUTPOST_ERR_BRIDGE_KEEPALIVE_TIMEOUT');
  });

  it('v5 CONNECT sends Session-Expiry; ingress subscribes with no-local, retain-as-published, rh=1', async () => {
    const up = await fakeUpstream();
    await edge({ b: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', session_expiry_interval: 600, ingress: [{ filter: '$share/g/cmd/#', topic: 'in/${topic}' }], ...FAST } });
    await until(() => up.conns.length === 1 && up.last().packets.some((p) => p.cmd === 'subscribe'), 3000, 'subscribe');
    const c = up.last();
    expect(c.connect.bridgeMode).toBeFalsy();
    expect(c.connect.properties).toMatchObject({ sessionExpiryInterval: 600 });
    const sub = c.packets.find((p) => p.cmd === 'subscribe')!;
    expect(sub).toMatchObject({ subscriptions: [{ topic: '$share/g/cmd/#', qos: 1, nl: true, rap: true, rh: 1 }] });
  });

  it('detects a stalled window (no PUBACK within stall_timeout), reconnects and retransmits with DUP and the same packet id', async () => {
    const up = await fakeUpstream({ ack: false });
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'd/#' }], replay: { stall_timeout: 1 }, ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    await broker.publishAcked(local('d/1', 'a'));
    await until(() => up.publishes().length === 1, 3000, 'first publish');
    const first = up.publishes()[0]!;
    expect(first.dup).toBe(false);
    up.script.ack = true;
    await until(() => up.conns.length === 2 && up.publishes().length === 1, 4000, 'reconnect + retransmit');
    const again = up.publishes()[0]!;
    expect(again).toMatchObject({ dup: true, messageId: first.messageId, topic: 'd/1' });
    await until(() => svc.status()[0]!.counters.success === 1, 3000, 'ack');
    const st = svc.status()[0]!;
    expect(st.counters.stalled).toBe(1);
    expect(st.lastErrorCode).toBe('OUTPOST_ERR_BRIDGE_WINDOW_STALLED');
    expect(st.counters.retried).toBe(1);
    expect(broker.logLines.some((l) => l.msg === 'bridge_window_stalled')).toBe(true);
  });

  it('retry_interval resends an unacknowledged publish with DUP on the same connection', async () => {
    const up = await fakeUpstream({ ack: false });
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'd/#' }], replay: { retry_interval: 0.3, stall_timeout: 30 }, ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    await broker.publishAcked(local('d/r', 'again'));
    await until(() => up.publishes().length >= 2, 3000, 'timed resend');
    const [a, b] = up.publishes();
    expect(a).toMatchObject({ dup: false });
    expect(b).toMatchObject({ dup: true, messageId: a!.messageId, payload: Buffer.from('again') });
    expect(up.conns).toHaveLength(1);
    expect(svc.status()[0]).toMatchObject({ inflight: 1, healthy: true });
  });

  it('reports replay lag and the oldest queued age while a backlog waits', async () => {
    const port = await freePort();
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${port}`], egress: [{ filter: 'd/#' }], ...FAST } });
    await broker.publishAcked(local('d/1', 'old'));
    await sleep(120);
    await broker.publishAcked(local('d/2', 'new'));
    const st = svc.status()[0]!;
    expect(st.queued).toBe(2);
    expect(st.replayLagMs).toBeGreaterThanOrEqual(100);
    expect(st.oldestQueuedAgeMs).toBeGreaterThanOrEqual(100);
    expect(st.healthy).toBe(false);
    const g = broker.metrics.gaugeSnapshot();
    expect(g['bridge.b.queuing']).toBe(2);
    expect(g['bridge.b.replay_lag_ms']).toBeGreaterThanOrEqual(100);
    expect(g['bridge.b.connected']).toBe(0);
    expect(broker.metrics.get('bridge.b.matched')).toBe(2);
  });

  it('resends PUBREL for a QoS 2 message that got PUBREC but no PUBCOMP before the link dropped', async () => {
    const up = await fakeUpstream({ ack: 'pubrec-only' });
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'd/#' }], ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    await broker.publishAcked(local('d/2', 'q2', 2));
    await until(() => up.last().packets.some((p) => p.cmd === 'pubrel'), 3000, 'first PUBREL');
    const pid = up.publishes()[0]!.messageId;
    up.script.ack = true;
    up.dropAll();
    await until(() => up.conns.length === 2 && up.last().packets.some((p) => p.cmd === 'pubrel'), 3000, 'PUBREL again');
    expect(up.publishes(up.last())).toHaveLength(0);
    expect(up.last().packets.find((p) => p.cmd === 'pubrel')).toMatchObject({ messageId: pid });
    await until(() => svc.status()[0]!.counters.success === 1 && svc.status()[0]!.inflight === 0, 3000, 'PUBCOMP');
  });

  it('keeps the window within the upstream Receive-Maximum', async () => {
    const up = await fakeUpstream({ ack: false, receiveMaximum: 2 });
    const { broker } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', egress: [{ filter: 'd/#' }], ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    for (let i = 0; i < 5; i++) await broker.publishAcked(local('d/x', String(i)));
    await sleep(200);
    expect(up.publishes().map((p) => p.payload.toString())).toEqual(['0', '1']);
  });

  it('honours the upstream Maximum-QoS and Retain-Available [MQTT-3.2.2-11, -14]', async () => {
    const up = await fakeUpstream({ maximumQoS: 1, retainAvailable: false });
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', egress: [{ filter: 'd/#' }], ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    await broker.publishAcked(createMessage({ topic: 'd/q2', payload: Buffer.from('r'), qos: 2, retain: true, now: Date.now() }));
    await until(() => svc.status()[0]!.counters.success === 1, 3000, 'acked');
    expect(up.publishes()[0]).toMatchObject({ qos: 1, retain: false });
  });

  it('limits the send rate', async () => {
    const up = await fakeUpstream();
    const { broker } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'd/#' }], replay: { rate: 20 }, ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    for (let i = 0; i < 40; i++) broker.publish(local('d/r', String(i)));
    const t0 = Date.now();
    await sleep(600);
    const n = up.publishes().length;
    const allowed = Math.ceil(((Date.now() - t0 + 50) / 1000) * 20) + 3;
    expect(n).toBeGreaterThan(3);
    expect(n).toBeLessThanOrEqual(allowed);
    await until(() => up.publishes().length === 40, 4000, 'all sent eventually');
    expect(up.publishes().map((p) => Number(p.payload.toString()))).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('fails over to the second address and returns to the primary after the next drop', async () => {
    const primaryPort = await freePort();
    const backup = await fakeUpstream();
    const { svc } = await edge({ b: { servers: [`127.0.0.1:${primaryPort}`, `127.0.0.1:${backup.port}`], ...FAST } });
    await until(() => svc.status()[0]!.status === 'connected', 3000, 'connected to backup');
    expect(svc.status()[0]!.server).toBe(`127.0.0.1:${backup.port}`);
    const primary = await fakeUpstream({}, primaryPort);
    backup.dropAll();
    await until(() => primary.conns.length === 1 && svc.status()[0]!.status === 'connected', 3000, 'back on primary');
    expect(svc.status()[0]!.server).toBe(`127.0.0.1:${primaryPort}`);
  });

  it('backs off with the injected jitter after a refused CONNECT and says why', async () => {
    const up = await fakeUpstream({ refuse: 5 });
    let calls = 0;
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], reconnect: { min: 0.05, max: 0.1 } } }, () => {
      calls++;
      return 0;
    });
    await until(() => up.conns.length >= 3, 3000, 'three attempts');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(broker.logLines.some((l) => l.msg === 'bridge_connect_refused' && l.code === 5)).toBe(true);
    expect(svc.status()[0]).toMatchObject({ lastErrorCode: 'OUTPOST_ERR_BRIDGE_CONNECT_REFUSED', lastError: expect.stringMatching(/refused the connection: code 5/) });
  });

  it('graceful stop sends DISCONNECT and never UNSUBSCRIBE [spec §5.5]', async () => {
    const up = await fakeUpstream();
    const store = openStore();
    const broker = fakeBroker(store);
    const svc = await startBridges(broker, config({ b: { servers: [`127.0.0.1:${up.port}`], ingress: [{ filter: 'cmd/#' }], ...FAST } }), broker.log);
    await until(() => up.conns.length === 1 && up.last().packets.some((p) => p.cmd === 'subscribe'), 3000, 'subscribed');
    await svc.stop();
    store.close();
    await sleep(50);
    const cmds = up.last().packets.map((p) => p.cmd);
    expect(cmds).toContain('disconnect');
    expect(cmds).not.toContain('unsubscribe');
    expect(broker.interceptors).toHaveLength(0);
  });

  it('ingress QoS 2: a DUP before PUBREL is published locally once; PUBREC and PUBCOMP answer', async () => {
    const up = await fakeUpstream();
    const { broker } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], ingress: [{ filter: 'cmd/#', qos: 2 }], ...FAST } });
    const got: Message[] = [];
    broker.subscribe('cmd/#', (m) => got.push(m));
    await until(() => up.conns.length === 1, 3000, 'connect');
    const c = up.last();
    c.send({ cmd: 'publish', topic: 'cmd/a', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, messageId: 7 });
    c.send({ cmd: 'publish', topic: 'cmd/a', payload: Buffer.from('x'), qos: 2, retain: false, dup: true, messageId: 7 });
    await until(() => c.packets.filter((p) => p.cmd === 'pubrec').length === 2, 3000, 'two PUBRECs');
    c.send({ cmd: 'pubrel', messageId: 7 });
    await until(() => c.packets.some((p) => p.cmd === 'pubcomp'), 3000, 'PUBCOMP');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ topic: 'cmd/a', qos: 2, origin: 'b' });
  });

  it('ingress QoS 2 across a reconnect with a resumed session: the DUP is not published twice', async () => {
    const up = await fakeUpstream({ sessionPresent: true });
    const { broker } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], ingress: [{ filter: 'cmd/#', qos: 2 }], ...FAST } });
    const got: Message[] = [];
    broker.subscribe('cmd/#', (m) => got.push(m));
    await until(() => up.conns.length === 1, 3000, 'connect');
    up.last().send({ cmd: 'publish', topic: 'cmd/b', payload: Buffer.from('y'), qos: 2, retain: false, dup: false, messageId: 9 });
    await until(() => up.last().packets.some((p) => p.cmd === 'pubrec'), 3000, 'PUBREC');
    up.dropAll();
    await until(() => up.conns.length === 2, 3000, 'reconnect');
    const c = up.last();
    c.send({ cmd: 'publish', topic: 'cmd/b', payload: Buffer.from('y'), qos: 2, retain: false, dup: true, messageId: 9 });
    await until(() => c.packets.some((p) => p.cmd === 'pubrec'), 3000, 'PUBREC again');
    c.send({ cmd: 'pubrel', messageId: 9 });
    await until(() => c.packets.some((p) => p.cmd === 'pubcomp'), 3000, 'PUBCOMP');
    expect(got).toHaveLength(1);
  });

  it('QoS 0 with qos0 = "drop_offline" is dropped while disconnected and counted', async () => {
    const port = await freePort();
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${port}`], egress: [{ filter: 'd/#' }], buffer: { qos0: 'drop_offline' }, ...FAST } });
    broker.publish(local('d/0', 'z', 0));
    await broker.publishAcked(local('d/1', 'o', 1));
    const st = svc.status()[0]!;
    expect(st.counters.droppedBy.qos0_offline).toBe(1);
    expect(st.queued).toBe(1);
  });

  it('never forwards a message back over the bridge it came from', async () => {
    const up = await fakeUpstream();
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], allow_loop: true, egress: [{ filter: 'x/#' }], ingress: [{ filter: 'x/#' }], ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    up.last().send({ cmd: 'publish', topic: 'x/1', payload: Buffer.from('from-cloud'), qos: 1, retain: false, dup: false, messageId: 3 });
    await until(() => broker.published.some((m) => m.topic === 'x/1'), 3000, 'ingress');
    broker.publish(createMessage({ topic: 'x/2', payload: Buffer.from('other-bridge'), qos: 1, retain: false, origin: 'another', now: Date.now() }));
    await until(() => up.publishes().length === 1, 3000, 'the other-origin message');
    await sleep(100);
    expect(up.publishes().map((p) => p.topic)).toEqual(['x/2']);
    expect(svc.status()[0]!.counters.matched).toBe(1);
  });
});

describe('loop marker across nodes', () => {
  it('tags what it forwards with outpost-path and never forwards a message that already passed this node', async () => {
    const up = await fakeUpstream();
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', loop_marker: true, egress: [{ filter: 'x/#' }], ...FAST } });
    await until(() => up.conns.length === 1, 3000, 'connect');
    broker.publish(createMessage({ topic: 'x/1', payload: Buffer.from('a'), qos: 1, retain: false, props: { userProperties: [['outpost-path', 'edge@127.0.0.1']] }, now: Date.now() }));
    broker.publish(createMessage({ topic: 'x/2', payload: Buffer.from('b'), qos: 1, retain: false, props: { userProperties: [['outpost-path', 'agg-1']] }, now: Date.now() }));
    await until(() => up.publishes().length === 1, 3000, 'one forward');
    await sleep(100);
    expect(up.publishes()[0]).toMatchObject({ topic: 'x/2', properties: { userProperties: { 'outpost-path': 'agg-1,edge@127.0.0.1' } } });
    expect(svc.status()[0]!.counters.loops).toBe(1);
    expect(broker.metrics.get('bridge.b.loop_prevented')).toBe(1);
  });

  it('does not send an upstream Outpost node a message that already passed it (CONNACK outpost-node)', async () => {
    const up = await fakeUpstream({ node: 'agg-1' });
    const { broker, svc } = await edge({ b: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', loop_marker: true, egress: [{ filter: 'x/#' }], ...FAST } });
    await until(() => svc.status()[0]!.status === 'connected', 3000, 'connect');
    broker.publish(createMessage({ topic: 'x/from-agg', payload: Buffer.from('a'), qos: 1, retain: false, props: { userProperties: [['outpost-path', 'agg-1']] }, now: Date.now() }));
    broker.publish(createMessage({ topic: 'x/local', payload: Buffer.from('b'), qos: 1, retain: false, now: Date.now() }));
    await until(() => up.publishes().length === 1, 3000, 'the local one');
    await sleep(100);
    expect(up.publishes().map((p) => p.topic)).toEqual(['x/local']);
    await until(() => svc.status()[0]!.queued === 0 && svc.status()[0]!.inflight === 0, 3000, 'log empty');
    expect(svc.status()[0]!.counters.loops).toBe(1);
  });

  it('is refused for v3/v4 bridges', () => {
    expect(() => config({ b: { servers: ['h:1'], loop_marker: true } })).toThrow(/loop_marker/);
  });
});

describe('bridge service', () => {
  it('restart(name) reconnects one bridge; reload restarts changed bridges and stops removed ones', async () => {
    const up = await fakeUpstream();
    const store = openStore();
    const broker = fakeBroker(store);
    const svc = await startBridges(broker, config({ a: { servers: [`127.0.0.1:${up.port}`], ...FAST }, b: { servers: [`127.0.0.1:${up.port}`], ...FAST } }), broker.log);
    cleanups.push(async () => {
      await svc.stop();
      store.close();
    });
    await until(() => up.conns.length === 2, 3000, 'two bridges');
    expect(await svc.restart('a')).toBe(true);
    expect(await svc.restart('nope')).toBe(false);
    await until(() => up.conns.length === 3, 3000, 'a reconnected');
    await svc.reload(config({ a: { servers: [`127.0.0.1:${up.port}`], keepalive: 30, ...FAST } }));
    await until(() => up.conns.length === 4, 3000, 'a restarted with the new config');
    expect(up.last().connect.keepalive).toBe(30);
    expect(svc.status().map((s) => s.name)).toEqual(['a']);
    expect(broker.interceptors).toHaveLength(1);
  });

  it('reload keeps appends that were not committed yet when the bridge restarts', async () => {
    const port = await freePort();
    const store = openStore();
    const broker = fakeBroker(store);
    const cfg = (keepalive: number) => config({ a: { servers: [`127.0.0.1:${port}`], keepalive, egress: [{ filter: 'd/#' }], ...FAST } });
    const svc = await startBridges(broker, cfg(60), broker.log);
    cleanups.push(async () => {
      await svc.stop();
      store.close();
    });
    await broker.publishAcked(local('d/1', 'committed'));
    broker.publish(local('d/2', 'pending'));
    await svc.reload(cfg(30));
    broker.publish(local('d/3', 'after'));
    store.flush();
    expect(svc.status()[0]!.queued).toBe(3);
    const rows = store.db.prepare('SELECT seq, payload FROM bridge_log ORDER BY seq').all() as { seq: number; payload: Buffer }[];
    expect(rows.map((r) => r.payload.toString())).toEqual(['committed', 'pending', 'after']);
    expect(new Set(rows.map((r) => r.seq)).size).toBe(3);
  });
});
