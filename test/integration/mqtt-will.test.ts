// Will messages [MQTT-3.1.2-8..10, 3.1.3-9, 3.14.4-3]: sent when the connection ends abnormally
// (socket destroyed, keepalive timeout), suppressed by a normal DISCONNECT, sent on v5 DISCONNECT
// 0x04, delayed by v5 Will-Delay-Interval (and cancelled by a reconnect in time), sent at takeover
// when the delay is 0.
import { describe, expect, it } from 'vitest';
import type { Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, waitClose, type TestClient, daemonPerFile } from '../helpers/mqtt-clients.js';

let d: Daemon;
const { open, raws } = daemonPerFile((x) => (d = x));

async function watcher(topic: string): Promise<TestClient> {
  const w = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('watch') });
  open.push(w);
  await w.sub(topic, { qos: 1 });
  return w;
}

function willOf(topic: string, payload: string, qos: 0 | 1 | 2 = 1, props?: Record<string, unknown>) {
  return { topic, payload: Buffer.from(payload), qos, retain: false, ...(props ? { properties: props } : {}) };
}

describe('will messages', () => {
  for (const version of [3, 4, 5] as const) {
    it(`v${version}: is published when the socket is destroyed without DISCONNECT`, async () => {
      const topic = `will/destroy/${uid('t')}`;
      const w = await watcher(topic);
      const c = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: uid('wd'), will: willOf(topic, `gone-v${version}`) });
      c.c.stream.destroy();
      const [m] = await w.waitMessages(1, 3000);
      expect(m!.text).toBe(`gone-v${version}`);
      expect(m!.packet.qos).toBe(1);
      await c.end(true);
    });
  }

  it('v3.1.1: is suppressed by a normal DISCONNECT', async () => {
    const topic = `will/normal/${uid('t')}`;
    const w = await watcher(topic);
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('wn'), will: willOf(topic, 'should-not-arrive') });
    await c.end();
    await sleep(500);
    expect(w.msgs).toHaveLength(0);
  });

  it('v5: DISCONNECT 0x00 suppresses it, DISCONNECT 0x04 (with will) sends it', async () => {
    const topic = `will/v5disc/${uid('t')}`;
    const w = await watcher(topic);
    const a = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('w0'), will: willOf(topic, 'zero') });
    await a.end();
    const b = new RawClient(d.mqttPort, 5);
    raws.push(b);
    await b.connect({ clientId: uid('w4'), will: willOf(topic, 'four') } as never);
    b.send({ cmd: 'disconnect', reasonCode: 0x04 });
    await b.waitClosed();
    const got = await w.waitMessages(1, 3000);
    await sleep(300);
    expect(w.msgs.map((m) => m.text)).toEqual(['four']);
    expect(got[0]!.text).toBe('four');
  });

  it('is published after a keepalive timeout (client stops pinging) and carries v5 will properties', async () => {
    const topic = `will/keepalive/${uid('t')}`;
    const w = await watcher(topic);
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    const t0 = Date.now();
    await r.connect({
      clientId: uid('wk'),
      keepalive: 1,
      will: willOf(topic, 'silent', 1, { contentType: 'text/plain', userProperties: { why: 'keepalive' } }),
    } as never);
    // Send nothing: the broker closes after ~1.5 s with DISCONNECT 0x8D and publishes the will.
    const [m] = await w.waitMessages(1, 4000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1200);
    expect(elapsed).toBeLessThan(3500);
    expect(m!.text).toBe('silent');
    expect(m!.packet.properties?.contentType).toBe('text/plain');
    expect(m!.packet.properties?.userProperties).toEqual({ why: 'keepalive' });
    await r.waitClosed(2000);
    const disc = r.packets.find((p) => p.cmd === 'disconnect');
    expect(disc?.reasonCode).toBe(0x8d);
  });

  it('v5 Will-Delay-Interval: sent only after the delay', async () => {
    const topic = `will/delay/${uid('t')}`;
    const w = await watcher(topic);
    const c = await connectClient(d.mqttUrl, {
      protocolVersion: 5,
      clientId: uid('wdl'),
      properties: { sessionExpiryInterval: 30 },
      will: willOf(topic, 'late', 1, { willDelayInterval: 1 }),
    });
    const t0 = Date.now();
    c.c.stream.destroy();
    await sleep(600);
    expect(w.msgs).toHaveLength(0);
    const [m] = await w.waitMessages(1, 3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(m!.text).toBe('late');
    await c.end(true);
  });

  it('v5 Will-Delay-Interval: a reconnect (clean start = false) within the delay cancels the will', async () => {
    const topic = `will/cancel/${uid('t')}`;
    const w = await watcher(topic);
    const id = uid('wcx');
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 }, will: willOf(topic, 'cancelled', 1, { willDelayInterval: 2 }) };
    const c1 = await connectClient(d.mqttUrl, opts);
    c1.c.stream.destroy();
    await sleep(300);
    const c2 = await connectClient(d.mqttUrl, { ...opts, will: undefined });
    open.push(c2);
    expect(c2.connack.sessionPresent).toBe(true);
    await sleep(2600);
    expect(w.msgs).toHaveLength(0);
    await c1.end(true);
  });

  it('v5 Will-Delay-Interval: the will is sent at session end when the session expires first', async () => {
    const topic = `will/expiry/${uid('t')}`;
    const w = await watcher(topic);
    const c = await connectClient(d.mqttUrl, {
      protocolVersion: 5,
      clientId: uid('wse'),
      properties: { sessionExpiryInterval: 1 },
      will: willOf(topic, 'at-session-end', 1, { willDelayInterval: 60 }),
    });
    const t0 = Date.now();
    c.c.stream.destroy();
    const [m] = await w.waitMessages(1, 3500);
    expect(m!.text).toBe('at-session-end');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    await c.end(true);
  });

  it('takeover with Will-Delay-Interval 0: the old connection’s will is published and it gets DISCONNECT 0x8E', async () => {
    const topic = `will/takeover/${uid('t')}`;
    const w = await watcher(topic);
    const id = uid('wto');
    const old = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, will: willOf(topic, 'taken-over') });
    const closed = waitClose(old.c, 3000);
    const fresh = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id });
    open.push(fresh);
    const { disconnect } = await closed;
    expect(disconnect?.reasonCode).toBe(0x8e);
    const [m] = await w.waitMessages(1, 3000);
    expect(m!.text).toBe('taken-over');
    await old.end(true);
  });

  it('a retained will is stored as a retained message', async () => {
    const topic = `will/retained/${uid('t')}`;
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('wr'), will: { ...willOf(topic, 'last-words'), retain: true } });
    c.c.stream.destroy();
    await sleep(400);
    const s = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('wrs') });
    open.push(s);
    await s.sub(topic, { qos: 1 });
    const [m] = await s.waitMessages(1, 3000);
    expect(m!.text).toBe('last-words');
    expect(m!.packet.retain).toBe(true);
    await c.end(true);
  });

  it('takeover with clean start = 0 and a Will-Delay-Interval: the session continues, the will is not sent', async () => {
    const topic = `will/takeover-delay/${uid('t')}`;
    const w = await watcher(topic);
    const id = uid('wtd');
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 30 } };
    const old = await connectClient(d.mqttUrl, { ...opts, will: willOf(topic, 'not-sent', 1, { willDelayInterval: 1 }) });
    const closed = waitClose(old.c, 3000);
    const fresh = await connectClient(d.mqttUrl, opts);
    open.push(fresh);
    expect((await closed).disconnect?.reasonCode).toBe(0x8e);
    expect(fresh.connack.sessionPresent).toBe(true);
    await sleep(1500);
    expect(w.msgs).toHaveLength(0);
    await old.end(true);
  });

  it('takeover with clean start = 1 ends the old session, so its delayed will is sent at once', async () => {
    const topic = `will/takeover-clean/${uid('t')}`;
    const w = await watcher(topic);
    const id = uid('wtc');
    const old = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, properties: { sessionExpiryInterval: 30 }, will: willOf(topic, 'session-ended', 1, { willDelayInterval: 30 }) });
    const fresh = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: true });
    open.push(fresh);
    const [m] = await w.waitMessages(1, 2000);
    expect(m!.text).toBe('session-ended');
    await old.end(true);
  });

  it('a will keeps its QoS 2 and v5 Message-Expiry-Interval', async () => {
    const topic = `will/qos2/${uid('t')}`;
    const w = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('w2') });
    open.push(w);
    await w.sub(topic, { qos: 2 });
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('wq2'), will: willOf(topic, 'q2', 2, { messageExpiryInterval: 30 }) });
    c.c.stream.destroy();
    const [m] = await w.waitMessages(1, 2000);
    expect(m!.packet.qos).toBe(2);
    expect(m!.packet.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(29);
    expect(m!.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(30);
    await c.end(true);
  });
});
