// Resource bounds under abuse (issue 15; README "Limits under abuse"): slowloris CONNECTs, half-open
// TCP, huge Remaining Length claims, subscription storms and topic-alias exhaustion each stay within
// a bound of daemon memory (VmRSS from /proc/PID/status) and file descriptors (/proc/PID/fd), while a
// bystander client's QoS 1 round trips are all answered.
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { startBystander } from '../../scripts/fuzz/lib/bystander.mjs';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

interface Bystander {
  stats: { sent: number; answered: number; failed: number };
  stop(): Promise<{ sent: number; answered: number; failed: number; connectedAtEnd: boolean }>;
}

const MB = 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

/** Peak RSS and fds of the daemon, sampled every 100 ms until stop(). */
function sampler(pid: number) {
  const peak = { rssKb: rssKb(pid), fds: fdCount(pid) };
  const t = setInterval(() => {
    try {
      peak.rssKb = Math.max(peak.rssKb, rssKb(pid));
      peak.fds = Math.max(peak.fds, fdCount(pid));
    } catch {
      /* the daemon exiting fails the test elsewhere */
    }
  }, 100);
  return { peak, stop: () => clearInterval(t) };
}

interface RawConn {
  socket: Socket;
  closed: boolean;
  closedAt: number;
  packets: Packet[];
}

function rawConnect(port: number, version = 4): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const c: RawConn = { socket, closed: false, closedAt: 0, packets: [] };
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on('packet', (p: Packet) => c.packets.push(p));
    parser.on('error', () => {});
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      c.closed = true;
      c.closedAt = Date.now();
    });
    socket.once('connect', () => resolve(c));
    socket.once('error', reject);
  });
}

const gen = (p: object, version = 4): Buffer => mqttPacket.generate(p as Packet, { protocolVersion: version });

async function connected(port: number, clientId: string, version = 4, properties?: object): Promise<RawConn> {
  const c = await rawConnect(port, version);
  c.socket.write(gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, clientId, keepalive: 60, properties }, version));
  await until(() => c.packets.some((p) => p.cmd === 'connack'), 10_000, 'CONNACK');
  return c;
}

/** The measured peaks, for the README's "Limits under abuse" table. */
function note(what: string, baseRss: number, peak: { rssKb: number; fds: number }, baseFds?: number): void {
  console.info(`[abuse] ${what}: RSS +${Math.round((peak.rssKb - baseRss) / 1024)} MB (peak ${Math.round(peak.rssKb / 1024)} MB)${baseFds === undefined ? '' : `, fds ${baseFds} -> peak ${peak.fds}`}`);
}

async function expectBystanderServed(by: Bystander): Promise<void> {
  const r = await by.stop();
  expect(r.sent).toBeGreaterThan(0);
  expect(r.failed).toBe(0);
  expect(r.answered).toBe(r.sent);
  expect(r.connectedAtEnd).toBe(true);
}

/** Let the daemon settle, then its fd count must come back to (about) the baseline. */
async function fdsBackTo(d: Daemon, base: number): Promise<void> {
  await until(() => fdCount(d.pid) <= base + 4, 10_000, `fds back to ${base} (now ${fdCount(d.pid)})`);
}

describe('MQTT under abuse (no max_subscriptions)', () => {
  let d: Daemon;
  beforeAll(async () => {
    // idle_timeout is the documented bound on a connection that has not completed CONNECT.
    d = await startDaemon({ config: '[mqtt]\nidle_timeout = 2\nmax_topic_alias = 1000\n[log]\nlevel = "warn"\n' });
  });
  afterAll(async () => {
    await d?.stop();
    d?.cleanup();
  });

  it('slowloris CONNECTs and half-open sockets are closed after idle_timeout; one fd each meanwhile', async () => {
    const by = (await startBystander(d.mqttPort, { id: 'by-slowloris' })) as Bystander;
    const baseFds = fdCount(d.pid);
    const baseRss = rssKb(d.pid);
    const s = sampler(d.pid);
    const connect5 = gen({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'slow-loris-client', keepalive: 60 });
    const N = 200;
    const trickling = await Promise.all(Array.from({ length: N }, () => rawConnect(d.mqttPort)));
    const halfOpen = await Promise.all(Array.from({ length: N }, () => rawConnect(d.mqttPort)));
    const opened = Date.now();
    // One byte of the CONNECT every 250 ms: never finished within idle_timeout (2 s).
    let k = 0;
    const drip = setInterval(() => {
      for (const c of trickling) if (!c.closed && k < connect5.length) c.socket.write(connect5.subarray(k, k + 1));
      k++;
    }, 250);
    try {
      await until(() => [...trickling, ...halfOpen].every((c) => c.closed), 20_000, 'server closes every slow socket');
    } finally {
      clearInterval(drip);
      s.stop();
    }
    // Data trickling in does not extend the deadline: closed no sooner than idle_timeout after connect.
    note('slowloris 200 + half-open 200', baseRss, s.peak, baseFds);
    for (const c of [...trickling, ...halfOpen]) expect(c.closedAt - opened).toBeGreaterThanOrEqual(1500);
    expect(k).toBeLessThan(connect5.length);
    expect(s.peak.fds).toBeLessThanOrEqual(baseFds + 2 * N + 16);
    expect(s.peak.rssKb - baseRss).toBeLessThan(48 * MB);
    await fdsBackTo(d, baseFds);
    await expectBystanderServed(by);
  }, 60_000);

  it('a huge Remaining Length claim is refused from the fixed header; a claim under max_packet_size buffers at most that', async () => {
    const by = (await startBystander(d.mqttPort, { id: 'by-huge' })) as Bystander;
    const baseFds = fdCount(d.pid);
    const baseRss = rssKb(d.pid);
    const s = sampler(d.pid);
    // 268,435,455 bytes claimed (the protocol maximum): over max_packet_size (1 MB), closed at once.
    const huge = await Promise.all(Array.from({ length: 50 }, () => rawConnect(d.mqttPort)));
    for (const c of huge) c.socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
    // A fifth length byte is malformed (MQTT 1.5.5).
    const fiveByte = await rawConnect(d.mqttPort);
    fiveByte.socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await until(() => huge.every((c) => c.closed) && fiveByte.closed, 10_000, 'huge claims closed');
    // 1,000,000 bytes claimed (under the 1 MiB default), 512 KiB sent, then silence: held until idle_timeout.
    const partial = await Promise.all(Array.from({ length: 10 }, () => rawConnect(d.mqttPort)));
    const header = Buffer.from([0x10, 0xc0, 0x84, 0x3d]); // Remaining Length 1,000,000
    for (const c of partial) c.socket.write(Buffer.concat([header, Buffer.alloc(512 * 1024, 0x61)]));
    await until(() => partial.every((c) => c.closed), 20_000, 'partial packets closed at idle_timeout');
    s.stop();
    note('huge claims 51 + 10 x 512 KiB of a 1,000,000-byte CONNECT', baseRss, s.peak, baseFds);
    // Bound: max_packet_size per connection still before CONNECT, plus copies while it is assembled.
    expect(s.peak.rssKb - baseRss).toBeLessThan(10 * 3 * MB + 32 * MB);
    expect(s.peak.fds).toBeLessThanOrEqual(baseFds + 61 + 16);
    await fdsBackTo(d, baseFds);
    await expectBystanderServed(by);
  }, 60_000);

  it('a subscription storm of 20,000 filters from one client is granted and costs bounded memory; its connection closes cleanly', async () => {
    const by = (await startBystander(d.mqttPort, { id: 'by-storm' })) as Bystander;
    const baseRss = rssKb(d.pid);
    const baseFds = fdCount(d.pid);
    const s = sampler(d.pid);
    const c = await connected(d.mqttPort, 'storm-1');
    const PER = 100;
    const PACKETS = 200;
    for (let i = 0; i < PACKETS; i++) {
      const subscriptions = Array.from({ length: PER }, (_, j) => ({ topic: `storm/${i}/${j}/+/x`, qos: 1 as const }));
      c.socket.write(gen({ cmd: 'subscribe', messageId: i + 1, subscriptions }));
      if (i % 20 === 19) await until(() => c.packets.filter((p) => p.cmd === 'suback').length >= i - 10, 20_000, 'SUBACKs keep up');
    }
    await until(() => c.packets.filter((p) => p.cmd === 'suback').length === PACKETS, 30_000, 'all SUBACKs');
    const granted = c.packets.flatMap((p) => (p.cmd === 'suback' ? (p.granted as number[]) : [])).filter((g) => g === 1).length;
    expect(granted).toBe(PER * PACKETS);
    s.stop();
    note('20,000 subscriptions, no limit', baseRss, s.peak, baseFds);
    const grown = s.peak.rssKb - baseRss;
    // Documented bound: about 1 KiB per subscription (20,000 -> well under 64 MB).
    expect(grown).toBeLessThan(64 * MB);
    c.socket.end(gen({ cmd: 'disconnect' }));
    await until(() => c.closed, 10_000, 'storm client closed');
    await fdsBackTo(d, baseFds);
    await expectBystanderServed(by);
  }, 90_000);

  it('topic-alias exhaustion: cycling 1,000 aliases through 20,000 topic names keeps at most max_topic_alias; alias 1,001 is refused', async () => {
    const by = (await startBystander(d.mqttPort, { id: 'by-alias' })) as Bystander;
    const baseRss = rssKb(d.pid);
    const s = sampler(d.pid);
    const c = await connected(d.mqttPort, 'alias-1', 5);
    const connack = c.packets.find((p) => p.cmd === 'connack') as { properties?: { topicAliasMaximum?: number } };
    expect(connack.properties?.topicAliasMaximum).toBe(1000);
    const pad = 'p'.repeat(400);
    for (let i = 0; i < 20_000; i++) {
      c.socket.write(gen({ cmd: 'publish', topic: `alias/${i}/${pad}`, payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { topicAlias: (i % 1000) + 1 } }, 5));
      if (i % 2000 === 1999) {
        // A QoS 1 PUBLISH through an alias set 1,000 messages ago proves the aliases still map and the client is read.
        const mid = (i + 1) / 2000;
        c.socket.write(gen({ cmd: 'publish', topic: '', payload: Buffer.from('x'), qos: 1, messageId: mid, retain: false, dup: false, properties: { topicAlias: 7 } }, 5));
        await until(() => c.packets.some((p) => p.cmd === 'puback' && p.messageId === mid), 20_000, `PUBACK ${mid}`);
      }
    }
    expect(c.closed).toBe(false);
    s.stop();
    note('20,000 PUBLISH cycling 1,000 aliases, 420-byte topics', baseRss, s.peak);
    // Bound: max_topic_alias names per connection (1,000 x ~420 bytes here), not one per message.
    expect(s.peak.rssKb - baseRss).toBeLessThan(48 * MB);
    // [MQTT-3.3.2-9] an alias above the Topic Alias Maximum the server sent is a protocol error (0x94).
    c.socket.write(gen({ cmd: 'publish', topic: 'alias/over', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { topicAlias: 1001 } }, 5));
    await until(() => c.closed, 10_000, 'closed after alias 1001');
    const disc = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
    expect(disc?.reasonCode).toBe(0x94);
    await expectBystanderServed(by);
  }, 90_000);
});

describe('MQTT under abuse (max_subscriptions = 1000)', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ config: '[mqtt]\nmax_subscriptions = 1000\n[log]\nlevel = "warn"\n' });
  });
  afterAll(async () => {
    await d?.stop();
    d?.cleanup();
  });

  it('a storm of 20,000 filters gets 1,000 granted and the rest 0x97 Quota Exceeded, with memory to match', async () => {
    const by = (await startBystander(d.mqttPort, { id: 'by-capped' })) as Bystander;
    const baseRss = rssKb(d.pid);
    const s = sampler(d.pid);
    const c = await connected(d.mqttPort, 'storm-capped', 5);
    const PACKETS = 200;
    for (let i = 0; i < PACKETS; i++) {
      const subscriptions = Array.from({ length: 100 }, (_, j) => ({ topic: `cap/${i}/${j}/+/x`, qos: 1 as const }));
      c.socket.write(gen({ cmd: 'subscribe', messageId: i + 1, subscriptions }, 5));
      if (i % 20 === 19) await until(() => c.packets.filter((p) => p.cmd === 'suback').length >= i - 10, 20_000, 'SUBACKs keep up');
    }
    await until(() => c.packets.filter((p) => p.cmd === 'suback').length === PACKETS, 30_000, 'all SUBACKs');
    s.stop();
    note('20,000 subscriptions, max_subscriptions 1000', baseRss, s.peak);
    const codes = c.packets.flatMap((p) => (p.cmd === 'suback' ? (p.granted as number[]) : []));
    expect(codes.filter((g) => g === 1).length).toBe(1000);
    expect(codes.filter((g) => g === 0x97).length).toBe(19_000);
    expect(s.peak.rssKb - baseRss).toBeLessThan(32 * MB);
    expect(c.closed).toBe(false);
    await expectBystanderServed(by);
  }, 90_000);
});
