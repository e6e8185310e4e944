// MQTT-SN settings that change behaviour: HTTP authentication deny, enable_qos3 = false, mqueue
// overflow of a sleeping client, sleep timeout with and without will, ADVERTISE.
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import http from 'node:http';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, type TestClient, uid } from '../helpers/mqtt-clients.js';
import { SnClient } from '../helpers/mqttsn-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function daemon(extra: string): Promise<{ d: Daemon; sn: () => Promise<SnClient>; app: () => Promise<TestClient> }> {
  const d = await startDaemon({
    config: `${extra}
[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`,
  });
  cleanup.push(async () => {
    await d.stop();
    d.cleanup();
  });
  return {
    d,
    sn: async () => {
      const c = await SnClient.udp(d.ports['mqttsn:udp:default']!);
      cleanup.push(() => c.close());
      return c;
    },
    app: async () => {
      const c = await connectClient(d.mqttUrl, { clientId: uid('app') });
      cleanup.push(() => c.end(true));
      return c;
    },
  };
}

describe('MQTT-SN options (daemon)', () => {
  it('HTTP authentication deny -> CONNACK 0x80; clientinfo_override credentials reach the authenticator (4)', async () => {
    const seen: { clientid: string; username: string | null; password: string | null }[] = [];
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const b = JSON.parse(body) as { clientid: string; username: string | null; password: string | null };
        seen.push({ clientid: b.clientid, username: b.username, password: b.password });
        const { clientid } = b;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ result: clientid.startsWith('bad') ? 'deny' : 'allow' }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => srv.close(() => r())));
    const port = (srv.address() as { port: number }).port;
    const { sn } = await daemon(`
[authentication.http]
enable = true
url = "http://127.0.0.1:${port}/auth"

[gateway.mqttsn]
enable = true

[gateway.mqttsn.clientinfo_override]
username = "sn-\${clientid}"
password = "pw"
`);
    const bad = await sn();
    bad.send({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 30, clientId: 'bad-device' });
    await bad.next('connack');
    expect(bad.raw.at(-1)!.toString('hex')).toBe('030580');
    const good = await sn();
    expect(await good.connect('good-device')).toBe(0);
    expect(seen).toContainEqual({ clientid: 'good-device', username: 'sn-good-device', password: 'pw' });
  });

  it('enable_qos3 = false: QoS -1 PUBLISH without CONNECT gets PUBACK 3 and is not published (15)', async () => {
    const { sn, app } = await daemon(`
[gateway.mqttsn]
enable = true
enable_qos3 = false
predefined = [ { id = 1, topic = "predef/t1" } ]
`);
    const a = await app();
    await a.sub('predef/t1');
    const c = await sn();
    c.publish({ topicIdType: 1, topicId: 1, qos: -1, payload: 'nope' });
    expect(await c.next('puback')).toEqual({ type: 'puback', topicId: 1, msgId: 0, rc: 3 });
    await sleep(200);
    expect(a.msgs).toEqual([]);
  });

  it('mqueue overflow of a sleeping client drops the oldest and logs it (23)', async () => {
    const { sn, app, d } = await daemon(`
[mqtt]
max_mqueue_len = 2

[gateway.mqttsn]
enable = true
`);
    const a = await app();
    const id = uid('ovf');
    const c = await sn();
    await c.connect(id, { clean: false });
    await c.subscribe({ short: 'ov' }, 1);
    c.send({ type: 'disconnect', duration: 60 });
    await c.next('disconnect');
    for (let i = 1; i <= 4; i++) await a.pub('ov', `m${i}`, { qos: 1 });
    c.send({ type: 'pingreq', clientId: id });
    const got: string[] = [];
    for (;;) {
      const f = await c.any();
      if (f.type === 'pingresp') break;
      if (f.type !== 'publish') continue;
      got.push(f.payload.toString());
      c.send({ type: 'puback', topicId: f.topicId, msgId: f.msgId, rc: 0 });
    }
    expect(got).toEqual(['m3', 'm4']);
    expect(d.logs()).toContain('dropped_msg_due_to_mqueue_is_full');
  });

  it('a sleeping client that misses its wake-up is removed; the will only with sleep.will_on_timeout (18)', async () => {
    const { sn, app } = await daemon(`
[gateway.mqttsn]
enable = true

[gateway.mqttsn.sleep]
will_on_timeout = true
`);
    const a = await app();
    await a.sub('will/sleep');
    const c = await sn();
    const id = uid('sleepy');
    await c.connect(id, { will: { topic: 'will/sleep', payload: 'overslept' } });
    c.send({ type: 'disconnect', duration: 1 });
    await c.next('disconnect');
    const [m] = await a.waitMessages(1, 5000, (x) => x.topic === 'will/sleep');
    expect(m!.text).toBe('overslept');
    // The channel is gone: a PINGREQ with the id is no longer answered.
    c.send({ type: 'pingreq', clientId: id });
    expect(await c.quiet(300)).toEqual([]);
  });

  it('advertise.enable sends ADVERTISE(gateway_id, interval) to the configured address (25)', async () => {
    const sink = dgram.createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => sink.close(() => r())));
    const got = new Promise<Buffer>((r) => sink.once('message', r));
    await daemon(`
[gateway.mqttsn]
enable = true
gateway_id = 5

[gateway.mqttsn.advertise]
enable = true
interval = 900
port = ${sink.address().port}
addresses = ["127.0.0.1"]
interfaces = ["lo"]
`);
    expect((await got).toString('hex')).toBe('0500050384');
  });
});
