// Broker options that each need their own daemon: ignore_loop_deliver (No Local for v3 clients),
// [delayed] max_delayed_messages and enable = false, max_mqueue_bytes, keepalive_multiplier.
import { describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, until } from '../helpers/mqtt-clients.js';

async function withDaemon(config: string, fn: (x: Daemon) => Promise<void>): Promise<void> {
  const x = await startDaemon({ config });
  try {
    await fn(x);
  } finally {
    await x.kill();
    x.cleanup();
  }
}

describe.concurrent('options', () => {
  it('ignore_loop_deliver = true: a v3.1.1 client does not get its own publishes back; others do', async () => {
    await withDaemon('[mqtt]\nignore_loop_deliver = true\n', async (x) => {
      const me = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('loop') });
      const other = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('other') });
      await me.sub('opt/loop', { qos: 1 });
      await other.sub('opt/loop', { qos: 1 });
      await me.pub('opt/loop', 'mine', { qos: 1 });
      await other.waitMessages(1, 2000);
      await other.pub('opt/loop', 'theirs', { qos: 1 });
      await me.waitMessages(1, 2000);
      await sleep(200);
      expect(me.msgs.map((m) => m.text)).toEqual(['theirs']);
      await me.end();
      await other.end();
    });
  });

  it('[delayed] max_delayed_messages = 1: a second pending delayed message is dropped with a log line', async () => {
    await withDaemon('[delayed]\nmax_delayed_messages = 1\n', async (x) => {
      const s = await connectClient(x.mqttUrl, { protocolVersion: 5, clientId: uid('ds') });
      await s.sub('opt/delayed/#', { qos: 1 });
      const p = await connectClient(x.mqttUrl, { protocolVersion: 5, clientId: uid('dp') });
      await p.pub('$delayed/1/opt/delayed/a', 'first', { qos: 1 });
      await p.pub('$delayed/1/opt/delayed/b', 'second', { qos: 1 });
      await s.waitMessages(1, 2500);
      await sleep(300);
      expect(s.msgs.map((m) => m.text)).toEqual(['first']);
      expect(x.logs()).toMatch(/max_delayed_messages/);
      await s.end();
      await p.end();
    });
  });

  it('[delayed] enable = false: $delayed/… is an ordinary topic, delivered at once to its own subscribers', async () => {
    await withDaemon('[delayed]\nenable = false\n', async (x) => {
      const lit = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('lit') });
      await lit.sub('$delayed/#', { qos: 1 });
      const target = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('tgt') });
      await target.sub('opt/nodelay', { qos: 1 });
      const p = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await p.pub('$delayed/5/opt/nodelay', 'literal', { qos: 1 });
      const [m] = await lit.waitMessages(1, 1000);
      expect(m!.topic).toBe('$delayed/5/opt/nodelay');
      await sleep(200);
      expect(target.msgs).toHaveLength(0);
      for (const c of [lit, target, p]) await c.end();
    });
  });

  it('max_mqueue_bytes bounds an offline queue by payload bytes, dropping the oldest', async () => {
    await withDaemon('[mqtt]\nmax_mqueue_bytes = 30\n', async (x) => {
      const id = uid('qb');
      const a = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await a.sub('opt/qb', { qos: 1 });
      await a.end();
      const p = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      for (let i = 0; i < 6; i++) await p.pub('opt/qb', `msg-${i}-xxxx`, { qos: 1 }); // 10 bytes each
      await p.end();
      const b = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await b.waitMessages(3, 2000);
      await sleep(300);
      expect(b.msgs.map((m) => m.text)).toEqual(['msg-3-xxxx', 'msg-4-xxxx', 'msg-5-xxxx']);
      await b.end();
    });
  });

  it('keepalive_multiplier = 2: a silent client with keepalive 1 is dropped after about 2 s, not 1.5 s', async () => {
    await withDaemon('[mqtt]\nkeepalive_multiplier = 2\n', async (x) => {
      const r = new RawClient(x.mqttPort, 4);
      await r.connect({ clientId: uid('kam'), keepalive: 1 });
      const t0 = Date.now();
      await r.waitClosed(4000);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(1800);
      expect(took).toBeLessThan(3200);
      await until(() => /keepalive_timeout/.test(x.logs()), 1000, 'keepalive log line');
    });
  });
});
