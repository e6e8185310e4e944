// The bridge in-process (a fake BrokerApi over a real SQLite store file) against a real upstream:
// Debian's mosquitto on an ephemeral loopback port. Covers store-and-forward through outages,
// buffer limits, ingress with a persistent remote session, v5 properties, TLS and loop prevention.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bridgesConfigShape } from '../../src/bridge/config.js';
import { startBridges, type BridgeService } from '../../src/bridge/index.js';
import { createMessage, type Message } from '../../src/core/message.js';
import type { Config } from '../../src/config/schema.js';
import type { Store } from '../../src/store/store.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { connectClient, sleep, until, type TestClient } from '../helpers/mqtt-clients.js';
import { fakeBroker, openStore, type FakeBroker } from '../unit/bridge/fake-broker.js';
import { audit } from '../helpers/sequence-audit.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function config(bridges: Record<string, unknown>): Config {
  return z.strictObject(bridgesConfigShape).parse({ bridges }) as unknown as Config;
}

const FAST = { reconnect: { min: 0.05, max: 0.3 } };

async function upstream(opts: Parameters<typeof startMosquitto>[0] = {}): Promise<Mosquitto> {
  const m = await startMosquitto(opts);
  cleanups.push(() => m.cleanup());
  return m;
}

function tmpStorePath(): string {
  return join(mkdtempSync(join(tmpdir(), 'bridge-it-')), 'outpost.db');
}

async function edge(bridges: Record<string, unknown>, path = tmpStorePath()): Promise<{ broker: FakeBroker; svc: BridgeService; store: Store; path: string }> {
  const store = openStore(path);
  const broker = fakeBroker(store);
  const svc = await startBridges(broker, config(bridges), broker.log, { random: () => 0.5 });
  cleanups.push(async () => {
    await svc.stop();
    store.close();
  });
  return { broker, svc, store, path };
}

async function client(port: number, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(`mqtt://127.0.0.1:${port}`, opts);
  cleanups.push(() => c.end(true));
  return c;
}

const local = (topic: string, payload: string, qos: 0 | 1 | 2 = 1, extra: Partial<Parameters<typeof createMessage>[0]> = {}): Message =>
  createMessage({ topic, payload: Buffer.from(payload), qos, retain: false, from: 'dev', now: Date.now(), ...extra });

/** A persistent QoS 1 subscriber session on the upstream, then disconnected. */
async function parkSubscriber(up: Mosquitto, clientId: string, filter: string): Promise<void> {
  const s = await connectClient(`mqtt://127.0.0.1:${up.port}`, { clientId, clean: false });
  await s.sub(filter, { qos: 1 });
  await s.end();
}

describe('bridge against a real upstream (mosquitto)', () => {
  it('upstream down: 10,000 QoS 1 acked locally, all arrive in order after the upstream starts', async () => {
    const up = await upstream();
    await parkSubscriber(up, 'cloud-sub', 'site1/#');
    await up.stop();
    const { broker, svc, store } = await edge({
      cloud: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'data/#', topic: 'site1/${topic}' }], replay: { inflight: 64 }, ...FAST },
    });
    const N = 10_000;
    for (let i = 0; i < N; i += 500) {
      const batch: Promise<unknown>[] = [];
      for (let k = i; k < i + 500; k++) batch.push(broker.publishAcked(local('data/x', String(k))));
      const res = await Promise.all(batch);
      expect(res.every((r) => (r as { durable: boolean }).durable)).toBe(true);
    }
    // Every acknowledged message is in the file before anything reached the upstream.
    expect(store.db.prepare("SELECT count(*) AS n FROM bridge_log WHERE bridge = 'cloud'").get()).toEqual({ n: N });
    // Down upstream: the bridge alternates between connecting and disconnected while it backs off.
    expect(svc.status()[0]).toMatchObject({ queued: N, healthy: false });
    expect(['disconnected', 'connecting']).toContain(svc.status()[0]!.status);
    await up.restart();
    const sub = await client(up.port, { clientId: 'cloud-sub', clean: false });
    await sub.waitMessages(N, 30_000);
    const a = audit(sub.msgs.map((m) => Number(m.text)), N);
    expect(a).toMatchObject({ missing: 0, disorder: 0 });
    expect(a.dups).toBeLessThanOrEqual(64);
    expect(sub.msgs[0]!.topic).toBe('site1/data/x');
    await until(() => svc.status()[0]!.queued === 0 && svc.status()[0]!.inflight === 0, 5000, 'log drained');
    store.flush();
    expect(store.db.prepare('SELECT count(*) AS n FROM bridge_log').get()).toEqual({ n: 0 });
    const st = svc.status()[0]!;
    expect(st).toMatchObject({ status: 'connected', healthy: true });
    expect(st.counters.success).toBe(N);
    expect(broker.metrics.get('bridge.cloud.success')).toBe(N);
  }, 60_000);

  it('acked messages survive an edge crash during the outage and are replayed by the next process', async () => {
    const up = await upstream();
    await parkSubscriber(up, 'cloud-sub2', 'site1/#');
    await up.stop();
    const path = tmpStorePath();
    const first = openStore(path);
    const b1 = fakeBroker(first);
    const svc1 = await startBridges(b1, config({ cloud: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'data/#', topic: 'site1/${topic}' }], ...FAST } }), b1.log);
    const N = 2000;
    await Promise.all(Array.from({ length: N }, (_, i) => b1.publishAcked(local('data/y', String(i)))));
    // "Crash": the first process never closes its store; only what was committed before the acks counts.
    await svc1.stop();
    const { svc } = await edge({ cloud: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'data/#', topic: 'site1/${topic}' }], ...FAST } }, path);
    expect(svc.status()[0]!.queued).toBe(N);
    await up.restart();
    const sub = await client(up.port, { clientId: 'cloud-sub2', clean: false });
    await sub.waitMessages(N, 20_000);
    expect(audit(sub.msgs.map((m) => Number(m.text)), N)).toMatchObject({ missing: 0, disorder: 0 });
  }, 40_000);

  it('upstream restarted repeatedly under a steady publisher: no acknowledged message missing', async () => {
    const up = await upstream();
    await parkSubscriber(up, 'cloud-sub3', 'site1/#');
    const { broker, svc } = await edge({ cloud: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'data/#', topic: 'site1/${topic}' }], ...FAST } });
    let acked = 0;
    let stop = false;
    const publisher = (async () => {
      while (!stop) {
        await broker.publishAcked(local('data/z', String(acked)));
        acked++;
        if (acked % 20 === 0) await sleep(2);
      }
    })();
    for (let round = 0; round < 3; round++) {
      await sleep(300);
      await up.stop();
      await sleep(200);
      await up.restart();
    }
    await sleep(300);
    stop = true;
    await publisher;
    expect(acked).toBeGreaterThan(500);
    const sub = await client(up.port, { clientId: 'cloud-sub3', clean: false });
    await sub.waitMessages(acked, 20_000, () => true);
    await until(() => new Set(sub.msgs.map((m) => m.text)).size >= acked, 20_000, 'every acked message');
    const a = audit(sub.msgs.map((m) => Number(m.text)), acked);
    expect(a.missing).toBe(0);
    expect(a.disorder).toBe(0);
    expect(svc.status()[0]!.counters.reconnects).toBeGreaterThanOrEqual(3);
  }, 40_000);

  it('buffer limit: the oldest are dropped, counted and logged; the store stays bounded', async () => {
    const up = await upstream();
    await parkSubscriber(up, 'watch', 'data/#');
    await up.stop();
    const { broker, svc, store } = await edge({
      cloud: { servers: [`127.0.0.1:${up.port}`], egress: [{ filter: 'data/#' }], buffer: { max_messages: 100 }, replay: { inflight: 10 }, ...FAST },
    });
    for (let i = 0; i < 300; i++) await broker.publishAcked(local('data/q', String(i)));
    store.flush();
    const st = svc.status()[0]!;
    expect(st.queued).toBe(100);
    expect(st.counters.droppedBy.queue_full).toBe(200);
    expect(broker.metrics.get('bridge.cloud.dropped.queue_full')).toBe(200);
    expect(store.db.prepare('SELECT count(*) AS n FROM bridge_log').get()).toEqual({ n: 100 });
    expect(broker.logLines.some((l) => l.msg === 'bridge_message_dropped' && l.reason === 'queue_full')).toBe(true);
    await up.restart();
    const sub = await client(up.port, { clientId: 'watch', clean: false });
    await sub.waitMessages(100, 10_000);
    expect(sub.msgs.map((m) => Number(m.text))).toEqual(Array.from({ length: 100 }, (_, i) => 200 + i));
  });

  it('ingress reaches local subscribers; a persistent ingress session gets what was published while the edge was down', async () => {
    const up = await upstream();
    const bridge = {
      servers: [`127.0.0.1:${up.port}`],
      clientid: 'edge-ingress',
      clean_start: false,
      ingress: [{ filter: 'cloud/cmd/#', strip_prefix: 'cloud/', topic: 'local/${topic}', qos: 1 }],
      ...FAST,
    };
    const path = tmpStorePath();
    const store1 = openStore(path);
    const b1 = fakeBroker(store1);
    const svc1 = await startBridges(b1, config({ cloud: bridge }), b1.log);
    const got1: Message[] = [];
    b1.subscribe('local/#', (m) => got1.push(m));
    await until(() => svc1.status()[0]!.status === 'connected', 5000, 'connected');
    const pub = await client(up.port, { clientId: 'cloud-app' });
    await sleep(100);
    await pub.pub('cloud/cmd/one', 'live', { qos: 1 });
    await until(() => got1.length === 1, 5000, 'live ingress');
    expect(got1[0]).toMatchObject({ topic: 'local/cmd/one', qos: 1, origin: 'cloud' });
    // Graceful stop: DISCONNECT without UNSUBSCRIBE, so the remote session keeps queueing.
    await svc1.stop();
    store1.close();
    for (let i = 0; i < 5; i++) await pub.pub('cloud/cmd/offline', String(i), { qos: 1 });
    const { broker: b2 } = await edge({ cloud: bridge }, path);
    const got2: Message[] = [];
    b2.subscribe('local/#', (m) => got2.push(m));
    await until(() => got2.length === 5, 5000, 'messages queued upstream during downtime');
    await sleep(200);
    expect(got2.map((m) => m.payload.toString())).toEqual(['0', '1', '2', '3', '4']);
    expect(got2.every((m) => m.origin === 'cloud' && m.topic === 'local/cmd/offline')).toBe(true);
  });

  it('MQTT 5 user properties and content type survive both ways', async () => {
    const up = await upstream();
    const { broker, svc } = await edge({
      cloud: {
        servers: [`127.0.0.1:${up.port}`],
        proto_ver: 'v5',
        egress: [{ filter: 'up/#' }],
        ingress: [{ filter: 'down/#' }],
        ...FAST,
      },
    });
    const got: Message[] = [];
    broker.subscribe('down/#', (m) => got.push(m));
    await until(() => svc.status()[0]!.status === 'connected', 5000, 'connected');
    const app = await client(up.port, { clientId: 'app5', protocolVersion: 5 });
    await app.sub('up/#', { qos: 1 });
    await broker.publishAcked(local('up/t', 'x', 1, { props: { contentType: 'application/json', userProperties: [['site', 's1'], ['tag', 'a'], ['tag', 'b']] }, expiryInterval: 3600 }));
    const [m] = await app.waitMessages(1);
    expect(m!.packet.properties).toMatchObject({ contentType: 'application/json', userProperties: { site: 's1', tag: ['a', 'b'] } });
    expect(m!.packet.properties!.messageExpiryInterval).toBeGreaterThan(3500);
    await sleep(100);
    await app.pub('down/t', 'y', { qos: 1, properties: { contentType: 'text/plain', userProperties: { from: 'cloud' }, correlationData: Buffer.from('c1'), responseTopic: 'r/1' } });
    await until(() => got.length === 1, 5000, 'ingress message');
    expect(got[0]!.props).toMatchObject({ contentType: 'text/plain', userProperties: [['from', 'cloud']], responseTopic: 'r/1' });
    expect(got[0]!.props!.correlationData!.toString()).toBe('c1');
  });

  it('both directions on overlapping filters: each side gets a message once, nothing loops', async () => {
    const up = await upstream();
    const { broker, svc } = await edge({
      cloud: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', allow_loop: true, egress: [{ filter: 'x/#' }], ingress: [{ filter: 'x/#', no_local: true }], ...FAST },
    });
    const localGot: Message[] = [];
    broker.subscribe('x/#', (m) => localGot.push(m));
    await until(() => svc.status()[0]!.status === 'connected', 5000, 'connected');
    const app = await client(up.port, { clientId: 'app-loop', protocolVersion: 5 });
    await app.sub('x/#', { qos: 1 });
    await sleep(100);
    await broker.publishAcked(local('x/from-edge', 'e'));
    await app.waitMessages(1);
    await app.pub('x/from-cloud', 'c', { qos: 1 });
    await until(() => localGot.length >= 2, 5000, 'cloud message at the edge');
    await sleep(500);
    expect(app.msgs.map((m) => m.topic).sort()).toEqual(['x/from-cloud', 'x/from-edge']);
    expect(localGot.map((m) => m.topic).sort()).toEqual(['x/from-cloud', 'x/from-edge']);
    const st = svc.status()[0]!.counters;
    expect(st.success).toBe(1);
    expect(st.received).toBe(1);
  });

  it('loop marker: our own message coming back through ingress (no no-local) is not republished', async () => {
    const up = await upstream();
    const { broker, svc } = await edge({
      cloud: { servers: [`127.0.0.1:${up.port}`], proto_ver: 'v5', loop_marker: true, allow_loop: true, egress: [{ filter: 'x/#' }], ingress: [{ filter: 'x/#', no_local: false }], ...FAST },
    });
    await until(() => svc.status()[0]!.status === 'connected', 5000, 'connected');
    const app = await client(up.port, { clientId: 'app-marker', protocolVersion: 5 });
    await app.sub('x/#', { qos: 1 });
    await sleep(100);
    await broker.publishAcked(local('x/mine', 'm'));
    await app.pub('x/theirs', 't', { qos: 1 });
    await until(() => svc.status()[0]!.counters.received === 2, 5000, 'both back through ingress');
    await sleep(200);
    expect(broker.published.filter((m) => m.topic.startsWith('x/')).map((m) => m.topic)).toEqual(['x/mine', 'x/theirs']);
    expect(svc.status()[0]!.counters.loops).toBe(1);
    expect(app.msgs.map((m) => m.topic).sort()).toEqual(['x/mine', 'x/theirs']);
  });

  it('publishes the link state retained on $SYS/broker/connection/<name>/state (1/0)', async () => {
    const up = await upstream();
    const { broker, svc } = await edge({ cloud: { servers: [`127.0.0.1:${up.port}`], ...FAST } });
    const states = () => broker.published.filter((m) => m.topic === '$SYS/broker/connection/cloud/state').map((m) => `${m.payload.toString()}${m.retain ? 'r' : ''}`);
    await until(() => states().includes('1r'), 5000, 'state 1');
    await up.stop();
    await until(() => states().at(-1) === '0r', 5000, 'state 0');
    expect(svc.status()[0]!.lastError).toBeTruthy();
    await up.restart();
    await until(() => states().at(-1) === '1r', 5000, 'state 1 again');
    expect(states()).toEqual(['0r', '1r', '0r', '1r']);
    expect(broker.metrics.gaugeSnapshot()['bridge.cloud.connected']).toBe(1);
  });
});

describe('bridge over TLS to mosquitto', () => {
  function makePki(): { dir: string; ca: string; otherCa: string; cert: string; key: string; clientCert: string; clientKey: string } {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-pki-'));
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const name of ['ca', 'other']) {
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=Test ${name} CA`, '-keyout', `${name}.key`, '-out', `${name}.pem`]);
    }
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem']);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=edge-client', '-keyout', 'client.key', '-out', 'client.csr']);
    run(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.pem']);
    return {
      dir,
      ca: join(dir, 'ca.pem'),
      otherCa: join(dir, 'other.pem'),
      cert: join(dir, 'server.pem'),
      key: join(dir, 'server.key'),
      clientCert: join(dir, 'client.pem'),
      clientKey: join(dir, 'client.key'),
    };
  }

  it('verifies the upstream against the configured CA; a wrong CA is refused with a clear log line', async () => {
    const pki = makePki();
    const up = await upstream({ listenerLines: [`cafile ${pki.ca}`, `certfile ${pki.cert}`, `keyfile ${pki.key}`] });
    const good = await edge({
      tls1: { servers: [`mqtts://127.0.0.1:${up.port}`], tls: { enable: true, ca_file: pki.ca, server_name: 'localhost' }, egress: [{ filter: 'secure/#' }], ...FAST },
    });
    await until(() => good.svc.status()[0]!.status === 'connected', 5000, 'TLS connection');
    const bad = await edge({ tls2: { servers: [`mqtts://127.0.0.1:${up.port}`], tls: { enable: true, ca_file: pki.otherCa }, ...FAST } });
    await until(() => bad.broker.logLines.some((l) => l.msg === 'bridge_connect_failed'), 5000, 'failure log line');
    const line = bad.broker.logLines.find((l) => l.msg === 'bridge_connect_failed')!;
    expect(String(line.reason)).toMatch(/TLS certificate verification failed .*not signed by the configured CA/);
    expect(bad.svc.status()[0]).toMatchObject({ status: expect.stringMatching(/disconnected|connecting/) });
    expect(bad.svc.status()[0]!.lastError).toMatch(/TLS certificate verification failed/);
    expect(bad.svc.status()[0]!.lastErrorCode).toBe('OUTPOST_ERR_BRIDGE_TLS_VERIFY');
    expect(line.code).toBe('OUTPOST_ERR_BRIDGE_TLS_VERIFY');
    // And the verified link carries data.
    const sub = await connectClient(`mqtts://127.0.0.1:${up.port}`, { clientId: 'tls-sub', ca: [readFileSync(pki.ca)], servername: 'localhost' });
    cleanups.push(() => sub.end(true));
    await sub.sub('secure/#', { qos: 1 });
    await good.broker.publishAcked(local('secure/a', 'ok'));
    const [m] = await sub.waitMessages(1);
    expect(m!.text).toBe('ok');
  });

  it('presents a client certificate when the upstream requires one', async () => {
    const pki = makePki();
    const up = await upstream({ listenerLines: [`cafile ${pki.ca}`, `certfile ${pki.cert}`, `keyfile ${pki.key}`, 'require_certificate true'] });
    const withCert = await edge({
      mtls: { servers: [`mqtts://127.0.0.1:${up.port}`], tls: { enable: true, ca_file: pki.ca, cert_file: pki.clientCert, key_file: pki.clientKey, server_name: 'localhost' }, ...FAST },
    });
    const without = await edge({ nocert: { servers: [`mqtts://127.0.0.1:${up.port}`], tls: { enable: true, ca_file: pki.ca, server_name: 'localhost' }, ...FAST } });
    await until(() => withCert.svc.status()[0]!.status === 'connected', 5000, 'mutual TLS connection');
    await until(() => without.broker.logLines.some((l) => l.msg === 'bridge_connect_failed'), 5000, 'refusal without a client certificate');
    expect(without.svc.status()[0]!.status).not.toBe('connected');
  });
});
