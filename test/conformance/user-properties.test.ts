// [MQTT-3.3.2-17] the server MUST send all User Properties unaltered when forwarding an Application
// Message; [MQTT-3.3.2-18] it MUST maintain their order, and a name may appear more than once.
// Every path a message takes: live fan-out, a persistent session's queue and the retained store
// across a daemon restart, a will, and a v5 bridge to another daemon in both directions.
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { sleep } from '../helpers/mqtt-clients.js';
import { connectFrame, packet, props, str, u16, u32, Wires, type Wire } from './wire.js';

const up = (k: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(k), str(v)]);
/** Interleaved repeats, a name that looks like an array index (an object would move it first), an empty value, non-ASCII. */
const PAIRS: [string, string][] = [['b', '1'], ['a', 'x'], ['b', '2'], ['7', 'seven'], ['a', ''], ['ü', 'ß'], ['b', '1']];
const UP_BYTES = Buffer.concat(PAIRS.map(([k, v]) => up(k, v)));

/** The User Properties of a v5 PUBLISH as received, in order (an independent reader: not the broker's code). */
function userPropsOf(frame: Buffer): [string, string][] {
  let off = 1;
  while (frame[off]! & 0x80) off++;
  off++;
  const qos = (frame[0]! >> 1) & 3;
  off += 2 + frame.readUInt16BE(off) + (qos > 0 ? 2 : 0);
  let len = 0;
  let mul = 1;
  for (;;) {
    const c = frame[off++]!;
    len += (c & 0x7f) * mul;
    mul *= 128;
    if ((c & 0x80) === 0) break;
  }
  const end = off + len;
  const out: [string, string][] = [];
  const s = (): string => {
    const l = frame.readUInt16BE(off);
    const v = frame.toString('utf8', off + 2, off + 2 + l);
    off += 2 + l;
    return v;
  };
  while (off < end) {
    const id = frame[off++]!;
    if (id === 0x01) off += 1;
    else if (id === 0x02) off += 4;
    else if (id === 0x23) off += 2;
    else if (id === 0x03 || id === 0x08 || id === 0x09) s();
    else if (id === 0x0b) while (frame[off++]! & 0x80);
    else if (id === 0x26) out.push([s(), s()]);
    else throw new Error(`unexpected property 0x${id.toString(16)}`);
  }
  return out;
}

const daemons: Daemon[] = [];
const wireSets: Wires[] = [];
afterAll(async () => {
  for (const w of wireSets) w.closeAll();
  for (const d of daemons.reverse()) {
    await d.stop();
    d.cleanup();
  }
});

async function daemon(config = ''): Promise<{ d: Daemon; wires: Wires }> {
  const d = await startDaemon({ config });
  daemons.push(d);
  const wires = new Wires(() => d.mqttPort);
  wireSets.push(wires);
  return { d, wires };
}

async function subscribe(w: Wire, filter: string, qos = 1): Promise<void> {
  await w.send(packet(0x82, u16(1), props(), str(filter), [qos]));
  const ack = await w.nextOf(0x90);
  expect(ack?.at(-1)).toBe(qos);
}

const shared = daemon();

describe('User Properties are forwarded unaltered and in order', () => {
  it('[MQTT-3.3.2-17] [MQTT-3.3.2-18] live QoS 0 and QoS 1 deliveries carry the pairs byte for byte, repeats interleaved', async () => {
    const { wires } = await shared;
    const sub = await wires.connected(5);
    await subscribe(sub, 'up/live');
    const pub = await wires.connected(5);
    const q0 = packet(0x30, str('up/live'), props(UP_BYTES), Buffer.from('zero'));
    await pub.send(q0, packet(0x32, str('up/live'), u16(9), props([0x03], str('text/plain'), UP_BYTES), Buffer.from('one')));
    expect((await pub.nextOf(0x40))?.readUInt16BE(2)).toBe(9);
    const a = await sub.nextOf(0x30);
    expect(a?.toString('hex')).toBe(q0.toString('hex'));
    const b = await sub.nextOf(0x32);
    expect(userPropsOf(b!)).toEqual(PAIRS);
  });

  it('[MQTT-3.3.2-17] [MQTT-3.3.2-18] the will message carries its User Properties in order', async () => {
    const { wires } = await shared;
    const sub = await wires.connected(5);
    await subscribe(sub, 'up/will');
    const w = wires.open();
    // flags: will 0x04 + clean start 0x02; will props: delay 0 absent, content type, then the pairs
    await w.send(connectFrame({ flags: 0x06, rest: [props([0x03], str('c/t'), UP_BYTES), str('up/will'), str('bye')] }));
    expect((await w.next())?.toString('hex')).toMatch(/^20..0000/);
    w.destroy();
    const got = await sub.nextOf(0x30, 5000);
    expect(got).not.toBeNull();
    expect(userPropsOf(got!)).toEqual(PAIRS);
  });

  it('[MQTT-3.3.2-17] [MQTT-3.3.2-18] a persistent session queue and a retained message keep the order across a daemon restart', async () => {
    const { d, wires } = await daemon();
    const offline = wires.open();
    // clean start 0, Session Expiry Interval 300
    await offline.send(connectFrame({ clientId: 'up-keeper', flags: 0x00, properties: props([0x11], u32(300)) }));
    expect((await offline.next())?.[3]).toBe(0);
    await subscribe(offline, 'up/kept');
    offline.destroy();
    await sleep(100);
    const pub = await wires.connected(5);
    await pub.send(packet(0x33, str('up/kept'), u16(3), props(UP_BYTES), Buffer.from('kept')));
    expect((await pub.nextOf(0x40))?.readUInt16BE(2)).toBe(3);
    await d.restart();
    const back = new Wires(() => d.mqttPort);
    wireSets.push(back);
    const again = back.open();
    await again.send(connectFrame({ clientId: 'up-keeper', flags: 0x00, properties: props([0x11], u32(300)) }));
    const ack = await again.next();
    expect(ack?.[2]).toBe(1); // session present
    const queued = await again.nextOf(0x32, 5000);
    expect(queued).not.toBeNull();
    expect(userPropsOf(queued!)).toEqual(PAIRS);
    const late = await back.connected(5);
    await subscribe(late, 'up/kept');
    const retained = await late.nextOf(0x33, 5000);
    expect(retained).not.toBeNull();
    expect(userPropsOf(retained!)).toEqual(PAIRS);
  }, 30_000);

  it('[MQTT-3.3.2-17] [MQTT-3.3.2-18] through a v5 bridge to another daemon, both ways', async () => {
    const { d: remote, wires: rw } = await shared;
    const { wires: lw } = await daemon(`
[bridges.peer]
servers = ["127.0.0.1:${remote.mqttPort}"]
proto_ver = "v5"
reconnect = { min = 0.05, max = 0.3 }
egress = [{ filter = "bup/#" }]
ingress = [{ filter = "bdown/#" }]
`);
    const remoteSub = await rw.connected(5);
    await subscribe(remoteSub, 'bup/#');
    const localSub = await lw.connected(5);
    await subscribe(localSub, 'bdown/#');
    const localPub = await lw.connected(5);
    const remotePub = await rw.connected(5);
    // The bridge subscribes once it is connected: send until the first message crosses.
    let down: Buffer | null = null;
    for (let i = 0; i < 30 && down === null; i++) {
      await remotePub.send(packet(0x32, str('bdown/t'), u16(i + 1), props(UP_BYTES), Buffer.from('d')));
      down = await localSub.nextOf(0x32, 300);
    }
    expect(down).not.toBeNull();
    expect(userPropsOf(down!)).toEqual(PAIRS);
    await localPub.send(packet(0x32, str('bup/t'), u16(1), props(UP_BYTES), Buffer.from('u')));
    const upMsg = await remoteSub.nextOf(0x32, 5000);
    expect(upMsg).not.toBeNull();
    expect(userPropsOf(upMsg!)).toEqual(PAIRS);
  }, 30_000);

  it('[MQTT-3.3.2-17] [MQTT-3.3.2-18] held in the bridge log while the upstream is down, across a restart of both daemons', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const { d: remote, wires: rw } = await daemon(`[mqtt]\nport = ${port}\n`);
    const parked = rw.open();
    await parked.send(connectFrame({ clientId: 'up-cloud', flags: 0x00, properties: props([0x11], u32(300)) }));
    expect((await parked.next())?.[3]).toBe(0);
    await subscribe(parked, 'held/#');
    parked.destroy();
    await sleep(100);
    await remote.stop();
    const { d: local, wires: lw } = await daemon(`
[bridges.cloud]
servers = ["127.0.0.1:${port}"]
proto_ver = "v5"
reconnect = { min = 0.05, max = 0.3 }
egress = [{ filter = "held/#" }]
`);
    const pub = await lw.connected(5);
    await pub.send(packet(0x32, str('held/t'), u16(4), props(UP_BYTES), Buffer.from('h')));
    expect((await pub.nextOf(0x40))?.readUInt16BE(2)).toBe(4);
    await local.restart();
    await remote.restart();
    const back = new Wires(() => remote.mqttPort);
    wireSets.push(back);
    const cloud = back.open();
    await cloud.send(connectFrame({ clientId: 'up-cloud', flags: 0x00, properties: props([0x11], u32(300)) }));
    expect((await cloud.next())?.[2]).toBe(1);
    const got = await cloud.nextOf(0x32, 10_000);
    expect(got).not.toBeNull();
    expect(userPropsOf(got!)).toEqual(PAIRS);
  }, 40_000);
});
