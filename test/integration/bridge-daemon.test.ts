// The real daemon (dist/, test/helpers/daemon.ts) with bridges configured in its TOML file, against
// Debian's mosquitto as the upstream, and two daemons bridged to each other.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, until, type TestClient } from '../helpers/mqtt-clients.js';
import { audit } from '../helpers/sequence-audit.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(): Promise<Mosquitto> {
  const m = await startMosquitto();
  cleanups.push(() => m.cleanup());
  return m;
}

async function daemon(config: string): Promise<Daemon> {
  const d = await startDaemon({ config });
  cleanups.push(async () => {
    await d.stop();
    d.cleanup();
  });
  return d;
}

async function client(url: string, opts: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(url, opts);
  cleanups.push(() => c.end(true));
  return c;
}

function bridgeToml(name: string, port: number, extra = ''): string {
  return `
[bridges.${name}]
servers = ["127.0.0.1:${port}"]
reconnect = { min = 0.05, max = 0.3 }
${extra}
`;
}

/** Give daemon `d` a bridge back to `port` (loop_marker on) by rewriting its config and restarting it on the same port. */
async function writeBridge(d: Daemon, name: string, port: number): Promise<void> {
  const text = readFileSync(d.configPath, 'utf8').replace(/^port = 0$/m, `port = ${d.mqttPort}`);
  writeFileSync(d.configPath, text + bridgeToml(name, port, `proto_ver = "v5"\nloop_marker = true\negress = [{ filter = "ring/#" }]`));
  await d.restart();
}

async function parkSubscriber(up: Mosquitto, clientId: string, filter: string): Promise<void> {
  const s = await connectClient(`mqtt://127.0.0.1:${up.port}`, { clientId, clean: false });
  await s.sub(filter, { qos: 1 });
  await s.end();
}

/** Publish n QoS 1 messages with up to `window` unacknowledged at a time; resolves when all are acked. */
async function publishMany(c: TestClient, topic: string, n: number, window = 200, from = 0): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < from + n) {
      const i = next++;
      await c.pub(topic, String(i), { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

describe('bridges in the daemon', () => {
  it('upstream down: 10,000 QoS 1 acknowledged by the daemon arrive in order once the upstream starts', async () => {
    const up = await upstream();
    await parkSubscriber(up, 'cloud-d1', 'site1/#');
    await up.stop();
    const d = await daemon(bridgeToml('cloud', up.port, `egress = [{ filter = "data/#", topic = "site1/\${topic}" }]\nreplay = { inflight = 64 }`));
    // One publisher: MQTT keeps its publishes in order, so publish order = arrival order at the broker.
    const pub = await client(d.mqttUrl, { clientId: 'dev-1' });
    await publishMany(pub, 'data/t', 10_000, 1);
    const state = await client(d.mqttUrl, { clientId: 'state-watch' });
    await state.sub('$SYS/broker/connection/cloud/state', { qos: 1 });
    await state.waitMessages(1);
    expect(state.msgs.at(-1)!.text).toBe('0');
    await up.restart();
    const sub = await client(`mqtt://127.0.0.1:${up.port}`, { clientId: 'cloud-d1', clean: false });
    await sub.waitMessages(10_000, 30_000);
    const a = audit(sub.msgs.map((m) => Number(m.text)), 10_000);
    expect(a).toMatchObject({ missing: 0, disorder: 0 });
    expect(a.dups).toBeLessThanOrEqual(64);
    await until(() => state.msgs.at(-1)?.text === '1', 5000, 'state 1');
  }, 60_000);

  it('the daemon SIGKILLed during the outage: everything it acknowledged is delivered after restart', async () => {
    const up = await upstream();
    await parkSubscriber(up, 'cloud-d2', 'site1/#');
    await up.stop();
    const d = await daemon(bridgeToml('cloud', up.port, `egress = [{ filter = "data/#", topic = "site1/\${topic}" }]`));
    const pub = await client(d.mqttUrl, { clientId: 'dev-2' });
    await publishMany(pub, 'data/k', 5000, 1);
    await pub.end(true);
    await d.kill();
    await d.restart();
    await up.restart();
    const sub = await client(`mqtt://127.0.0.1:${up.port}`, { clientId: 'cloud-d2', clean: false });
    await sub.waitMessages(5000, 30_000);
    expect(audit(sub.msgs.map((m) => Number(m.text)), 5000)).toMatchObject({ missing: 0, disorder: 0 });
  }, 60_000);

  it('persistent ingress: what the upstream got while the daemon was stopped reaches a local persistent session', async () => {
    const up = await upstream();
    const d = await daemon(
      bridgeToml('cloud', up.port, `clientid = "edge-d3"\nclean_start = false\ningress = [{ filter = "cloud/cmd/#", strip_prefix = "cloud/", topic = "local/\${topic}" }]`),
    );
    const localSub = await connectClient(d.mqttUrl, { clientId: 'app-d3', clean: false });
    await localSub.sub('local/#', { qos: 1 });
    const cloud = await client(`mqtt://127.0.0.1:${up.port}`, { clientId: 'cloud-app-d3' });
    await sleep(300);
    await cloud.pub('cloud/cmd/live', 'L', { qos: 1 });
    await localSub.waitMessages(1, 5000);
    await localSub.end();
    await d.stop();
    for (let i = 0; i < 5; i++) await cloud.pub('cloud/cmd/offline', String(i), { qos: 1 });
    await d.restart();
    const again = await client(d.mqttUrl, { clientId: 'app-d3', clean: false });
    await again.waitMessages(5, 10_000);
    expect(again.msgs.map((m) => `${m.topic}=${m.text}`)).toEqual(['0', '1', '2', '3', '4'].map((i) => `local/cmd/offline=${i}`));
  }, 40_000);

  it('two daemons bridged both ways on overlapping filters: delivered once on each side, no loop', async () => {
    const b = await daemon('');
    const a = await daemon(
      bridgeToml('peer', b.mqttPort, `proto_ver = "v5"\nallow_loop = true\negress = [{ filter = "x/#" }]\ningress = [{ filter = "x/#", no_local = true }]`),
    );
    const onA = await client(a.mqttUrl, { clientId: 'on-a', protocolVersion: 5 });
    const onB = await client(b.mqttUrl, { clientId: 'on-b', protocolVersion: 5 });
    await onA.sub('x/#', { qos: 1 });
    await onB.sub('x/#', { qos: 1 });
    const state = await client(a.mqttUrl, { clientId: 'state-a' });
    await state.sub('$SYS/broker/connection/peer/state', { qos: 1 });
    await until(() => state.msgs.at(-1)?.text === '1', 5000, 'bridge up');
    await sleep(200);
    await onA.pub('x/from-a', 'a', { qos: 1, properties: { userProperties: { k: 'v' }, contentType: 'text/plain' } });
    await onB.pub('x/from-b', 'b', { qos: 1, properties: { userProperties: { k2: 'v2' }, contentType: 'application/json' } });
    await onA.waitMessages(2, 5000);
    await onB.waitMessages(2, 5000);
    await sleep(700);
    expect(onA.msgs.map((m) => m.topic).sort()).toEqual(['x/from-a', 'x/from-b']);
    expect(onB.msgs.map((m) => m.topic).sort()).toEqual(['x/from-a', 'x/from-b']);
    const fromA = onB.msgs.find((m) => m.topic === 'x/from-a')!;
    expect(fromA.packet.properties).toMatchObject({ userProperties: { k: 'v' }, contentType: 'text/plain' });
    const fromB = onA.msgs.find((m) => m.topic === 'x/from-b')!;
    expect(fromB.packet.properties).toMatchObject({ userProperties: { k2: 'v2' }, contentType: 'application/json' });
  }, 30_000);

  it('two daemons with a bridge each way and loop_marker: a ring ends instead of looping forever', async () => {
    const b = await daemon('[node]\nname = "node-b@127.0.0.1"\n');
    const a = await daemon(
      `[node]\nname = "node-a@127.0.0.1"\n` + bridgeToml('toB', b.mqttPort, `proto_ver = "v5"\nloop_marker = true\negress = [{ filter = "ring/#" }]`),
    );
    await writeBridge(b, 'toA', a.mqttPort);
    const onA = await client(a.mqttUrl, { clientId: 'ring-a', protocolVersion: 5 });
    const onB = await client(b.mqttUrl, { clientId: 'ring-b', protocolVersion: 5 });
    await onA.sub('ring/#', { qos: 1 });
    await onB.sub('ring/#', { qos: 1 });
    await sleep(300);
    await onA.pub('ring/1', 'r', { qos: 1 });
    await onB.waitMessages(1, 5000);
    await sleep(1000);
    const countA = onA.msgs.length;
    const countB = onB.msgs.length;
    await sleep(500);
    // Without the marker this ring never ends; with it each side holds at most the original and one echo.
    expect(onA.msgs.length).toBe(countA);
    expect(onB.msgs.length).toBe(countB);
    expect(countA).toBeLessThanOrEqual(2);
    expect(countB).toBe(1);
    expect(onB.msgs[0]!.packet.properties?.userProperties).toMatchObject({ 'outpost-path': 'node-a@127.0.0.1' });
  }, 30_000);
});

/** The broker's mqtt.flow_control.waits counter, from its next $SYS metrics publish (sys_msg_interval = 1). */
async function flowWaits(d: Daemon): Promise<number> {
  const c = await client(d.mqttUrl, { clientId: `sys-${Date.now()}-${Math.random()}` });
  await c.sub('$SYS/brokers/+/metrics/mqtt/flow_control/waits', { qos: 0 });
  await c.waitMessages(1, 3000);
  const n = Number(c.msgs.at(-1)!.text);
  await c.end(true);
  return n;
}

describe('publisher flow control through a bridge (mqtt.publisher_flow_control)', () => {
  // A rate-limited link is an uplink slower than the local publisher, deterministically.
  const slowLink = (port: number) =>
    `[sys_topics]\nsys_msg_interval = 1\n${bridgeToml('cloud', port, 'egress = [{ filter = "fc/#" }]\nreplay = { rate = 2000 }')}`;

  it('an uplink slower than its publisher holds the publisher instead of piling messages into the log; all arrive in order', async () => {
    const up = await upstream();
    const sub = await client(`mqtt://127.0.0.1:${up.port}`, { clientId: 'cloud-fc1' });
    await sub.sub('fc/#', { qos: 1 });
    const d = await daemon(slowLink(up.port));
    const pub = await client(d.mqttUrl, { clientId: 'dev-fc1' });
    // The link is up once a first message comes through.
    await pub.pub('fc/t', '0', { qos: 1 });
    await sub.waitMessages(1, 10_000);
    const t0 = Date.now();
    await publishMany(pub, 'fc/t', 4000, 200, 1);
    const took = Date.now() - t0;
    // Without flow control all 4,000 would be acknowledged as fast as they are logged; held to the
    // link's 2,000/s they take about two seconds.
    expect(took).toBeGreaterThan(1000);
    expect(await flowWaits(d)).toBeGreaterThan(0);
    await sub.waitMessages(4001, 20_000);
    expect(audit(sub.msgs.map((m) => Number(m.text)), 4001)).toMatchObject({ missing: 0, disorder: 0, dups: 0 });
  }, 60_000);

  it('what an outage left in the log holds nobody while it replays', async () => {
    const up = await upstream();
    await up.stop();
    const d = await daemon(slowLink(up.port));
    const pub = await client(d.mqttUrl, { clientId: 'dev-fc2' });
    // Offline: the log takes it all, nobody waits.
    await publishMany(pub, 'fc/t', 3000, 200);
    const before = await flowWaits(d);
    expect(before).toBe(0);
    await up.restart();
    const sub = await client(`mqtt://127.0.0.1:${up.port}`, { clientId: 'cloud-fc2' });
    await sub.sub('fc/#', { qos: 1 });
    // Replaying at 2,000/s takes more than a second; meanwhile the publisher carries on at its own pace.
    await until(() => sub.msgs.length > 0, 10_000, 'replay started');
    for (let i = 0; i < 10; i++) {
      await publishMany(pub, 'fc/live', 10, 10);
      await sleep(20);
    }
    expect(sub.msgs.length).toBeLessThan(3000);
    expect(await flowWaits(d)).toBe(0);
  }, 60_000);
});

