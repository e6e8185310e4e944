// Shared subscriptions ($share/{group}/{filter} [MQTT-4.8.2], EMQX $queue/{filter}): each message goes
// to exactly one member of each group, by strategy (round_robin default; per-group overrides), and
// unacknowledged QoS 1 messages of a member that goes away are re-dispatched to another member.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
const open: TestClient[] = [];
const raws: RawClient[] = [];

const CONFIG = `[mqtt]
shared_subscription_strategy = "round_robin"
shared_subscription_group = { st = "sticky", hc = "hash_clientid", ht = "hash_topic", rnd = "random" }
exclusive_subscription = true
`;

beforeAll(async () => {
  d = await startDaemon({ config: CONFIG });
});

afterAll(async () => {
  for (const c of open) await c.end(true);
  for (const r of raws) r.destroy();
  await d?.stop();
  d?.cleanup();
});

async function client(version: 3 | 4 | 5 = 5, extra: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: uid(`sh${version}`), ...extra });
  open.push(c);
  return c;
}

async function members(n: number, filter: string, qos: 0 | 1 | 2 = 1): Promise<TestClient[]> {
  const out: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await client(i % 2 ? 4 : 5);
    await c.sub(filter, { qos });
    out.push(c);
  }
  return out;
}

/** Payloads each member got, for messages on topics under `prefix`. */
function shares(ms: TestClient[], prefix: string): string[][] {
  return ms.map((m) => m.msgs.filter((x) => x.topic.startsWith(prefix)).map((x) => x.text));
}

async function settle(ms: TestClient[], prefix: string, total: number): Promise<string[][]> {
  const deadline = Date.now() + 4000;
  while (shares(ms, prefix).flat().length < total && Date.now() < deadline) await sleep(20);
  await sleep(200);
  return shares(ms, prefix);
}

describe('shared subscriptions', () => {
  it('round_robin: every message to exactly one member, members alternate', async () => {
    const topic = `sh/rr/${uid('t')}`;
    const ms = await members(3, `$share/g1/${topic}`);
    const pub = await client(4);
    for (let i = 0; i < 30; i++) await pub.pub(topic, String(i), { qos: 1 });
    const got = await settle(ms, topic, 30);
    expect(got.flat().sort((a, b) => Number(a) - Number(b))).toEqual([...Array(30).keys()].map(String));
    expect(got.map((g) => g.length)).toEqual([10, 10, 10]);
    // Consecutive messages go to different members.
    const owner = new Map<string, number>();
    got.forEach((g, i) => g.forEach((p) => owner.set(p, i)));
    for (let i = 1; i < 30; i++) expect(owner.get(String(i))).not.toBe(owner.get(String(i - 1)));
  });

  it('$queue/t behaves as one shared group; plain subscribers and other groups still get every message', async () => {
    const topic = `sh/queue/${uid('t')}`;
    const q = await members(2, `$queue/${topic}`);
    const g2 = await members(2, `$share/other/${topic}`);
    const plain = await client();
    await plain.sub(topic, { qos: 1 });
    const pub = await client();
    for (let i = 0; i < 10; i++) await pub.pub(topic, String(i), { qos: 1 });
    const gq = await settle(q, topic, 10);
    const go = await settle(g2, topic, 10);
    expect(gq.flat()).toHaveLength(10);
    expect(new Set(gq.flat()).size).toBe(10);
    expect(gq.every((g) => g.length > 0)).toBe(true);
    expect(go.flat()).toHaveLength(10);
    expect(new Set(go.flat()).size).toBe(10);
    await plain.waitMessages(10, 2000);
    expect(plain.msgs).toHaveLength(10);
  });

  it('wildcard filters in a shared group, and messages keep the real topic', async () => {
    const base = `sh/wild/${uid('t')}`;
    const ms = await members(2, `$share/gw/${base}/+`);
    const pub = await client();
    await pub.pub(`${base}/a`, 'a', { qos: 1 });
    await pub.pub(`${base}/b`, 'b', { qos: 1 });
    await settle(ms, base, 2);
    const all = ms.flatMap((m) => m.msgs);
    expect(all.map((m) => m.topic).sort()).toEqual([`${base}/a`, `${base}/b`]);
  });

  it('hash_clientid: all messages of one publisher go to the same member', async () => {
    const topic = `sh/hc/${uid('t')}`;
    const ms = await members(3, `$share/hc/${topic}`);
    const pubs = [await client(), await client(4), await client()];
    for (let i = 0; i < 8; i++) for (const [k, p] of pubs.entries()) await p.pub(topic, `${k}:${i}`, { qos: 1 });
    const got = await settle(ms, topic, 24);
    expect(got.flat()).toHaveLength(24);
    for (let k = 0; k < 3; k++) {
      const holders = got.map((g, i) => (g.some((p) => p.startsWith(`${k}:`)) ? i : -1)).filter((i) => i >= 0);
      expect(holders).toHaveLength(1);
    }
  });

  it('hash_topic: all messages on one topic go to the same member', async () => {
    const base = `sh/ht/${uid('t')}`;
    const ms = await members(3, `$share/ht/${base}/+`);
    const pub = await client();
    for (let i = 0; i < 6; i++) for (const t of ['a', 'b', 'c', 'd']) await pub.pub(`${base}/${t}`, `${t}:${i}`, { qos: 1 });
    const got = await settle(ms, base, 24);
    for (const t of ['a', 'b', 'c', 'd']) {
      const holders = got.map((g, i) => (g.some((p) => p.startsWith(`${t}:`)) ? i : -1)).filter((i) => i >= 0);
      expect(holders).toHaveLength(1);
    }
  });

  it('sticky: one member gets everything until it leaves, then another one sticks', async () => {
    const topic = `sh/st/${uid('t')}`;
    const ms = await members(3, `$share/st/${topic}`);
    const pub = await client();
    for (let i = 0; i < 10; i++) await pub.pub(topic, `a${i}`, { qos: 1 });
    const got = await settle(ms, topic, 10);
    const first = got.findIndex((g) => g.length === 10);
    expect(first).toBeGreaterThanOrEqual(0);
    await ms[first]!.end();
    for (let i = 0; i < 10; i++) await pub.pub(topic, `b${i}`, { qos: 1 });
    const rest = ms.filter((_, i) => i !== first);
    await settle(rest, topic, 10);
    const second = shares(rest, topic).map((g) => g.filter((p) => p.startsWith('b')).length);
    expect(second.sort()).toEqual([0, 10]);
  });

  it('random: spreads over all members and delivers each message once', async () => {
    const topic = `sh/rnd/${uid('t')}`;
    const ms = await members(3, `$share/rnd/${topic}`, 0);
    const pub = await client();
    for (let i = 0; i < 60; i++) await pub.pub(topic, String(i), { qos: 1 });
    const got = await settle(ms, topic, 60);
    expect(got.flat()).toHaveLength(60);
    expect(new Set(got.flat()).size).toBe(60);
    // P(a member gets nothing) = 3 * (2/3)^60 < 1e-10
    expect(got.every((g) => g.length > 0)).toBe(true);
  });

  it('unsubscribing a member removes it from the group', async () => {
    const topic = `sh/unsub/${uid('t')}`;
    const [a, b] = await members(2, `$share/gu/${topic}`);
    await a!.c.unsubscribeAsync(`$share/gu/${topic}`);
    const pub = await client();
    for (let i = 0; i < 4; i++) await pub.pub(topic, String(i), { qos: 1 });
    await b!.waitMessages(4, 2000);
    expect(a!.msgs).toHaveLength(0);
  });

  it('re-dispatch: unacked QoS 1 messages of a clean-session member that disconnects go to another member', async () => {
    const topic = `sh/redispatch/${uid('t')}`;
    const slow = new RawClient(d.mqttPort, 4);
    raws.push(slow);
    await slow.connect({ clientId: uid('slow'), clean: true });
    expect(await slow.subscribe([{ topic: `$share/rd/${topic}`, qos: 1 }])).toEqual([1]);
    const good = await client(5);
    await good.sub(`$share/rd/${topic}`, { qos: 1 });
    const pub = await client();
    for (let i = 0; i < 6; i++) await pub.pub(topic, String(i), { qos: 1 });
    await sleep(300);
    const held = slow.publishes().map((p) => p.payload.toString());
    expect(held.length).toBeGreaterThan(0); // never acked
    expect(good.msgs.length + held.length).toBe(6);
    slow.destroy();
    await good.waitMessages(6, 3000);
    expect(good.msgs.map((m) => m.text).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  it('v5: No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]', async () => {
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    await r.connect({ clientId: uid('nlshare') });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/sh/nl', qos: 1, nl: true }] } as never);
    await r.waitClosed();
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x82);
  });

  it('a malformed share ($share/g without filter, $share//t) is refused with SUBACK 0x8F', async () => {
    const r = new RawClient(d.mqttPort, 5);
    raws.push(r);
    await r.connect({ clientId: uid('badshare') });
    expect(await r.subscribe([{ topic: '$share/g', qos: 1 }, { topic: '$share//t', qos: 1 }, { topic: '$share/g+/t', qos: 1 }])).toEqual([0x8f, 0x8f, 0x8f]);
  });

  it('$exclusive/t: only one subscriber at a time (second gets SUBACK 0x97); free again after unsubscribe', async () => {
    const topic = `sh/excl/${uid('t')}`;
    const a = new RawClient(d.mqttPort, 5);
    const b = new RawClient(d.mqttPort, 5);
    raws.push(a, b);
    await a.connect({ clientId: uid('ex-a') });
    await b.connect({ clientId: uid('ex-b') });
    expect(await a.subscribe([{ topic: `$exclusive/${topic}`, qos: 1 }])).toEqual([1]);
    expect(await b.subscribe([{ topic: `$exclusive/${topic}`, qos: 1 }])).toEqual([0x97]);
    const pub = await client();
    await pub.pub(topic, 'to-a', { qos: 0 });
    await a.next((p) => p.cmd === 'publish');
    a.send({ cmd: 'unsubscribe', messageId: 50, unsubscriptions: [`$exclusive/${topic}`] } as never);
    await a.next((p) => p.cmd === 'unsuback');
    expect(await b.subscribe([{ topic: `$exclusive/${topic}`, qos: 1 }])).toEqual([1]);
  });
});
