// [mqtt] max_conn_rate: new TCP connections beyond the rate wait for their turn (EMQX pauses its
// acceptors), they are not refused.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

describe('TCP listener connection rate', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ config: '[mqtt]\nmax_conn_rate = "10/s"\n' });
  });
  afterAll(async () => {
    await d.stop();
    d.cleanup();
  });

  it('paces 30 simultaneous connections to about 10 per second and admits them all', async () => {
    const t0 = Date.now();
    const clients = await Promise.all(
      Array.from({ length: 30 }, (_, i) => mqtt.connectAsync(d.mqttUrl, { clientId: `rate-${i}`, reconnectPeriod: 0, connectTimeout: 10_000 })),
    );
    const took = Date.now() - t0;
    // A burst of 10 passes at once; the other 20 need about 2 s at 10/s.
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(8000);
    expect(clients.every((c) => c.connected)).toBe(true);
    await Promise.all(clients.map((c) => c.endAsync()));
  }, 20_000);
});
