// Bad input on one connection closes that connection (v5: DISCONNECT with a reason code), writes a
// log line naming the cause, and leaves every other client alone (DESIGN.md "Standards";
// MQTT 5 §4.13, [MQTT-1.5.4-1], [MQTT-3.1.0-2], [MQTT-3.3.2-2]).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, RawClient, sleep, uid, until, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let bystander: TestClient;
let sender: TestClient;
const raws: RawClient[] = [];
let seqNo = 0;

beforeAll(async () => {
  d = await startDaemon();
  bystander = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('bystander') });
  await bystander.sub('bad/bystander', { qos: 1 });
  sender = await connectClient(d.mqttUrl, { protocolVersion: 4, clientId: uid('sender') });
});

afterAll(async () => {
  await bystander?.end(true);
  await sender?.end(true);
  for (const r of raws) r.destroy();
  await d?.stop();
  d?.cleanup();
});

function raw(version: 3 | 4 | 5): RawClient {
  const r = new RawClient(d.mqttPort, version);
  raws.push(r);
  return r;
}

/** The bystander still gets messages on its long-lived connection. */
async function othersUnaffected(): Promise<void> {
  const n = ++seqNo;
  await sender.pub('bad/bystander', `still-alive-${n}`, { qos: 1 });
  await bystander.waitMessages(1, 2000, (m) => m.text === `still-alive-${n}`);
  expect(bystander.c.connected).toBe(true);
}

/** Log lines written after `mark` (so a test only sees its own cause). */
async function logLine(mark: number, re: RegExp): Promise<string> {
  let line = '';
  await until(
    () => {
      line = d.logs().slice(mark).split('\n').find((l) => re.test(l)) ?? '';
      return line !== '';
    },
    2000,
    `log line ${re}`,
  );
  return line;
}

/** PUBLISH QoS 0 with a raw topic (bytes as given), payload 'x'; v5 adds an empty property block. */
function rawPublish(topic: Buffer, version: 3 | 4 | 5 = 4): Buffer {
  const props = version === 5 ? Buffer.from([0]) : Buffer.alloc(0);
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, props, Buffer.from('x')]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('bad input closes only the offending connection', () => {
  it('a second CONNECT (v5): DISCONNECT 0x82 Protocol Error, log line, others fine', async () => {
    const mark = d.logs().length;
    const r = raw(5);
    await r.connect({ clientId: uid('twice') });
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'again' } as never);
    await r.waitClosed();
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x82);
    expect(await logLine(mark, /second CONNECT/)).toMatch(/protocol_error/);
    await othersUnaffected();
  });

  it('a second CONNECT (v3.1.1): connection closed', async () => {
    const r = raw(4);
    await r.connect({ clientId: uid('twice4') });
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'again4' } as never);
    await r.waitClosed();
    await othersUnaffected();
  });

  for (const version of [4, 5] as const) {
    it(`invalid UTF-8 in a PUBLISH topic (v${version}): connection closed, log line, nothing delivered [MQTT-1.5.4-1]`, async () => {
      const watcher = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('w8') });
      await watcher.sub('#', { qos: 0 });
      const mark = d.logs().length;
      const r = raw(version);
      await r.connect({ clientId: uid('utf8') });
      // 0xC3 0x28 is an ill-formed two-byte sequence.
      r.sendBytes(rawPublish(Buffer.from([0x62, 0x61, 0x64, 0x2f, 0xc3, 0x28]), version));
      await r.waitClosed(2000);
      if (version === 5) expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBeOneOf([0x81, 0x82, 0x90]);
      await logLine(mark, /connection_closed_protocol_violation|malformed|utf/i);
      await sleep(200);
      expect(watcher.msgs.filter((m) => m.topic.startsWith('bad/'))).toHaveLength(0);
      await watcher.end(true);
      await othersUnaffected();
    });

    it(`a wildcard in a PUBLISH topic (v${version}): connection closed with a log line [MQTT-3.3.2-2]`, async () => {
      const watcher = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('ww') });
      await watcher.sub('bad/#', { qos: 0 });
      const mark = d.logs().length;
      const r = raw(version);
      await r.connect({ clientId: uid('wild') });
      r.sendBytes(rawPublish(Buffer.from('bad/+/x'), version));
      await r.waitClosed(2000);
      if (version === 5) expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBeOneOf([0x82, 0x90]);
      await logLine(mark, /bad\/\+\/x/);
      expect(watcher.msgs).toHaveLength(0);
      await watcher.end(true);
      await othersUnaffected();
    });
  }

  it('garbage bytes instead of CONNECT: connection closed, log line', async () => {
    const mark = d.logs().length;
    const r = raw(4);
    await r.ready();
    // A complete frame of reserved type 0 (an HTTP request would be read as a 69-byte PUBACK frame
    // still waiting for bytes; that case ends with idle_timeout, covered in mqtt-keepalive).
    r.sendBytes(Buffer.from([0x00, 0x03, 0x47, 0x45, 0x54]));
    await r.waitClosed(2000);
    expect(r.packets.filter((p) => p.cmd === 'connack')).toHaveLength(0);
    await logLine(mark, /connection_closed_protocol_violation/);
    await othersUnaffected();
  });

  it('garbage bytes after CONNECT (reserved packet type 0): connection closed, v5 DISCONNECT 0x81 or 0x82', async () => {
    const mark = d.logs().length;
    const r = raw(5);
    await r.connect({ clientId: uid('garbage') });
    r.sendBytes(Buffer.from([0x00, 0x02, 0xde, 0xad]));
    await r.waitClosed(2000);
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBeOneOf([0x81, 0x82]);
    await logLine(mark, /connection_closed_protocol_violation/);
    await othersUnaffected();
  });

  it('a Remaining Length longer than 4 bytes: connection closed', async () => {
    const r = raw(4);
    await r.connect({ clientId: uid('len') });
    r.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    await r.waitClosed(2000);
    await othersUnaffected();
  });

  it('a PUBLISH before CONNECT: connection closed, no CONNACK', async () => {
    const mark = d.logs().length;
    const r = raw(4);
    await r.ready();
    r.sendBytes(rawPublish(Buffer.from('bad/early')));
    await r.waitClosed(2000);
    expect(await logLine(mark, /connection_closed_protocol_violation/)).toMatch(/CONNECT/);
    await othersUnaffected();
  });

  it('v5 topic alias 0 / above the maximum: DISCONNECT 0x94', async () => {
    const r = raw(5);
    await r.connect({ clientId: uid('alias') });
    r.send({ cmd: 'publish', topic: 'bad/alias', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 0 } } as never);
    await r.waitClosed(2000);
    expect(r.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x94);
    await othersUnaffected();
  });

  it('a burst of 30 bad connections in parallel leaves the daemon and the bystander working', async () => {
    const bad = Array.from({ length: 30 }, (_, i) => {
      const r = raw(4);
      return r.ready().then(() => {
        r.sendBytes(i % 2 ? Buffer.from([0xff, 0x00]) : Buffer.from([0x10, 0x03, 0x00, 0x00, 0x00]));
        return r.waitClosed(3000);
      });
    });
    await Promise.all(bad);
    await othersUnaffected();
  });
});
