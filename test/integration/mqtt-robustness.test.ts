// Thousands of random and mutated packets over many connections: the daemon stays up and a
// well-behaved client keeps getting its messages throughout.
import { connect as netConnect, type Socket } from 'node:net';
import { generate, type Packet } from 'mqtt-packet';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

/** Deterministic PRNG so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

const SEEDS: Packet[] = [
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'fz', keepalive: 30, properties: { sessionExpiryInterval: 10, receiveMaximum: 10, userProperties: { a: 'b' } }, will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false, properties: { willDelayInterval: 1 } } },
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'fz4', keepalive: 30, username: 'u', password: Buffer.from('p') },
  { cmd: 'publish', topic: 'fuzz/a', payload: Buffer.from('hello'), qos: 1, retain: true, dup: false, messageId: 7, properties: { topicAlias: 3, userProperties: { k: 'v' }, messageExpiryInterval: 5 } },
  { cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'fuzz/#', qos: 2, nl: true, rap: true, rh: 1 }], properties: { subscriptionIdentifier: 4 } },
  { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['fuzz/#'] },
  { cmd: 'pubrel', messageId: 7 },
  { cmd: 'disconnect', reasonCode: 4, properties: { sessionExpiryInterval: 5 } },
];

function mutate(buf: Buffer, r: () => number): Buffer {
  const b = Buffer.from(buf);
  const kind = Math.floor(r() * 5);
  if (kind === 0) return b.subarray(0, Math.floor(r() * b.length)); // truncated
  if (kind === 1) {
    // bad remaining length
    b[1] = Math.floor(r() * 256);
    return b;
  }
  if (kind === 2) {
    // bad flags
    b[0] = (b[0]! & 0xf0) | Math.floor(r() * 16);
    return b;
  }
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256); // bit rot, incl. properties
  return b;
}

describe('robustness against malformed input', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ config: '[mqtt]\nidle_timeout = 2\n' });
  });
  afterAll(async () => {
    await d.stop();
    d.cleanup();
  });

  it('survives thousands of random and mutated packets while serving a good client', async () => {
    const good = await mqtt.connectAsync(d.mqttUrl, { clientId: 'good', protocolVersion: 5, reconnectPeriod: 0 });
    await good.subscribeAsync('good/t', { qos: 1 });
    let received = 0;
    good.on('message', () => received++);
    const goodPub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'good-pub', protocolVersion: 4, reconnectPeriod: 0 });

    const r = rng(20261122);
    const encoded = SEEDS.map((p) => generate(p, { protocolVersion: p.cmd === 'connect' ? (p.protocolVersion ?? 4) : 5 }));
    const CONNS = 200;
    const PER_CONN = 20;
    let sent = 0;
    const deadline = Date.now() + 20_000;
    for (let c = 0; c < CONNS && Date.now() < deadline; c++) {
      const sock: Socket = netConnect(d.mqttPort, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise<void>((res) => {
        sock.once('connect', () => res());
        sock.once('error', () => res());
        setTimeout(res, 1000);
      });
      const chunks: Buffer[] = [];
      // Half the connections start with a valid CONNECT so later packets reach the channel logic.
      if (c % 2 === 0) chunks.push(encoded[c % 4 === 0 ? 0 : 1]!);
      for (let i = 0; i < PER_CONN; i++) {
        if (r() < 0.2) chunks.push(Buffer.from(Array.from({ length: 1 + Math.floor(r() * 64) }, () => Math.floor(r() * 256))));
        else chunks.push(mutate(encoded[Math.floor(r() * encoded.length)]!, r));
      }
      sock.write(Buffer.concat(chunks));
      sent += PER_CONN;
      setTimeout(() => sock.destroy(), 50);
      if (c % 20 === 0) await goodPub.publishAsync('good/t', `ping-${c}`, { qos: 1 });
    }
    expect(sent).toBeGreaterThanOrEqual(2000);
    await goodPub.publishAsync('good/t', 'last', { qos: 1 });
    const until = Date.now() + 5000;
    while (received < Math.ceil(CONNS / 20) + 1 && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
    expect(received).toBe(Math.ceil(CONNS / 20) + 1);
    // The daemon is still up and accepting new clients.
    const late = await mqtt.connectAsync(d.mqttUrl, { clientId: 'late', reconnectPeriod: 0 });
    await late.endAsync();
    await good.endAsync();
    await goodPub.endAsync();
    expect(d.logs()).toMatch(/connection_closed_protocol_violation/);
    expect(d.logs()).not.toMatch(/uncaught_exception/);
  }, 40_000);
});
