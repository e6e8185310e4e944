// Nothing acknowledged is lost: a persistent QoS 1 session's queue survives SIGKILL.
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawClient, until } from '../helpers/mqtt-clients.js';

function connect(url: string, opts: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

describe('durable sessions', () => {
  let d: Daemon | undefined;
  afterAll(async () => {
    await d?.stop();
    d?.cleanup();
  });

  it('delivers 10,000 acknowledged QoS 1 messages in order after kill -9 and restart', async () => {
    d = await startDaemon({ config: '[mqtt]\nmax_mqueue_len = 20000\n' });
    const sub = await connect(d.mqttUrl, { clientId: 'durable-sub', clean: false, protocolVersion: 4 });
    await sub.subscribeAsync('dur/#', { qos: 1 });
    sub.end(true);
    const pub = await connect(d.mqttUrl, { clientId: 'durable-pub', protocolVersion: 4 });
    const N = 10_000;
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) acks.push(pub.publishAsync('dur/t', String(i), { qos: 1 }));
    await Promise.all(acks); // every PUBACK received
    pub.end(true);
    await d.kill();
    const portBefore = d.mqttPort;
    await d.restart();
    expect(d.mqttPort).toBeGreaterThan(0);
    void portBefore;
    const got: number[] = [];
    const done = new Promise<void>((resolve) => {
      const c = mqtt.connect(d!.mqttUrl, { clientId: 'durable-sub', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
      c.on('message', (_t, p) => {
        got.push(Number(p.toString()));
        if (got.length === N) {
          c.end(true);
          resolve();
        }
      });
    });
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${got.length} of ${N} arrived`)), 30_000))]);
    expect(got.length).toBe(N);
    for (let i = 0; i < N; i++) if (got[i] !== i) throw new Error(`message ${i} out of order: got ${got[i]}`);
  }, 60_000);

  it('a backlog killed mid-drain resumes with exactly the unacknowledged messages, inflight ones with their packet ids [MQTT-4.4.0-1]', async () => {
    const d3 = await startDaemon();
    try {
      const first = new RawClient(d3.mqttPort, 4);
      await first.connect({ clientId: 'drain-sub', clean: false });
      first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'drain/t', qos: 1 }] });
      await first.next((p) => p.cmd === 'suback');
      first.destroy();
      const pub = await connect(d3.mqttUrl, { clientId: 'drain-pub', protocolVersion: 4 });
      const N = 300;
      await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync('drain/t', String(i), { qos: 1 })));
      pub.end(true);

      type Pub = { cmd: string; payload: Buffer; messageId: number; dup: boolean };
      const publishes = (c: RawClient) => c.packets.filter((p) => p.cmd === 'publish') as unknown as Pub[];
      const sub = new RawClient(d3.mqttPort, 4);
      await sub.connect({ clientId: 'drain-sub', clean: false });
      await until(() => publishes(sub).length >= 32, 5000, 'the first window');
      // Acknowledge the first 20; the broker sends 20 more. Then give the tick's commit time to land.
      for (const p of publishes(sub).slice(0, 20)) sub.send({ cmd: 'puback', messageId: p.messageId });
      await until(() => publishes(sub).length >= 52, 5000, 'the next 20');
      await new Promise((r) => setTimeout(r, 300));
      const pidOf = new Map(publishes(sub).map((p) => [Number(p.payload.toString()), p.messageId]));
      expect([...pidOf.keys()]).toEqual(Array.from({ length: 52 }, (_, i) => i));
      await d3.kill();
      await d3.restart();

      const again = new RawClient(d3.mqttPort, 4);
      const ack = await again.connect({ clientId: 'drain-sub', clean: false });
      expect(ack.sessionPresent).toBe(true);
      let acked = 0;
      await until(
        () => {
          const got = publishes(again);
          for (; acked < got.length; acked++) again.send({ cmd: 'puback', messageId: got[acked]!.messageId });
          return got.length >= N - 20;
        },
        10_000,
        'the rest of the backlog',
      );
      await new Promise((r) => setTimeout(r, 200));
      const got = publishes(again);
      // Nothing acknowledged comes back, nothing unacknowledged is missing, nothing arrives twice.
      expect(got.map((p) => Number(p.payload.toString())).sort((a, b) => a - b)).toEqual(Array.from({ length: N - 20 }, (_, i) => i + 20));
      // The 32 in flight at the kill are re-sent as duplicates with the packet ids they had; the rest are new.
      for (const p of got) {
        const i = Number(p.payload.toString());
        if (i < 52) expect([i, p.dup, p.messageId]).toEqual([i, true, pidOf.get(i)]);
        else expect([i, p.dup]).toEqual([i, false]); // never sent before the kill
      }
      again.destroy();
    } finally {
      await d3.stop();
      d3.cleanup();
    }
  }, 30_000);

  it('an inbound QoS 2 message re-sent after kill -9 is delivered once [MQTT-4.3.3]', async () => {
    const d2 = await startDaemon();
    try {
      const sub = await mqtt.connectAsync(d2.mqttUrl, { clientId: 'q2-sub', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
      await sub.subscribeAsync('q2/t', { qos: 2 });
      await sub.endAsync();
      const pub = new RawClient(d2.mqttPort, 5);
      await pub.connect({ clientId: 'q2-pub', clean: false, properties: { sessionExpiryInterval: 600 } });
      pub.send({ cmd: 'publish', topic: 'q2/t', payload: Buffer.from('once'), qos: 2, retain: false, dup: false, messageId: 7 });
      await pub.next((p) => p.cmd === 'pubrec' && p.messageId === 7);
      pub.destroy();
      await d2.kill();
      await d2.restart();
      // The publisher missed nothing it knows of but re-sends as if PUBREC was lost, then releases.
      const again = new RawClient(d2.mqttPort, 5);
      const ack = await again.connect({ clientId: 'q2-pub', clean: false, properties: { sessionExpiryInterval: 600 } });
      expect(ack.sessionPresent).toBe(true);
      again.send({ cmd: 'publish', topic: 'q2/t', payload: Buffer.from('once'), qos: 2, retain: false, dup: true, messageId: 7 });
      await again.next((p) => p.cmd === 'pubrec' && p.messageId === 7);
      again.send({ cmd: 'pubrel', messageId: 7 });
      const comp = (await again.next((p) => p.cmd === 'pubcomp' && p.messageId === 7)) as { reasonCode?: number };
      expect(comp.reasonCode ?? 0).toBe(0); // the packet id was still known: not 0x92
      again.destroy();
      const got: string[] = [];
      const c = await mqtt.connectAsync(d2.mqttUrl, { clientId: 'q2-sub', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
      c.on('message', (_t, p) => got.push(p.toString()));
      await new Promise((r) => setTimeout(r, 800));
      expect(got).toEqual(['once']);
      await c.endAsync();
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  }, 30_000);
});
