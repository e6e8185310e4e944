// No single input can block other clients' durability (issue 15). Two inputs found by fuzzing made a
// tick's commit fail for its own data, and the store retried that batch forever, so no later QoS 1
// PUBLISH to a persistent session was ever acknowledged. Whether the codec refuses these packets or
// the store isolates the bad write, a bystander's PUBACK must still come.
import { connect as tcpConnect, type Socket } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { packet, props, str, u16, u32 } from '../helpers/mqtt-wire.js';

/** MQTT 5 CONNECT, Clean Start 0, Session Expiry 3600; optionally a QoS 1 will with the given will properties. */
function connect5(clientId: string, will?: { topic: string; payload: string; props: Buffer }): Buffer {
  const flags = will ? 0x04 | 0x08 : 0x00;
  const vh = Buffer.concat([str('MQTT'), Buffer.from([5, flags]), u16(60), props(Buffer.concat([Buffer.from([0x11]), u32(3600)]))]);
  const payload = [str(clientId)];
  if (will) payload.push(props(will.props), str(will.topic), str(will.payload));
  return packet(0x10, Buffer.concat([vh, ...payload]));
}

async function rawSession(d: Daemon, first: Buffer): Promise<Socket> {
  const sock = tcpConnect(d.mqttPort, '127.0.0.1');
  const connack = new Promise<Buffer>((res, rej) => {
    sock.once('data', res);
    sock.once('error', rej);
    setTimeout(() => rej(new Error('no CONNACK')), 10_000).unref();
  });
  sock.write(first);
  const ack = await connack;
  expect(ack[0]).toBe(0x20);
  return sock;
}

/** A persistent subscriber that goes offline, and a publisher whose QoS 1 PUBLISH to it must be acknowledged. */
async function bystanderAcked(d: Daemon, tag: string): Promise<void> {
  const sub = await mqtt.connectAsync(d.mqttUrl, { clientId: `by-sub-${tag}`, clean: false, reconnectPeriod: 0 });
  await sub.subscribeAsync(`by/${tag}`, { qos: 1 });
  await sub.endAsync();
  const pub = await mqtt.connectAsync(d.mqttUrl, { clientId: `by-pub-${tag}`, reconnectPeriod: 0 });
  const acked = new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no PUBACK for the bystander (${tag})`)), 10_000);
    pub.publish(`by/${tag}`, 'x', { qos: 1 }, (err) => {
      clearTimeout(t);
      if (err) rej(err);
      else res();
    });
  });
  await acked;
  await pub.endAsync();
}

describe('a bad write does not stall the store', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon();
  });
  afterAll(async () => {
    await d.stop();
    d.cleanup();
  });

  it('a will with Message-Expiry-Interval twice, queued for a persistent session, blocks no later PUBACK', async () => {
    const sub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'will-sub', clean: false, reconnectPeriod: 0, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    await sub.subscribeAsync('will/t', { qos: 1 });
    await sub.endAsync();
    const willProps = Buffer.concat([Buffer.from([0x02]), u32(60), Buffer.from([0x02]), u32(120)]);
    let sock: Socket | undefined;
    try {
      sock = await rawSession(d, connect5('bad-will', { topic: 'will/t', payload: 'w', props: willProps }));
    } catch {
      // Refused at the codec (MQTT 5 2.2.2.2): equally fine; the bystander check below is what matters.
    }
    // Abnormal close: the will is published and queued for will-sub.
    sock?.destroy();
    await new Promise((r) => setTimeout(r, 200));
    await bystanderAcked(d, 'will');
    expect(d.logs()).not.toMatch(/store_write_failing|store_commit_failed/);
  }, 40_000);

  it('a SUBSCRIBE with two Subscription Identifiers from a persistent session blocks no later PUBACK', async () => {
    let sock: Socket | undefined;
    try {
      sock = await rawSession(d, connect5('bad-sub'));
      const subProps = Buffer.from([0x0b, 0x01, 0x0b, 0x02]);
      sock.write(packet(0x82, Buffer.concat([u16(7), props(subProps), str('s/t'), Buffer.from([0x01])])));
      await new Promise((r) => setTimeout(r, 200));
    } catch {
      // Refused at the codec: fine.
    }
    await bystanderAcked(d, 'sub');
    expect(d.logs()).not.toMatch(/store_write_failing|store_commit_failed/);
    sock?.destroy();
  }, 40_000);
});
