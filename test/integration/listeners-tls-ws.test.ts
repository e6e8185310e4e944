// MQTT over TLS, WebSocket and secure WebSocket against the real daemon, with a PKI the test makes
// (test/helpers/certs.ts): MQTT.js over wss/ws/mqtts, mTLS accepted and rejected, identity from
// the client certificate, mosquitto_sub over TLS with --cafile, subprotocol and path checks.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, spawnTool, tryConnect, uid, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';

let pki: TestPki;
let d: Daemon;
const open: TestClient[] = [];

const port = (id: string) => {
  const p = d.ports[`mqtt:${id}`];
  if (!p) throw new Error(`no port for ${id} in ${JSON.stringify(d.ports)}`);
  return p;
};

beforeAll(async () => {
  pki = makeTestPki('sensor-1');
  const tls = (extra = '') => `certfile = "${pki.serverCert}"\nkeyfile = "${pki.serverKey}"\ncacertfile = "${pki.caFile}"\n${extra}`;
  d = await startDaemon({
    config: `
[authorization]
no_match = "allow"

[listeners.ssl.default]
bind = "127.0.0.1"
port = 0
[listeners.ssl.default.ssl_options]
${tls()}

[listeners.ssl.mtls]
bind = "127.0.0.1"
port = 0
peer_cert_as_clientid = "cn"
[listeners.ssl.mtls.ssl_options]
${tls('verify = "verify_peer"\nfail_if_no_peer_cert = true')}

[listeners.ssl.optional]
bind = "127.0.0.1"
port = 0
[listeners.ssl.optional.ssl_options]
${tls('verify = "verify_peer"\nfail_if_no_peer_cert = false')}

[listeners.ws.default]
bind = "127.0.0.1"
port = 0

[listeners.wss.default]
bind = "127.0.0.1"
port = 0
[listeners.wss.default.ssl_options]
${tls()}
`,
  });
});

afterAll(async () => {
  for (const c of open) await c.end(true);
  await d?.stop();
  d?.cleanup();
  pki?.cleanup();
});

async function client(url: string, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(url, { clientId: uid('l'), ...opts });
  open.push(c);
  return c;
}

/** Publish on one transport, receive on another: proves both reach the same broker. */
async function roundTrip(a: TestClient, b: TestClient): Promise<void> {
  const topic = `lt/${uid('t')}`;
  await b.sub(topic, { qos: 1 });
  await a.pub(topic, 'hello', { qos: 1 });
  const [m] = await b.waitMessages(1, 3000);
  expect(m!.text).toBe('hello');
}

describe('extra listeners on the real daemon', () => {
  it('reports every listener in runtime.json', () => {
    for (const id of ['ssl:default', 'ssl:mtls', 'ssl:optional', 'ws:default', 'wss:default']) expect(port(id)).toBeGreaterThan(0);
  });

  it('MQTT.js over wss with the test CA (v5) talks to MQTT.js over mqtts (v3.1.1)', async () => {
    const a = await client(`wss://localhost:${port('wss:default')}/mqtt`, { ca: pki.read(pki.caFile), protocolVersion: 5 });
    const b = await client(`mqtts://localhost:${port('ssl:default')}`, { ca: pki.read(pki.caFile), protocolVersion: 4 });
    expect(a.connack.reasonCode ?? 0).toBe(0);
    await roundTrip(a, b);
    await roundTrip(b, a);
  });

  it('MQTT.js in WebSocket mode (v3.1.1 and v3.1 with the mqttv3.1 subprotocol)', async () => {
    const a = await client(`ws://127.0.0.1:${port('ws:default')}/mqtt`, { protocolVersion: 4 });
    const b = await client(`ws://127.0.0.1:${port('ws:default')}/mqtt`, { protocolVersion: 3, protocolId: 'MQIsdp' });
    const c = await client(d.mqttUrl);
    await roundTrip(a, b);
    await roundTrip(c, a);
  });

  it('a server certificate from an unknown CA is refused by the client', async () => {
    const r = await tryConnect(`mqtts://localhost:${port('ssl:default')}`, { clientId: uid('x') }, 3000);
    r.client.end(true);
    expect(r.connack).toBeUndefined();
    expect(String(r.error?.message)).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('mTLS: a client certificate from the CA is accepted and its CN becomes the client id', async () => {
    // The connected event ($SYS, allowed to loopback by the default ACL) names the client id the broker uses.
    const seen = await client(d.mqttUrl);
    await seen.sub('$SYS/brokers/+/clients/sensor-1/connected');
    const c = await client(`mqtts://localhost:${port('ssl:mtls')}`, {
      ca: pki.read(pki.caFile),
      cert: pki.read(pki.clientCert),
      key: pki.read(pki.clientKey),
      protocolVersion: 5,
      clientId: 'ignored-id',
    });
    expect(c.connack.reasonCode ?? 0).toBe(0);
    const [ev] = await seen.waitMessages(1, 3000);
    expect(JSON.parse(ev!.text)).toMatchObject({ clientid: 'sensor-1' });
  });

  it('mTLS: no certificate, or one from another CA, is rejected in the handshake', async () => {
    const none = await tryConnect(`mqtts://localhost:${port('ssl:mtls')}`, { ca: pki.read(pki.caFile), clientId: uid('n') }, 3000);
    none.client.end(true);
    expect(none.connack).toBeUndefined();
    const rogue = await tryConnect(
      `mqtts://localhost:${port('ssl:mtls')}`,
      { ca: pki.read(pki.caFile), cert: pki.read(pki.rogueCert), key: pki.read(pki.rogueKey), clientId: uid('r') },
      3000,
    );
    rogue.client.end(true);
    expect(rogue.connack).toBeUndefined();
  });

  it('verify_peer without fail_if_no_peer_cert: no certificate is fine, a bad one is not', async () => {
    const none = await client(`mqtts://localhost:${port('ssl:optional')}`, { ca: pki.read(pki.caFile) });
    expect(none.c.connected).toBe(true);
    const good = await client(`mqtts://localhost:${port('ssl:optional')}`, { ca: pki.read(pki.caFile), cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) });
    expect(good.c.connected).toBe(true);
    const rogue = await tryConnect(
      `mqtts://localhost:${port('ssl:optional')}`,
      { ca: pki.read(pki.caFile), cert: pki.read(pki.rogueCert), key: pki.read(pki.rogueKey), clientId: uid('r') },
      3000,
    );
    rogue.client.end(true);
    expect(rogue.connack).toBeUndefined();
    expect(d.logs()).toMatch(/tls_peer_cert_rejected/);
  });

  it('mosquitto_sub over TLS with --cafile receives what MQTT.js publishes', async () => {
    const topic = `mosq/${uid('t')}`;
    const sub = spawnTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port('ssl:default')), '--cafile', pki.caFile, '-t', topic, '-C', '1', '-W', '10', '-i', uid('ms')]);
    try {
      const pub = await client(d.mqttUrl);
      // Keep publishing until the subscriber has subscribed and received one message (bounded).
      const deadline = Date.now() + 8000;
      while (sub.child.exitCode === null && Date.now() < deadline) {
        await pub.pub(topic, 'via-tls', { qos: 1 });
        await new Promise((r) => setTimeout(r, 200));
      }
      const code = await withTimeout(sub.exited, 3000, 'mosquitto_sub exit');
      expect(sub.err()).toBe('');
      expect(code).toBe(0);
      expect(sub.out().trim()).toBe('via-tls');
    } finally {
      await sub.kill();
    }
  });

  it('mosquitto_sub with a client certificate on the mTLS listener', async () => {
    const topic = `mosq/${uid('t')}`;
    const args = ['-h', '127.0.0.1', '-p', String(port('ssl:mtls')), '--cafile', pki.caFile, '-t', topic, '-C', '1', '-W', '10'];
    const sub = spawnTool('mosquitto_sub', [...args, '--cert', pki.clientCert, '--key', pki.clientKey]);
    try {
      const pub = await client(d.mqttUrl);
      const deadline = Date.now() + 8000;
      while (sub.child.exitCode === null && Date.now() < deadline) {
        await pub.pub(topic, 'mtls-ok', { qos: 1 });
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await withTimeout(sub.exited, 3000, 'mosquitto_sub exit')).toBe(0);
      expect(sub.out().trim()).toBe('mtls-ok');
    } finally {
      await sub.kill();
    }
    const refused = spawnTool('mosquitto_sub', args);
    try {
      expect(await withTimeout(refused.exited, 8000, 'refused mosquitto_sub exit')).not.toBe(0);
    } finally {
      await refused.kill();
    }
  });

  it('WebSocket upgrade: wrong path -> 404, unknown subprotocol -> 400, plain GET -> 426', async () => {
    const status = (path: string, headers: Record<string, string>) =>
      withTimeout(
        new Promise<number>((resolve, reject) => {
          const rq = httpRequest({ host: '127.0.0.1', port: port('ws:default'), path, headers });
          rq.on('upgrade', (res, sock) => {
            sock.destroy();
            resolve(res.statusCode ?? 0);
          });
          rq.on('response', (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          rq.on('error', reject);
          rq.end();
        }),
        3000,
        `HTTP ${path}`,
      );
    const ws = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    expect(await status('/other', { ...ws, 'sec-websocket-protocol': 'mqtt' })).toBe(404);
    expect(await status('/mqtt', { ...ws, 'sec-websocket-protocol': 'chat' })).toBe(400);
    expect(await status('/mqtt', ws)).toBe(400);
    expect(await status('/mqtt', { ...ws, 'sec-websocket-protocol': 'mqtt' })).toBe(101);
    expect(await status('/mqtt', {})).toBe(426);
  });
});
