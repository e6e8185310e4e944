// Topic matching [MQTT-4.7]: + and #, '$' topics not matched by leading wildcards [MQTT-4.7.2-1];
// $SYS client events with EMQX's JSON fields; $delayed publish; topic rewrite rules; interop with
// Debian's mosquitto_pub / mosquitto_sub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, spawnTool, uid, until, withTimeout, type Spawned, type TestClient, reasonOf } from '../helpers/mqtt-clients.js';

let d: Daemon;
const open: TestClient[] = [];
const tools: Spawned[] = [];

const CONFIG = `[node]
name = "edge1@127.0.0.1"

[sys_topics]
sys_msg_interval = 1
sys_heartbeat_interval = 1
client_subscribed = true
client_unsubscribed = true

[[rewrite]]
action = "publish"
source_topic = "x/#"
re = "^x/y/(.+)$"
dest_topic = "z/y/$1"

[[rewrite]]
action = "publish"
source_topic = "x/other"
re = "^x/other$"
dest_topic = "never/here"

[[rewrite]]
action = "subscribe"
source_topic = "y/+/z/#"
re = "^y/(.+)/z/(.+)$"
dest_topic = "y/z/$2"

[[rewrite]]
action = "all"
source_topic = "mine/#"
re = "^mine/(.+)$"
dest_topic = "clients/\${clientid}/$1"
`;

beforeAll(async () => {
  d = await startDaemon({ config: CONFIG });
});

afterAll(async () => {
  for (const t of tools) await t.kill();
  for (const c of open) await c.end(true);
  await d?.stop();
  d?.cleanup();
});

async function client(version: 3 | 4 | 5 = 5, extra: Parameters<typeof connectClient>[1] = {}): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { protocolVersion: version, clientId: uid(`tp${version}`), ...extra });
  open.push(c);
  return c;
}

describe('wildcards', () => {
  it('+ matches exactly one level (including an empty one), # matches the parent and every level below', async () => {
    const base = `w/${uid('b')}`;
    const plus = await client();
    await plus.sub(`${base}/+/x`, { qos: 1 });
    const hash = await client();
    await hash.sub(`${base}/a/#`, { qos: 1 });
    const pub = await client(4);
    const topics = [`${base}/a/x`, `${base}//x`, `${base}/a/b/x`, `${base}/a`, `${base}/a/b/c/d`, `${base}/b/y`];
    for (const t of topics) await pub.pub(t, t, { qos: 1 });
    await sleep(300);
    expect(plus.msgs.map((m) => m.topic).sort()).toEqual([`${base}//x`, `${base}/a/x`].sort());
    expect(hash.msgs.map((m) => m.topic).sort()).toEqual([`${base}/a`, `${base}/a/b/c/d`, `${base}/a/b/x`, `${base}/a/x`].sort());
  });

  it('overlapping subscriptions give one delivery at the highest granted QoS [MQTT-3.3.4-2]', async () => {
    const base = `w/${uid('o')}`;
    const c = await client(4);
    await c.sub(`${base}/#`, { qos: 0 });
    await c.sub(`${base}/+`, { qos: 2 });
    await c.sub(`${base}/t`, { qos: 1 });
    const pub = await client();
    await pub.pub(`${base}/t`, 'once', { qos: 2 });
    await c.waitMessages(1, 2000);
    await sleep(300);
    expect(c.msgs).toHaveLength(1);
    expect(c.msgs[0]!.packet.qos).toBe(2);
  });

  it('$-topics are not matched by # or +/..., only by filters that start with $ [MQTT-4.7.2-1]', async () => {
    const all = await client();
    await all.sub('#', { qos: 0 });
    const plus = await client();
    await plus.sub('+/dollar/#', { qos: 0 });
    const explicit = await client();
    await explicit.sub('$app/dollar/#', { qos: 0 });
    const pub = await client();
    await pub.pub('$app/dollar/t', 'dollar', { qos: 1 });
    await explicit.waitMessages(1, 2000);
    await sleep(300);
    expect(all.msgs.filter((m) => m.topic.startsWith('$'))).toHaveLength(0);
    expect(plus.msgs).toHaveLength(0);
  });
});

describe('$SYS client events', () => {
  it('connected and disconnected JSON carry the EMQX fields', async () => {
    const watch = await client(5);
    const id = uid('sysev');
    await watch.sub(`$SYS/brokers/+/clients/${id}/+`, { qos: 0 });
    const c = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: id, username: 'alice', keepalive: 42, clean: true });
    const [con] = await watch.waitMessages(1, 2000, (m) => m.topic.endsWith('/connected'));
    expect(con!.topic).toBe(`$SYS/brokers/edge1@127.0.0.1/clients/${id}/connected`);
    expect(con!.packet.qos).toBe(0);
    const cj = JSON.parse(con!.text) as Record<string, unknown>;
    expect(Object.keys(cj).sort()).toEqual(
      ['clientid', 'username', 'ipaddress', 'sockport', 'protocol', 'proto_name', 'proto_ver', 'connected_at', 'ts', 'keepalive', 'clean_start', 'expiry_interval'].sort(),
    );
    expect(cj).toMatchObject({ clientid: id, username: 'alice', ipaddress: '127.0.0.1', sockport: d.mqttPort, protocol: 'mqtt', proto_name: 'MQTT', proto_ver: 4, keepalive: 42, clean_start: true, expiry_interval: 0 });
    expect(typeof cj.connected_at).toBe('number');
    expect(Math.abs((cj.ts as number) - Date.now())).toBeLessThan(10_000);
    await c.end();
    const [dis] = await watch.waitMessages(1, 2000, (m) => m.topic.endsWith('/disconnected'));
    const dj = JSON.parse(dis!.text) as Record<string, unknown>;
    expect(dj).toMatchObject({ clientid: id, username: 'alice', ipaddress: '127.0.0.1', protocol: 'mqtt', proto_ver: 4, reason: 'normal' });
    for (const k of ['sockport', 'proto_name', 'connected_at', 'ts', 'disconnected_at']) expect(dj).toHaveProperty(k);
  });

  it('disconnected reason is tcp_closed for a dropped socket and takenover/discarded at takeover; v3.1 reports MQIsdp/3', async () => {
    const watch = await client(5);
    const id = uid('sysr');
    await watch.sub(`$SYS/brokers/+/clients/${id}/disconnected`, { qos: 0 });
    const a = await connectClient(d.mqttUrl, { protocolVersion: 3, clientId: id });
    a.c.stream.destroy();
    const [e1] = await watch.waitMessages(1, 2000);
    const j1 = JSON.parse(e1!.text) as Record<string, unknown>;
    expect(j1.reason).toBe('tcp_closed');
    expect(j1.proto_name).toBe('MQIsdp');
    expect(j1.proto_ver).toBe(3);
    const b = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, properties: { sessionExpiryInterval: 60 } });
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    const d2 = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: true });
    open.push(d2);
    await watch.waitMessages(3, 2000);
    expect(watch.msgs.slice(1, 3).map((m) => (JSON.parse(m.text) as { reason: string }).reason)).toEqual(['takenover', 'discarded']);
    await a.end(true);
    await b.end(true);
    await c.end(true);
  });

  it('$SYS/brokers is retained with the node name, version is published', async () => {
    const c = await client(4);
    await c.sub('$SYS/brokers', { qos: 0 });
    const [m] = await c.waitMessages(1, 2000);
    expect(m!.text).toContain('edge1@127.0.0.1');
    expect(m!.packet.retain).toBe(true);
    await c.sub('$SYS/brokers/edge1@127.0.0.1/version', { qos: 0 });
    const [v] = await c.waitMessages(2, 2000);
    expect(v).toBeDefined();
    expect(c.msgs[1]!.text).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('$SYS ticks and subscription events', () => {
  it('stats and metrics are published every sys_msg_interval, uptime and datetime every heartbeat', async () => {
    const c = await client(4);
    await c.sub('$SYS/brokers/edge1@127.0.0.1/#', { qos: 0 });
    await c.waitMessages(1, 2500, (m) => m.topic.endsWith('/stats/connections/count'));
    await c.waitMessages(1, 2500, (m) => m.topic.endsWith('/metrics/messages/received'));
    await c.waitMessages(1, 2500, (m) => m.topic.endsWith('/uptime'));
    const [dt] = await c.waitMessages(1, 2500, (m) => m.topic.endsWith('/datetime'));
    expect(Number.isNaN(Date.parse(dt!.text))).toBe(false);
    const conns = c.msgs.find((m) => m.topic.endsWith('/stats/connections/count'))!;
    expect(Number(conns.text)).toBeGreaterThanOrEqual(1);
    expect(conns.packet.qos).toBe(0);
  });

  it('subscribed / unsubscribed events carry topic and subopts', async () => {
    const watch = await client(5);
    const id = uid('subev');
    await watch.sub(`$SYS/brokers/+/clients/${id}/+`, { qos: 0 });
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id });
    await c.sub('ev/t', { qos: 1, nl: true, rh: 1 });
    await c.c.unsubscribeAsync('ev/t');
    const [se] = await watch.waitMessages(1, 2000, (m) => m.topic.endsWith('/subscribed'));
    const sj = JSON.parse(se!.text) as { clientid: string; topic: string; subopts: Record<string, unknown> };
    expect(sj.clientid).toBe(id);
    expect(sj.topic).toBe('ev/t');
    expect(sj.subopts).toMatchObject({ qos: 1, nl: 1, rap: 0, rh: 1, is_new: true });
    const [ue] = await watch.waitMessages(1, 2000, (m) => m.topic.endsWith('/unsubscribed'));
    expect(JSON.parse(ue!.text)).toMatchObject({ clientid: id, topic: 'ev/t' });
    await c.end();
  });
});

describe('delayed publish', () => {
  it('$delayed/1/t arrives on t about 1 s later, without the prefix', async () => {
    const base = `delay/${uid('t')}`;
    const s = await client();
    await s.sub(`${base}`, { qos: 1 });
    const pub = await client(4);
    const t0 = Date.now();
    await pub.pub(`$delayed/1/${base}`, 'later', { qos: 1 });
    await sleep(500);
    expect(s.msgs).toHaveLength(0);
    const [m] = await s.waitMessages(1, 3000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(2500);
    expect(m!.topic).toBe(base);
    expect(m!.text).toBe('later');
  });

  it('$delayed/abc/t (not a number) is dropped', async () => {
    const base = `delay/${uid('bad')}`;
    const s = await client();
    await s.sub(`${base}`, { qos: 1 });
    const raw = await client(4);
    await raw.pub(`$delayed/abc/${base}`, 'never', { qos: 0 });
    await sleep(600);
    expect(s.msgs).toHaveLength(0);
  });
});

describe('delayed publish across a restart', () => {
  it('a pending $delayed message is still delivered after the daemon restarts (EMQX keeps them in its table)', async () => {
    const x = await startDaemon();
    try {
      const id = uid('dsub');
      const topic = `delay/restart/${uid('t')}`;
      const s1 = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      await s1.sub(topic, { qos: 1 });
      await s1.end();
      const p = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: uid('p') });
      await p.pub(`$delayed/2/${topic}`, 'survives', { qos: 1 });
      await p.end();
      await x.restart();
      const s2 = await connectClient(x.mqttUrl, { protocolVersion: 4, clientId: id, clean: false });
      const [m] = await s2.waitMessages(1, 4000);
      expect(m!.text).toBe('survives');
      await s2.end();
    } finally {
      await x.stop();
      x.cleanup();
    }
  });
});

describe('topic rewrite', () => {
  it('a publish rule rewrites x/y/1 to z/y/1', async () => {
    const to = await client();
    await to.sub('z/y/#', { qos: 1 });
    const from = await client();
    await from.sub('x/y/#', { qos: 1 });
    const pub = await client(4);
    await pub.pub('x/y/1', 'rw', { qos: 1 });
    const [m] = await to.waitMessages(1, 2000);
    expect(m!.topic).toBe('z/y/1');
    await sleep(200);
    expect(from.msgs).toHaveLength(0);
  });

  it('the first rule whose source matches decides: no fall-through when its regex does not match', async () => {
    const never = await client();
    await never.sub('never/here', { qos: 1 });
    const plain = await client();
    await plain.sub('x/other', { qos: 1 });
    const pub = await client();
    await pub.pub('x/other', 'unchanged', { qos: 1 });
    const [m] = await plain.waitMessages(1, 2000);
    expect(m!.topic).toBe('x/other');
    await sleep(200);
    expect(never.msgs).toHaveLength(0);
  });

  it('a subscribe rule rewrites the filter: y/a/z/b subscribes to y/z/b', async () => {
    const s = await client();
    await s.sub('y/a/z/b', { qos: 1 });
    const pub = await client();
    await pub.pub('y/z/b', 'via-rewrite', { qos: 1 });
    await pub.pub('y/a/z/b', 'original', { qos: 1 });
    await s.waitMessages(1, 2000);
    await sleep(200);
    expect(s.msgs.map((m) => m.text)).toEqual(['via-rewrite']);
  });
});

describe('topic rewrite on unsubscribe and with placeholders', () => {
  it('UNSUBSCRIBE with the original filter removes the rewritten subscription', async () => {
    const s = await client();
    await s.sub('y/b/z/c', { qos: 1 });
    const pub = await client();
    await pub.pub('y/z/c', 'one', { qos: 1 });
    await s.waitMessages(1, 2000);
    const r = await s.c.unsubscribeAsync('y/b/z/c');
    expect(reasonOf(r)).toBe(0);
    await pub.pub('y/z/c', 'two', { qos: 1 });
    await sleep(300);
    expect(s.msgs.map((m) => m.text)).toEqual(['one']);
  });

  it('action "all" with ${clientid}: publish and subscribe land on clients/<id>/…', async () => {
    const id = uid('rwid');
    const c = await client(5, { clientId: id });
    await c.sub('mine/inbox', { qos: 1 }); // becomes clients/<id>/inbox
    const watch = await client();
    await watch.sub(`clients/${id}/#`, { qos: 1 });
    await c.pub('mine/outbox', 'hello', { qos: 1 }); // becomes clients/<id>/outbox
    const [m] = await watch.waitMessages(1, 2000);
    expect(m!.topic).toBe(`clients/${id}/outbox`);
    await watch.pub(`clients/${id}/inbox`, 'for-you', { qos: 1 });
    await c.waitMessages(1, 2000, (x) => x.text === 'for-you');
  });
});

describe.concurrent('mosquitto_pub / mosquitto_sub interop', () => {
  for (const [ver, flag] of [
    [5, 'mqttv5'],
    [4, 'mqttv311'],
    [3, 'mqttv31'],
  ] as const) {
    it(`${flag}: mosquitto_sub receives QoS 2 from MQTT.js; MQTT.js receives QoS 1 from mosquitto_pub`, async () => {
      const topic = `mosq/${ver}/${uid('t')}`;
      // -d prints 'received SUBACK' once the subscription exists, so nothing is published too early.
      const sub = spawnTool('mosquitto_sub', ['-d', '-h', '127.0.0.1', '-p', String(d.mqttPort), '-V', flag, '-q', '2', '-t', topic, '-C', '2', '-v', '-i', uid('msub').slice(0, 22)]);
      tools.push(sub);
      const watcher = await client(5);
      await watcher.sub(topic, { qos: 1 });
      const pub = await client(ver);
      await until(() => sub.out().includes('received SUBACK'), 3000, 'mosquitto_sub SUBACK');
      await pub.pub(topic, 'from-mqttjs', { qos: 2 });
      await watcher.waitMessages(1, 2000);
      const mp = spawnTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(d.mqttPort), '-V', flag, '-q', '1', '-t', topic, '-m', 'from-mosquitto', '-i', uid('mpub').slice(0, 22)]);
      tools.push(mp);
      const code = await mp.exited;
      expect(code).toBe(0);
      await withTimeout(sub.exited, 4000, 'mosquitto_sub to exit after 2 messages');
      const lines = sub.out().split('\n').filter((l) => l.startsWith(`${topic} `));
      expect(lines).toEqual([`${topic} from-mqttjs`, `${topic} from-mosquitto`]);
      // mosquitto_sub -d logs the QoS of each PUBLISH it receives (q2 for the QoS 2 one).
      expect(sub.out()).toMatch(/received PUBLISH \(d0, q2/);
      const m = (await watcher.waitMessages(2, 2000))[1];
      expect(m!.text).toBe('from-mosquitto');
      expect(m!.packet.qos).toBe(1);
    });
  }

  it('mosquitto_pub -r sets a retained message that mosquitto_sub receives; -r -n clears it', async () => {
    const topic = `mosq/ret/${uid('t')}`;
    const set = spawnTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(d.mqttPort), '-q', '1', '-r', '-t', topic, '-m', 'kept']);
    tools.push(set);
    expect(await set.exited).toBe(0);
    const sub = spawnTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(d.mqttPort), '-t', topic, '-C', '1', '-W', '3']);
    tools.push(sub);
    expect(await sub.exited).toBe(0);
    expect(sub.out().trim()).toBe('kept');
    const clear = spawnTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(d.mqttPort), '-q', '1', '-r', '-n', '-t', topic]);
    tools.push(clear);
    expect(await clear.exited).toBe(0);
    const c = await client(4);
    await c.sub(topic, { qos: 1 });
    await sleep(400);
    expect(c.msgs).toHaveLength(0);
  });
});
