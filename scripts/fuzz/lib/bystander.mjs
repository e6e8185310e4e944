// A well-behaved MQTT client served throughout a fuzz or abuse run: it subscribes to its own topic
// and does QoS 1 publish -> PUBACK + delivery round trips, one at a time. Every round trip must be
// answered within `timeoutMs`; a lost connection counts as a failure (no reconnect).
import mqtt from 'mqtt';

/** context(): what the caller is doing (e.g. the fuzz input index), recorded with each failure. */
export async function startBystander(port, { timeoutMs = 10_000, intervalMs = 20, id = `bystander-${process.pid}`, context = () => null } = {}) {
  const client = await new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: id, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 30 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  const topic = `fuzz/bystander/${id}`;
  await client.subscribeAsync(topic, { qos: 1 });
  const st = { sent: 0, answered: 0, failed: 0, maxMs: 0, closed: false, errors: [], failures: [] };
  /** Every round trip's time (ms), for the percentiles stop() reports. */
  const times = [];
  client.on('close', () => (st.closed = true));
  client.on('error', (e) => st.errors.length < 5 && st.errors.push(String(e.message)));
  let waiting = null;
  client.on('message', (t, payload) => {
    if (waiting && payload.toString() === waiting.seq) waiting.delivered();
  });
  let stop = false;
  const loop = (async () => {
    while (!stop && !st.closed) {
      const seq = String(st.sent++);
      const t0 = Date.now();
      const ok = await new Promise((resolve) => {
        let acked = false;
        let delivered = false;
        const ctx = context();
        const timer = setTimeout(() => {
          if (st.failures.length < 10) st.failures.push({ seq: Number(seq), at: new Date(t0).toISOString(), acked, delivered, context: ctx });
          resolve(false);
        }, timeoutMs);
        const done = () => acked && delivered && (clearTimeout(timer), resolve(true));
        waiting = { seq, delivered: () => ((delivered = true), done()) };
        client.publish(topic, seq, { qos: 1 }, (err) => {
          if (err) {
            clearTimeout(timer);
            resolve(false);
          } else {
            acked = true;
            done();
          }
        });
      });
      waiting = null;
      if (ok) st.answered++;
      else st.failed++;
      st.maxMs = Math.max(st.maxMs, Date.now() - t0);
      times.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    stats: st,
    async stop() {
      stop = true;
      await loop;
      const connected = !st.closed;
      await client.endAsync(true).catch(() => {});
      times.sort((x, y) => x - y);
      const pct = (q) => (times.length ? times[Math.min(times.length - 1, Math.floor(q * times.length))] : 0);
      return { ...st, connectedAtEnd: connected, p50Ms: pct(0.5), p99Ms: pct(0.99), over1s: times.filter((t) => t > 1000).length };
    },
  };
}
