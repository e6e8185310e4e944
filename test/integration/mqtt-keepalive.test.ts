// Keepalive [MQTT-3.1.2-22]: a client silent for 1.5 x its keepalive is disconnected (EMQX
// keepalive_multiplier); idle_timeout closes a TCP connection that never sends CONNECT; v5
// Server-Keep-Alive when the client asks for more than max_keepalive [MQTT-3.2.2-21].
import { describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, until, type TestClient, daemonPerFile } from '../helpers/mqtt-clients.js';

let d: Daemon;
const { open, raws } = daemonPerFile((x) => (d = x), { config: '[mqtt]\nidle_timeout = 0.5\nmax_keepalive = 100\n' });

function raw(version: 3 | 4 | 5 = 4): RawClient {
  const r = new RawClient(d.mqttPort, version);
  raws.push(r);
  return r;
}

describe.concurrent('keepalive', () => {
  it('drops a v3.1.1 client with keepalive 2 that stops sending, after about 1.5 x 2 s, with a $SYS reason keepalive_timeout', async () => {
    const sys = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('sys') });
    open.push(sys);
    const id = uid('ka');
    await sys.sub(`$SYS/brokers/+/clients/${id}/disconnected`, { qos: 0 });
    const r = raw(4);
    await r.connect({ clientId: id, keepalive: 2 });
    const t0 = Date.now();
    await r.waitClosed(6000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(2700);
    expect(elapsed).toBeLessThan(4500);
    const [ev] = await sys.waitMessages(1, 2000);
    expect(JSON.parse(ev!.text).reason).toBe('keepalive_timeout');
    expect(d.logs()).toMatch(/keepalive_timeout/);
  });

  it('keeps a client that sends PINGREQ within the keepalive', async () => {
    const r = raw(5);
    await r.connect({ clientId: uid('ping'), keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      await sleep(700);
      r.send({ cmd: 'pingreq' });
      await r.next((p) => p.cmd === 'pingresp', 1000);
    }
    expect(r.closed).toBe(false);
    r.send({ cmd: 'disconnect' });
  });

  it('any packet counts as activity, not only PINGREQ', async () => {
    const r = raw(4);
    await r.connect({ clientId: uid('act'), keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      await sleep(700);
      r.send({ cmd: 'publish', topic: 'ka/activity', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    }
    r.send({ cmd: 'pingreq' });
    await r.next((p) => p.cmd === 'pingresp', 1000);
    expect(r.closed).toBe(false);
  });

  it('keepalive 0 disables the check', async () => {
    const r = raw(4);
    await r.connect({ clientId: uid('ka0'), keepalive: 0 });
    await sleep(1500);
    r.send({ cmd: 'pingreq' });
    await r.next((p) => p.cmd === 'pingresp', 1000);
    expect(r.closed).toBe(false);
  });

  it('v5: a keepalive above max_keepalive is answered with Server-Keep-Alive = max_keepalive', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('ska'), keepalive: 300 });
    open.push(c);
    expect(c.connack.properties?.serverKeepAlive).toBe(100);
    const ok = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('ska2'), keepalive: 60 });
    open.push(ok);
    expect(ok.connack.properties?.serverKeepAlive).toBeUndefined();
  });
});

describe.concurrent('idle timeout', () => {
  it('closes a TCP connection that never sends CONNECT after idle_timeout, and logs it', async () => {
    const r = raw(4);
    await r.ready();
    const t0 = Date.now();
    await r.waitClosed(3000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(2500);
    await until(() => /idle_timeout/.test(d.logs()), 2000, 'idle_timeout log line');
  });

  it('closes a connection that sent only part of a CONNECT', async () => {
    const r = raw(4);
    await r.ready();
    r.sendBytes(Buffer.from([0x10, 20, 0, 4, 0x4d]));
    await r.waitClosed(3000);
    expect(r.packets).toHaveLength(0);
  });

  it('does not close a connected client after idle_timeout', async () => {
    const r = raw(4);
    await r.connect({ clientId: uid('idle-ok'), keepalive: 0 });
    await sleep(1000);
    r.send({ cmd: 'pingreq' });
    await r.next((p) => p.cmd === 'pingresp', 1000);
  });
});

describe('server_keepalive', () => {
  it('v5: server_keepalive overrides the client value and is enforced at 1.5 x', async () => {
    const d2 = await startDaemon({ config: '[mqtt]\nserver_keepalive = 1\n' });
    try {
      const r = new RawClient(d2.mqttPort, 5);
      const ack = await r.connect({ clientId: uid('srvka'), keepalive: 60 });
      expect(ack.properties?.serverKeepAlive).toBe(1);
      const t0 = Date.now();
      await r.waitClosed(4000);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x8d);
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  });
});
