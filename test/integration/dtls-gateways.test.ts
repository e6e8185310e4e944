// The UDP gateways over DTLS 1.2 on the real daemon (issue 20): [gateway.coap.listeners.dtls.default]
// with Debian's coap-client-openssl (PSK from [psk_authentication] init_file: publish, observe; a
// wrong key or unknown identity fails cleanly and is logged; a reload picks up new keys), a paired
// CoAP device publishing with its PSK and confined to its scope until unpaired, and a paired MQTT-SN
// device over DTLS (the engine's own PSK client) using its predefined topic ids. Every child is
// killed by PID and every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsClient } from '../../gateways/transport/dtls/client.js';
import { decode as snDecode, encode as snEncode, type Frame } from '../../gateways/mqttsn/frame.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { seedAuth } from '../helpers/seed-users.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { outpostctl } from '../helpers/outpostctl.js';
import { Code, decode as coapDecode, encode as coapEncode, Opt } from '../../gateways/codecs/coap/frame.js';
import { readFileSync } from 'node:fs';
import { connectClient, sleep, uid, until, type TestClient } from '../helpers/mqtt-clients.js';

const CONFIG = `
[api]
port = 0
api_key_bootstrap_file = "KEYS"

[psk_authentication]
enable = true
init_file = "PSKS"

[gateway.coap]
enable = true

[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[gateway.coap.listeners.dtls.default]
bind = "127.0.0.1"
port = 0

[gateway.coap.listeners.dtls.certs]
bind = "127.0.0.1"
port = 0
peer_cert_as_username = "cn"

[gateway.coap.listeners.dtls.certs.dtls_options]
certfile = "CERTFILE"
keyfile = "KEYFILE"
cacertfile = "CAFILE"
verify = "verify_peer"
fail_if_no_peer_cert = true

[authentication.client_cert]
enable = true

[gateway.lwm2m]
enable = true

[gateway.lwm2m.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[gateway.lwm2m.listeners.dtls.default]
bind = "127.0.0.1"
port = 0

[gateway.mqttsn]
enable = true

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[gateway.mqttsn.listeners.dtls.default]
bind = "127.0.0.1"
port = 0
`;

let d: Daemon;
let app: TestClient;
let coaps: string;
let pskFile: string;
let pki: TestPki;
const children = new Set<ChildProcess>();
const API_AUTH = { authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}`, 'content-type': 'application/json' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** coap-client-openssl with a hard time limit (killed by PID when it overruns). */
function coapsClient(args: string[], timeoutMs = 10_000, onStdout?: (s: string) => void): { done: Promise<Run>; child: ChildProcess } {
  const child = spawn('coap-client-openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    onStdout?.(out);
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => {
    kill(child);
  }, timeoutMs);
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout: out, stderr: err });
    });
  });
  return { done, child };
}

const post = (identity: string, key: string, path: string, payload: string, timeoutS = 3): Promise<Run> =>
  coapsClient(['-B', String(timeoutS), '-m', 'post', '-e', payload, '-u', identity, '-k', key, `${coaps}/${path}`], (timeoutS + 5) * 1000).done;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${d.ports['api:http']}${path}`, { method, headers: API_AUTH, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-dtls-gw-'));
  writeFileSync(join(dataDir, 'keys'), 'ops:ops-secret\n');
  pskFile = join(dataDir, 'init.psk');
  writeFileSync(pskFile, 'sensor-1:sesame-key-0001\nmeter-1:meter-key-0001\n');
  // A user exists, so anonymous access is off: only the PSK lets a DTLS device in.
  await seedAuth(dataDir, (users) => users.add('app', 'app-secret'));
  pki = makeTestPki('meter-9');
  const config = CONFIG.replace('"KEYS"', JSON.stringify(join(dataDir, 'keys')))
    .replace('"PSKS"', JSON.stringify(pskFile))
    .replace('"CERTFILE"', JSON.stringify(pki.serverCert))
    .replace('"KEYFILE"', JSON.stringify(pki.serverKey))
    .replace('"CAFILE"', JSON.stringify(pki.caFile));
  d = await startDaemon({ dataDir, config });
  coaps = `coaps://127.0.0.1:${d.ports['coap:dtls:default']}`;
  app = await connectClient(d.mqttUrl, { clientId: uid('app'), username: 'app', password: 'app-secret' });
  await app.sub('#', { qos: 1 });
});

afterAll(async () => {
  for (const c of children) kill(c);
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
  pki?.cleanup();
});

/** SIGKILL a child we started, by its PID, unless it is already gone. */
function kill(c: ChildProcess): void {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(c.pid, 'SIGKILL');
  } catch {
    /* exited in between */
  }
}

const got = (topic: string): string[] => app.msgs.filter((m) => m.topic === topic).map((m) => m.payload.toString());

describe('CoAP over DTLS with a pre-shared key', () => {
  it('lists the dtls listeners with type dtls', async () => {
    const gws = (await api('GET', '/api/v5/gateways')).body as unknown as { name: string; listeners: { id: string; type: string }[] }[];
    expect(gws.find((g) => g.name === 'coap')!.listeners).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'dtls:default', type: 'dtls' })]));
    expect(gws.find((g) => g.name === 'mqttsn')!.listeners).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'dtls:default', type: 'dtls' })]));
    expect(d.ports['mqttsn:dtls:default']).toBeGreaterThan(0);
  });

  it('publishes with the init_file key: the PSK identity authenticates the device (no query credentials)', async () => {
    const r = await post('sensor-1', 'sesame-key-0001', 'ps/dtls/up', 'hello-dtls');
    expect(r.stderr).not.toMatch(/[45]\.\d\d/);
    await until(() => got('dtls/up').length > 0, 5000, 'publish over DTLS');
    expect(got('dtls/up')).toEqual(['hello-dtls']);
  });

  it('observes: an MQTT publish reaches the DTLS observer', async () => {
    let seen = '';
    const obs = coapsClient(['-B', '8', '-s', '6', '-m', 'get', '-u', 'sensor-1', '-k', 'sesame-key-0001', `${coaps}/ps/dtls/down`], 15_000, (s) => (seen = s));
    // The observation is registered once the gateway has a subscription for it.
    const deadline = Date.now() + 5000;
    while (!seen.includes('cmd-7') && Date.now() < deadline) {
      await app.pub('dtls/down', 'cmd-7', { qos: 0 });
      await sleep(300);
    }
    expect(seen).toContain('cmd-7');
    kill(obs.child);
    await obs.done;
  });

  it('a wrong key or an unknown identity fails the handshake cleanly: nothing is published, the failure is logged', async () => {
    const before = d.logs().length;
    const wrong = await post('sensor-1', 'not-the-key', 'ps/dtls/wrong', 'x', 2);
    const unknown = await post('nobody', 'sesame-key-0001', 'ps/dtls/unknown', 'x', 2);
    // No response of any kind: the handshake never completed (coap-client only reports its send failure).
    for (const r of [wrong, unknown]) expect(`${r.stdout}${r.stderr}`).not.toMatch(/\b[245]\.\d\d\b/);
    await sleep(300);
    expect(got('dtls/wrong')).toEqual([]);
    expect(got('dtls/unknown')).toEqual([]);
    const logs = d.logs().slice(before);
    expect(logs).toContain('DTLS handshake failed');
    expect(logs).toContain('gateway.coap.listeners.dtls.default');
    // The daemon still serves the right key afterwards.
    await post('sensor-1', 'sesame-key-0001', 'ps/dtls/after', 'still-up');
    await until(() => got('dtls/after').length > 0, 5000, 'publish after failures');
    // Counted where operators look: the Prometheus scrape, per gateway listener.
    const res = await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/prometheus/stats`, { headers: API_AUTH });
    const text = await res.text();
    const series = (name: string): number => Number(new RegExp(`^${name}\\{gateway="coap",listener="dtls:default"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    // The unknown identity at once; the wrong key only at the handshake deadline (DTLS drops what does not decrypt).
    expect(series('outpost_dtls_handshake_failures_total')).toBeGreaterThanOrEqual(1);
    expect(series('outpost_dtls_handshakes_total')).toBeGreaterThanOrEqual(1);
    expect(series('outpost_dtls_sessions')).toBeGreaterThanOrEqual(0);
  });

  it('rereads init_file on reload (SIGHUP): a new identity works, a removed one no longer does', async () => {
    writeFileSync(pskFile, 'sensor-2:second-key-0002\nmeter-1:meter-key-0001\n');
    process.kill(d.pid, 'SIGHUP');
    await until(() => d.logs().includes('config_reloaded'), 5000, 'reload');
    await post('sensor-2', 'second-key-0002', 'ps/dtls/reloaded', 'two');
    await until(() => got('dtls/reloaded').length > 0, 5000, 'publish with the reloaded key');
    await post('sensor-1', 'sesame-key-0001', 'ps/dtls/removed', 'one', 2);
    await sleep(300);
    expect(got('dtls/removed')).toEqual([]);
  });
});

describe('CoAP over DTLS with client certificates', () => {
  it('a verified certificate authenticates the device with its CN as username (peer_cert_as_username); a ban on that name refuses it', async () => {
    const certUri = `coaps://127.0.0.1:${d.ports['coap:dtls:certs']}`;
    const send = (path: string, payload: string) =>
      coapsClient(['-B', '3', '-m', 'post', '-e', payload, '-c', pki.clientCert, '-j', pki.clientKey, '-C', pki.caFile, `${certUri}/${path}`], 10_000).done;
    const ok = await send('ps/cert/up', 'by-cert');
    expect(ok.stderr).not.toMatch(/[45]\.\d\d/);
    await until(() => got('cert/up').length > 0, 5000, 'publish with a client certificate');
    // The CN is the username the chain sees: banning that username refuses the device.
    expect((await api('POST', '/api/v5/banned', { as: 'username', who: 'meter-9' })).status).toBe(200);
    const banned = await send('ps/cert/banned', 'x');
    expect(banned.stderr).toMatch(/4\.01/);
    expect(got('cert/banned')).toEqual([]);
    // Without a certificate this listener completes no handshake (fail_if_no_peer_cert).
    const none = await coapsClient(['-B', '2', '-m', 'post', '-e', 'x', '-n', `${certUri}/ps/cert/none`], 8000).done;
    expect(`${none.stdout}${none.stderr}`).not.toMatch(/\b2\.\d\d\b/);
    expect(got('cert/none')).toEqual([]);
  });
});

describe('MQTT-SN over DTLS with openssl s_client', () => {
  it('carries binary MQTT-SN frames both ways (PSK-AES128-CCM8): CONNECT -> CONNACK, QoS 0 publish with a short topic name', async () => {
    // meter-1 is in the init file before and after the reload test.
    const key = Buffer.from('meter-key-0001').toString('hex');
    const c = spawn('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${d.ports['mqttsn:dtls:default']}`, '-psk', key, '-psk_identity', 'meter-1', '-cipher', 'PSK-AES128-CCM8', '-quiet', '-nocommands'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(c);
    c.on('close', () => children.delete(c));
    let out = Buffer.alloc(0);
    c.stdout!.on('data', (b: Buffer) => (out = Buffer.concat([out, b])));
    try {
      // One write, one read by s_client, one DTLS record: each frame stays one datagram.
      const deadline = Date.now() + 8000;
      while (!out.includes(Buffer.from([0x03, 0x05, 0x00])) && Date.now() < deadline) {
        c.stdin!.write(snEncode({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 30, clientId: 'sc-1' }));
        await sleep(500);
      }
      expect(out.includes(Buffer.from([0x03, 0x05, 0x00]))).toBe(true);
      // Short topic name "ok" (topic id type 2): no REGISTER needed.
      c.stdin!.write(snEncode({ type: 'publish', dup: false, qos: 0, retain: false, topicIdType: 2, topicId: 0x6f6b, msgId: 0, payload: Buffer.from('via-s_client') }));
      await until(() => got('ok').length > 0, 5000, 'MQTT-SN publish through s_client');
      expect(got('ok')).toEqual(['via-s_client']);
    } finally {
      kill(c);
    }
  });
});

describe('LwM2M over DTLS', () => {
  it('a device registers over DTLS with its PSK (POST /rd), and is listed with its identity as username', async () => {
    const uri = `coaps://127.0.0.1:${d.ports['lwm2m:dtls:default']}/rd?ep=meter-1&lt=60&lwm2m=1.0&b=U`;
    const r = await coapsClient(['-B', '3', '-m', 'post', '-t', '40', '-e', '</3/0>,</1/0>', '-u', 'meter-1', '-k', 'meter-key-0001', uri], 10_000).done;
    expect(r.stderr).not.toMatch(/[45]\.\d\d/);
    let clients: { clientid: string; username: string | null }[] = [];
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      clients = ((await api('GET', '/api/v5/gateways/lwm2m/clients')).body.data ?? []) as typeof clients;
      if (clients.some((c) => c.clientid === 'meter-1')) break;
      await sleep(100);
    }
    expect(clients.find((c) => c.clientid === 'meter-1')).toMatchObject({ username: 'meter-1' });
  });
});

describe('paired devices over DTLS', () => {
  it('a paired CoAP device publishes with its PSK in its scope, is refused outside it, and loses access at unpair', async () => {
    // coap-client takes the key as raw text: this device's firmware brings a printable key (hex of ASCII).
    const key = 'coap-dev-key-123';
    const r = await api('POST', '/api/v5/devices', { name: 'coap-dev', protocol: 'coap', psk_key: Buffer.from(key).toString('hex') });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ psk_identity: 'coap-dev', psk_key: Buffer.from(key).toString('hex') });
    await post('coap-dev', key, 'ps/devices/coap-dev/telemetry', '21.5');
    await until(() => got('devices/coap-dev/telemetry').length > 0, 5000, 'paired device publish');
    const out = await post('coap-dev', key, 'ps/elsewhere/t', 'nope');
    // The gateway answers an ACL refusal of a publish with 4.01, as for MQTT-less CoAP devices.
    expect(out.stderr).toMatch(/4\.01/);
    expect(got('elsewhere/t')).toEqual([]);
    expect((await api('DELETE', '/api/v5/devices/coap-dev')).status).toBe(204);
    await post('coap-dev', key, 'ps/devices/coap-dev/telemetry', 'after-unpair', 2);
    await sleep(300);
    expect(got('devices/coap-dev/telemetry')).toEqual(['21.5']);
  });

  it('outpostctl pair coap writes the key and the DTLS port the device then uses (random 16-byte key, over the engine client)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'outpost-pair-dtls-'));
    const r = await outpostctl(['--url', `http://127.0.0.1:${d.ports['api:http']}`, '--api-key', 'ops', '--api-secret', 'ops-secret', 'pair', 'coap', '--name', 'coap-cli', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(out, 'coap-cli.json'), 'utf8')) as { psk_identity: string; psk_key: string; dtls_port: number };
    expect(cfg.dtls_port).toBe(d.ports['coap:dtls:default']);
    const listed = await outpostctl(['--url', `http://127.0.0.1:${d.ports['api:http']}`, '--api-key', 'ops', '--api-secret', 'ops-secret', 'devices']);
    expect(listed.stdout).toMatch(new RegExp(`^coap-cli\\s+coap\\s+paired\\s+coap-cli\\s+${cfg.psk_identity}\\s`, 'm'));
    const c = new DtlsClient({ identity: cfg.psk_identity, key: Buffer.from(cfg.psk_key, 'hex'), timeoutMs: 5000 }, cfg.dtls_port);
    const replies: number[] = [];
    c.onMessage((m) => {
      const f = coapDecode(m);
      if (f.kind === 'frame') replies.push(f.frame.code);
    });
    try {
      await c.connect();
      const options = ['ps', 'devices', 'coap-cli', 'telemetry'].map((p) => ({ number: Opt.URI_PATH, value: Buffer.from(p) }));
      c.send(coapEncode({ type: 'CON', code: Code.POST, messageId: 1, token: Buffer.from('t1'), options, payload: Buffer.from('from-cli-config') }));
      await until(() => replies.length > 0, 5000, 'CoAP reply over DTLS');
      expect(replies[0]).toBe(Code.CHANGED);
      await until(() => got('devices/coap-cli/telemetry').length > 0, 5000, 'publish with the generated key');
    } finally {
      await c.close(false).catch(() => undefined);
    }
  });

  it('a paired MQTT-SN device connects over DTLS with its generated key and publishes with its predefined topic id', async () => {
    const r = await api('POST', '/api/v5/devices', { name: 'soil-dtls', protocol: 'mqttsn' });
    expect(r.status).toBe(201);
    const key = Buffer.from(r.body.psk_key as string, 'hex');
    expect(key.length).toBe(16);
    const up = (r.body.topic_ids as { id: number; topic: string }[])[0]!;
    const c = new DtlsClient({ identity: 'soil-dtls', key, timeoutMs: 5000 }, d.ports['mqttsn:dtls:default']!);
    const frames: Frame[] = [];
    c.onMessage((m) => {
      const f = snDecode(m);
      if (f.kind === 'frame') frames.push(f.frame);
    });
    try {
      await c.connect();
      c.send(snEncode({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 30, clientId: 'soil-dtls' }));
      await until(() => frames.some((f) => f.type === 'connack'), 5000, 'CONNACK');
      expect(frames.find((f) => f.type === 'connack')).toEqual({ type: 'connack', rc: 0 });
      c.send(snEncode({ type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 1, topicId: up.id, msgId: 7, payload: Buffer.from('moist') }));
      await until(() => frames.some((f) => f.type === 'puback'), 5000, 'PUBACK');
      expect(frames.find((f) => f.type === 'puback')).toMatchObject({ msgId: 7, rc: 0 });
      await until(() => got(up.topic).length > 0, 5000, 'MQTT-SN publish over DTLS');
      expect(got(up.topic)).toEqual(['moist']);
      // Unpairing ends the DTLS session: the gateway sends close_notify.
      expect((await api('DELETE', '/api/v5/devices/soil-dtls')).status).toBe(204);
      await until(() => c.closedByPeer, 5000, 'close_notify after unpair');
    } finally {
      await c.close(false).catch(() => undefined);
    }
  });

  it('kicking an MQTT-SN client over DTLS ends its DTLS session too (close_notify), as closing a TCP connection would', async () => {
    const c = new DtlsClient({ identity: 'meter-1', key: Buffer.from('meter-key-0001'), timeoutMs: 5000 }, d.ports['mqttsn:dtls:default']!);
    const frames: Frame[] = [];
    c.onMessage((m) => {
      const f = snDecode(m);
      if (f.kind === 'frame') frames.push(f.frame);
    });
    try {
      await c.connect();
      c.send(snEncode({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 30, clientId: 'kick-me' }));
      await until(() => frames.some((f) => f.type === 'connack'), 5000, 'CONNACK');
      expect((await api('DELETE', '/api/v5/clients/kick-me')).status).toBe(204);
      await until(() => c.closedByPeer, 5000, 'close_notify after the kick');
      expect(frames.some((f) => f.type === 'disconnect')).toBe(true);
    } finally {
      await c.close(false).catch(() => undefined);
    }
  });
});

describe('a bad [psk_authentication] init_file', () => {
  it('refuses the daemon start, naming the key and the line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-psk-bad-'));
    writeFileSync(join(dir, 'bad.psk'), 'good:key\n# a comment EMQX would refuse too\n');
    const err = await startDaemon({ config: `\n[psk_authentication]\nenable = true\ninit_file = ${JSON.stringify(join(dir, 'bad.psk'))}\n`, timeoutMs: 10_000 }).then(
      async (x) => {
        await x.stop();
        x.cleanup();
        return null;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/psk_authentication\.init_file: .*bad\.psk: line 2: bad format/);
  });
});

describe('without the native DTLS addon', () => {
  it('the daemon refuses to start with an enabled DTLS listener, naming it and the engine reason', async () => {
    const err = await startDaemon({
      config: `
[gateway.coap]
enable = true
[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0
[gateway.coap.listeners.dtls.default]
bind = "127.0.0.1"
port = 0
`,
      env: { OUTPOST_DTLS_ADDON: '/nonexistent/outpost_dtls.node' },
      timeoutMs: 10_000,
    }).then(
      async (x) => {
        await x.stop();
        x.cleanup();
        return null;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/gateway\.coap\.listeners\.dtls\.default\.enable/);
    expect(err?.message).toMatch(/DTLS addon not built/);
  });
});
