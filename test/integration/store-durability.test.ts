// Nothing acknowledged is lost: a persistent QoS 1 session's queue survives SIGKILL.
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

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
});
