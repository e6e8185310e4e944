// Sessionless gateway devices go through the broker's authentication chain and publish path like
// MQTT clients (issue 16): once a user exists, an anonymous CoAP POST /ps/... (connectionless mode)
// and an anonymous MQTT-SN QoS -1 PUBLISH are refused; query credentials (gateways/coap/SPEC.md
// §2.1, §3.1, EMQX 6.x) let a CoAP device in; refusals are counted and logged once per peer; and a
// connectionless publish obeys max_topic_levels, max_qos_allowed, max_packet_size and topic rewrite.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../gateways/codecs/coap/frame.js';
import { ReturnCode } from '../../gateways/mqttsn/frame.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { seedAuth } from '../helpers/seed-users.js';
import { connectClient, uid, type TestClient } from '../helpers/mqtt-clients.js';
import { SnClient } from '../helpers/mqttsn-client.js';
import { RawDevice, coapClient, sleep } from '../fixtures/coap/clients.js';

const CONFIG = `
[mqtt]
max_topic_levels = 4
max_qos_allowed = 1
max_packet_size = 512

[api]
port = 0
api_key_bootstrap_file = "keys"

[[rewrite]]
action = "publish"
source_topic = "coap/old/#"
re = "^coap/old/(.+)$"
dest_topic = "coap/new/$1"

[gateway.coap]
enable = true
mountpoint = "coap/"

[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[gateway.mqttsn]
enable = true
mountpoint = "sn/"
predefined = [ { id = 1, topic = "predef/t1" } ]

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`;

let d: Daemon;
let uri: string;
let coapPort: number;
let app: TestClient;
const creds = 'clientid=dev1&username=alice&password=secret';

async function metric(name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/metrics?aggregate=true`, {
    headers: { authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}` },
  });
  const json = (await res.json()) as Record<string, number>;
  return json[name] ?? 0;
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-gw-auth-'));
  writeFileSync(join(dataDir, 'keys'), 'ops:ops-secret\n');
  await seedAuth(dataDir, async (users) => {
    await users.add('alice', 'secret');
    await users.add('app', 'app-secret');
  });
  d = await startDaemon({ dataDir, config: CONFIG.replace('"keys"', JSON.stringify(join(dataDir, 'keys'))) });
  coapPort = d.ports['coap:udp:default']!;
  uri = `coap://127.0.0.1:${coapPort}`;
  app = await connectClient(d.mqttUrl, { clientId: uid('app'), username: 'app', password: 'app-secret' });
  await app.sub('coap/#', { qos: 1 });
  await app.sub('sn/#');
});

afterAll(async () => {
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
});

describe('CoAP connectionless authentication once users exist', () => {
  it('refuses an anonymous POST /ps with 4.01 and publishes nothing', async () => {
    const r = await coapClient(['-m', 'post', '-e', 'anon', `${uri}/ps/auth/anon`]);
    expect(r.stderr).toContain('4.01');
    await sleep(300);
    expect(app.msgs.filter((m) => m.topic === 'coap/auth/anon')).toEqual([]);
  });

  it('refuses wrong credentials, and accepts the right ones from the query (long and short names)', async () => {
    const bad = await coapClient(['-m', 'post', '-e', 'bad', `${uri}/ps/auth/bad?clientid=dev1&username=alice&password=nope`]);
    expect(bad.stderr).toContain('4.01');
    const ok = await coapClient(['-m', 'post', '-e', 'good', `${uri}/ps/auth/good?${creds}`]);
    expect(ok.stderr).not.toMatch(/[45]\.\d\d/);
    const short = await coapClient(['-m', 'post', '-e', 'short', `${uri}/ps/auth/short?c=dev2&u=alice&p=secret`]);
    expect(short.stderr).not.toMatch(/[45]\.\d\d/);
    const got = await app.waitMessages(2, 5000, (m) => m.topic.startsWith('coap/auth/'));
    expect(got.map((m) => [m.topic, m.text]).sort()).toEqual([
      ['coap/auth/good', 'good'],
      ['coap/auth/short', 'short'],
    ]);
    expect(app.msgs.some((m) => m.topic === 'coap/auth/bad')).toBe(false);
  });

  it('counts every refusal and logs it once per peer', async () => {
    const before = await metric('gateway.coap.auth.refused');
    const dev = await RawDevice.open(coapPort);
    try {
      for (let i = 0; i < 3; i++) {
        dev.send({ type: 'CON', code: Code.POST, messageId: 100 + i, token: Buffer.from([i]), options: [{ number: 11, value: Buffer.from('ps') }, { number: 11, value: Buffer.from('x') }], payload: Buffer.from('p') });
        const reply = await dev.waitFor((f) => f.messageId === 100 + i);
        expect(reply?.code).toBe(Code.UNAUTHORIZED);
      }
      expect((await metric('gateway.coap.auth.refused')) - before).toBe(3);
      const lines = d.logs().split('\n').filter((l) => l.includes('gateway_auth_refused') && l.includes(`127.0.0.1:${dev.localPort}`));
      expect(lines.length).toBe(1);
    } finally {
      await dev.close();
    }
  });
});

describe('a connectionless CoAP publish takes the same path as an MQTT publish', () => {
  it('refuses a topic deeper than max_topic_levels (mountpoint included)', async () => {
    const r = await coapClient(['-m', 'post', '-e', 'deep', `${uri}/ps/a/b/c/d?${creds}`]);
    expect(r.stderr).toContain('4.00');
    const ok = await coapClient(['-m', 'post', '-e', 'flat', `${uri}/ps/a/b/c?${creds}`]);
    expect(ok.stderr).not.toMatch(/[45]\.\d\d/);
    await app.waitMessages(1, 5000, (m) => m.topic === 'coap/a/b/c');
    expect(app.msgs.some((m) => m.topic === 'coap/a/b/c/d')).toBe(false);
  });

  it('refuses a QoS above max_qos_allowed', async () => {
    const r = await coapClient(['-m', 'post', '-e', 'q2', `${uri}/ps/lim/q2?${creds}&qos=2`]);
    expect(r.stderr).toContain('4.00');
    const ok = await coapClient(['-m', 'post', '-e', 'q1', `${uri}/ps/lim/q1?${creds}&qos=1`]);
    expect(ok.stderr).not.toMatch(/[45]\.\d\d/);
    const [m] = await app.waitMessages(1, 5000, (x) => x.topic === 'coap/lim/q1');
    expect(m!.packet.qos).toBe(1);
    expect(app.msgs.some((x) => x.topic === 'coap/lim/q2')).toBe(false);
  });

  it('refuses a payload above max_packet_size with 4.13', async () => {
    const r = await coapClient(['-m', 'post', '-e', 'x'.repeat(600), `${uri}/ps/lim/big?${creds}`]);
    expect(r.stderr).toContain('4.13');
    await sleep(200);
    expect(app.msgs.some((x) => x.topic === 'coap/lim/big')).toBe(false);
  });

  it('applies topic rewrite', async () => {
    const r = await coapClient(['-m', 'post', '-e', 'moved', `${uri}/ps/old/t?${creds}`]);
    expect(r.stderr).not.toMatch(/[45]\.\d\d/);
    const [m] = await app.waitMessages(1, 5000, (x) => x.text === 'moved');
    expect(m!.topic).toBe('coap/new/t');
  });
});

describe('MQTT-SN QoS -1 without CONNECT once users exist', () => {
  it('is refused (PUBACK not authorized), counted, and publishes nothing', async () => {
    const before = await metric('gateway.mqttsn.auth.refused');
    const c = await SnClient.udp(d.ports['mqttsn:udp:default']!);
    try {
      c.publish({ topicIdType: 1, topicId: 1, qos: -1, payload: 'negqos' });
      const ack = await c.next('puback');
      // Outpost answers a refused QoS -1 like an ACL refusal: PUBACK "not authorized" (EMQX's 0x80).
      expect(ack.rc).toBe(ReturnCode.NOT_AUTHORIZED);
    } finally {
      await c.close();
    }
    await sleep(200);
    expect(app.msgs.some((m) => m.text === 'negqos')).toBe(false);
    expect((await metric('gateway.mqttsn.auth.refused')) - before).toBe(1);
  });
});
