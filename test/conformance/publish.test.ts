// PUBLISH in, and what reaches subscribers (MQTT 3.1.1 §3.3, MQTT 5 §3.3), by statement id.
import { describe, expect, it } from 'vitest';
import { CLOSED, daemonWires, MALFORMED, outcome, packet, props, PROTOCOL_ERROR, str, u16, u32, varint, type Wire } from './wire.js';

// A small Topic Alias Maximum and Receive Maximum (max_awaiting_rel), so both can be exceeded.
const wires = daemonWires({ config: '[mqtt]\nmax_topic_alias = 4\nmax_awaiting_rel = 2\n' });

/** PUBLISH: first byte, topic bytes, packet id (QoS > 0), v5 properties (null for v3.1.1), payload. */
function publish(first: number, topic: string | Buffer, pid: number | null, properties: Buffer | null, payload = 'x'): Buffer {
  return packet(first, str(topic), pid === null ? Buffer.alloc(0) : u16(pid), properties ?? Buffer.alloc(0), Buffer.from(payload));
}

let topicNo = 0;
/** A v5 subscriber on a fresh topic, SUBACK consumed. */
async function subscriber(): Promise<{ w: Wire; topic: string }> {
  const topic = `pub/t${++topicNo}`;
  const w = await wires.connected(5);
  await w.send(packet(0x82, u16(1), props(), str(topic), [0]));
  expect((await w.next())?.[0]).toBe(0x90);
  return { w, topic };
}

describe('PUBLISH fixed header and packet id', () => {
  it('[MQTT-3.3.1-4] QoS 3 is malformed (v5: DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x36, 'a', 1, props()))).toEqual(MALFORMED);
  });

  it('[MQTT-3.3.1-4] QoS 3 closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, publish(0x36, 'a', 1, null))).toEqual(CLOSED);
  });

  it('[MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH is malformed', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x38, 'a', null, props()))).toEqual(MALFORMED);
  });

  it('[MQTT-2.2.1-3] packet identifier 0 in a QoS 1 PUBLISH is malformed (v5: DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x32, 'a', 0, props()))).toEqual(MALFORMED);
  });

  it('[MQTT-2.3.1-1] packet identifier 0 in a QoS 2 PUBLISH closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, publish(0x34, 'a', 0, null))).toEqual(CLOSED);
  });
});

describe('PUBLISH topic name', () => {
  it('[MQTT-1.5.4-1] an ill-formed UTF-8 topic name is malformed (v5: DISCONNECT 0x81, not 0x90)', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, Buffer.from([0x74, 0xfe]), null, props()))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.4-2] U+0000 in a topic name is malformed (v5)', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, Buffer.from([0x74, 0x00]), null, props()))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.3-1] a UTF-16 surrogate in a topic name closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, publish(0x30, Buffer.from([0xed, 0xbf, 0xbf]), null, null))).toEqual(CLOSED);
  });

  it('[MQTT-1.5.3-2] U+0000 in a topic name closes a v3.1.1 connection, even after the same topic without it', async () => {
    const w = await wires.connected(4);
    await w.send(publish(0x30, 'same/t', null, null), publish(0x30, Buffer.from('same/t\u0000'), null, null));
    expect(await outcome(w)).toEqual(CLOSED);
  });

  it('[MQTT-3.3.2-2] a wildcard in a topic name: v5 DISCONNECT 0x90 Topic Name invalid (Outpost choice)', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a/+', null, props()))).toEqual({ reply: 'e0029000', closed: true });
  });

  it('[MQTT-4.7.3-1] an empty topic name closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, publish(0x30, '', null, null))).toEqual(CLOSED);
  });

  it('MQTT 5 §3.3.2.1: an empty topic name without a Topic Alias is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, '', null, props()))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.2.2.3.6: a PUBLISH larger than the Maximum Packet Size the server sent: DISCONNECT 0x95', async () => {
    expect(await wires.sendAfterConnect(5, Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))).toEqual({ reply: 'e0029500', closed: true });
  });

  it('[MQTT-3.3.2-2] a wildcard in a topic name closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, publish(0x30, 'a/#', null, null))).toEqual(CLOSED);
  });
});

describe('PUBLISH properties (MQTT 5 §3.3.2.3)', () => {
  it('MQTT 5 §2.2.2.2: Message Expiry Interval twice is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x02], u32(5), [0x02], u32(6))))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: Payload Format Indicator twice is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x01, 1, 0x01, 1])))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: Content Type twice is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x03], str('a'), [0x03], str('b'))))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: Correlation Data twice is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x09], str('a'), [0x09], str('b'))))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: Topic Alias twice is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x23], u16(1), [0x23], u16(1))))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.3.4-6] a Subscription Identifier in a client PUBLISH is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x0b], varint(1))))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: a property that does not belong in PUBLISH (Session Expiry Interval) is malformed', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x11], u32(1))))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.4-1] an ill-formed Content Type is malformed', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x03], str(Buffer.from([0x80])))))).toEqual(MALFORMED);
  });

  it('[MQTT-3.3.2-14] a Response Topic with a wildcard is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x08], str('r/+'))))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.3.2-8] Topic Alias 0: DISCONNECT 0x94 Topic Alias invalid', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x23], u16(0))))).toEqual({ reply: 'e0029400', closed: true });
  });

  it('[MQTT-3.3.2-10] a Topic Alias above the Topic Alias Maximum the server sent (4): DISCONNECT 0x94', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x23], u16(5))))).toEqual({ reply: 'e0029400', closed: true });
  });

  it('MQTT 5 §3.3.2.3.4: an empty topic name with a Topic Alias never set is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, '', null, props([0x23], u16(3))))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.3.2-12] a Topic Alias set once stands for its topic name afterwards', async () => {
    const { w, topic } = await subscriber();
    const pub = await wires.connected(5);
    await pub.send(publish(0x30, topic, null, props([0x23], u16(2)), 'one'), publish(0x30, '', null, props([0x23], u16(2)), 'two'));
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(publish(0x30, topic, null, props(), 'one').toString('hex'));
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(publish(0x30, topic, null, props(), 'two').toString('hex'));
  });

  it('[MQTT-3.3.2-4] a Payload Format Indicator other than 0/1 is refused, never rewritten (Outpost choice)', async () => {
    expect(await wires.sendAfterConnect(5, publish(0x30, 'a', null, props([0x01, 2])))).toEqual(PROTOCOL_ERROR);
  });
});

describe('flow control', () => {
  it('MQTT 5 §3.3.4: more QoS 2 PUBLISH packets than the Receive Maximum the server sent (2) without PUBREL: DISCONNECT 0x93', async () => {
    const w = await wires.connected(5);
    await w.send(publish(0x34, 'rm/t', 1, props()), publish(0x34, 'rm/t', 2, props()), publish(0x34, 'rm/t', 3, props()));
    expect((await w.next())?.toString('hex')).toBe('5003000110');
    expect((await w.next())?.toString('hex')).toBe('5003000210');
    expect(await outcome(w)).toEqual({ reply: 'e0029300', closed: true });
  });
});

describe('what reaches subscribers', () => {
  it('[MQTT-3.3.2-4] Payload Format Indicator 1 and 0 reach the subscriber unaltered', async () => {
    const { w, topic } = await subscriber();
    const pub = await wires.connected(5);
    await pub.send(publish(0x30, topic, null, props([0x01, 1]), 'a'), publish(0x30, topic, null, props([0x01, 0]), 'b'));
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(publish(0x30, topic, null, props([0x01, 1]), 'a').toString('hex'));
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(publish(0x30, topic, null, props([0x01, 0]), 'b').toString('hex'));
  });

  it('MQTT 5 §3.3.2.3.2: PFI 1 with a payload that is not UTF-8 is forwarded (validating it is a MAY; Outpost does not)', async () => {
    const { w, topic } = await subscriber();
    const pub = await wires.connected(5);
    const frame = packet(0x30, str(topic), props([0x01, 1]), Buffer.from([0xff, 0xfe]));
    await pub.send(frame);
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(frame.toString('hex'));
  });

  it('[MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] Content Type, Response Topic, Correlation Data and User Properties reach the subscriber unaltered, in order', async () => {
    const { w, topic } = await subscriber();
    const pub = await wires.connected(5);
    const up = (k: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(k), str(v)]);
    const sent = props([0x01, 1], [0x03], str('text/plain'), [0x08], str('reply/here'), [0x09], str(Buffer.from([0, 1, 2])), up('z', '1'), up('a', '2'));
    await pub.send(publish(0x30, topic, null, sent, 'body'));
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(publish(0x30, topic, null, sent, 'body').toString('hex'));
  });

  it('[MQTT-3.3.2-6] the Message Expiry Interval a subscriber gets is the sent one minus the time waited', async () => {
    const topic = `pub/retained${Date.now().toString(36)}`;
    const pub = await wires.connected(5);
    await pub.send(publish(0x31, topic, null, props([0x02], u32(100)), 'r'));
    await new Promise((r) => setTimeout(r, 1100));
    const w = await wires.connected(5);
    await w.send(packet(0x82, u16(1), props(), str(topic), [0]));
    const got = await w.nextOf(0x31);
    expect(got).not.toBeNull();
    // 31 LL | topic | props: 05 02 <u32> | 'r'
    const at = 2 + 2 + Buffer.byteLength(topic);
    expect(got![at]).toBe(5);
    expect(got![at + 1]).toBe(0x02);
    const left = got!.readUInt32BE(at + 2);
    expect(left).toBeLessThan(100);
    expect(left).toBeGreaterThanOrEqual(90);
  });
});
