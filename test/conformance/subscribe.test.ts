// SUBSCRIBE and SUBACK: what the server must refuse on input (MQTT 3.1.1 §3.8, MQTT 5 §3.8), by
// statement id. v5 refusals are a DISCONNECT with the reason code, then close; v3.1.1 closes.
import { describe, expect, it } from 'vitest';
import { CLOSED, daemonWires, MALFORMED, packet, props, PROTOCOL_ERROR, str, u16, varint } from './wire.js';

const wires = daemonWires();

/** SUBSCRIBE with the given packet id, v5 property block (null for v3.1.1) and payload. */
function subscribe(pid: number, properties: Buffer | null, ...payload: Buffer[]): Buffer {
  return packet(0x82, u16(pid), properties ?? Buffer.alloc(0), ...payload);
}

describe('SUBSCRIBE fixed header and packet id', () => {
  it('[MQTT-3.8.1-1] flags other than 0010 are malformed (v5: DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x80, u16(1), props(), str('a'), [0]))).toEqual(MALFORMED);
  });

  it('[MQTT-3.8.1-1] flags other than 0010 close a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, packet(0x80, u16(1), str('a'), [0]))).toEqual(CLOSED);
  });

  it('[MQTT-2.2.1-3] packet identifier 0 is malformed (v5: DISCONNECT 0x81, no SUBACK)', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(0, props(), str('a'), Buffer.from([1])))).toEqual(MALFORMED);
  });

  it('[MQTT-2.3.1-1] packet identifier 0 closes a v3.1.1 connection (no SUBACK)', async () => {
    expect(await wires.sendAfterConnect(4, subscribe(0, null, str('a'), Buffer.from([1])))).toEqual(CLOSED);
  });
});

describe('SUBSCRIBE payload', () => {
  it('[MQTT-3.8.3-2] a SUBSCRIBE with no topic filter is a protocol error (v5: DISCONNECT 0x82)', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props()))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.8.3-3] a SUBSCRIBE with no topic filter closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, subscribe(1, null))).toEqual(CLOSED);
  });

  it('[MQTT-1.5.4-1] an ill-formed UTF-8 topic filter is malformed: DISCONNECT 0x81, never SUBACK 0x80', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str(Buffer.from([0x61, 0xff])), Buffer.from([0])))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.4-2] U+0000 in a topic filter is malformed (v5)', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str(Buffer.from([0x61, 0x00])), Buffer.from([0])))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.3-1] a UTF-16 surrogate in a topic filter closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, subscribe(1, null, str(Buffer.from([0xed, 0xb0, 0x80])), Buffer.from([0])))).toEqual(CLOSED);
  });

  it('[MQTT-3.8.3-5] reserved subscription option bits set are malformed (v5)', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str('a'), Buffer.from([0x40])))).toEqual(MALFORMED);
  });

  it('[MQTT-3-8.3-4] reserved bits in the requested QoS byte close a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, subscribe(1, null, str('a'), Buffer.from([0x04])))).toEqual(CLOSED);
  });

  it('[MQTT-3-8.3-4] requested QoS 3 closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, subscribe(1, null, str('a'), Buffer.from([0x03])))).toEqual(CLOSED);
  });

  it('MQTT 5 §3.8.3.1: Maximum QoS 3 is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str('a'), Buffer.from([0x03])))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.8.3.1: Retain Handling 3 is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str('a'), Buffer.from([0x30])))).toEqual(PROTOCOL_ERROR);
  });

  it('a topic filter without its options byte is malformed', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str('a')))).toEqual(MALFORMED);
  });

  it('[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props(), str('$share/g/a'), Buffer.from([0x04])))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-4.7.1-2] a misplaced multi-level wildcard: v5 SUBACK 0x8F Topic Filter invalid (Outpost choice, connection stays)', async () => {
    const w = await wires.connected(5);
    await w.send(subscribe(7, props(), str('a/b#'), Buffer.from([0])));
    expect((await w.next())?.toString('hex')).toBe('900400070' + '08f');
    expect(w.closed).toBe(false);
  });

  it('[MQTT-4.7.1-3] a misplaced single-level wildcard: v3.1.1 SUBACK 0x80 (Outpost choice, connection stays)', async () => {
    const w = await wires.connected(4);
    await w.send(subscribe(7, null, str('a/b+'), Buffer.from([0])));
    expect((await w.next())?.toString('hex')).toBe('9003000780');
    expect(w.closed).toBe(false);
  });

  it('[MQTT-4.7.3-1] an empty topic filter: v5 SUBACK 0x8F (Outpost choice, connection stays)', async () => {
    const w = await wires.connected(5);
    await w.send(subscribe(2, props(), str(''), Buffer.from([0])));
    expect((await w.next())?.toString('hex')).toBe('90040002008f');
    expect(w.closed).toBe(false);
  });

  it('[MQTT-4.8.2-2] a share name with a wildcard: v5 SUBACK 0x8F (Outpost choice, connection stays)', async () => {
    const w = await wires.connected(5);
    await w.send(subscribe(2, props(), str('$share/g+/a'), Buffer.from([0])));
    expect((await w.next())?.toString('hex')).toBe('90040002008f');
  });

  it('[MQTT-4.8.2-1] a share name not followed by "/" and a filter: v5 SUBACK 0x8F', async () => {
    const w = await wires.connected(5);
    await w.send(subscribe(2, props(), str('$share/g'), Buffer.from([0])));
    expect((await w.next())?.toString('hex')).toBe('90040002008f');
  });

  it('[MQTT-3.8.4-1] a valid SUBSCRIBE gets a SUBACK with its packet id and the granted QoS', async () => {
    const w = await wires.connected(5);
    await w.send(subscribe(0x1234, props(), str('a/+'), Buffer.from([1]), str('b/#'), Buffer.from([2])));
    expect((await w.next())?.toString('hex')).toBe('9005123400' + '0102');
  });
});

describe('SUBSCRIBE properties (MQTT 5 §3.8.2.1)', () => {
  it('MQTT 5 §3.8.2.1.2: two Subscription Identifiers are a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props([0x0b], varint(1), [0x0b], varint(2)), str('a'), Buffer.from([1])))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.8.2.1.2: Subscription Identifier 0 is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props([0x0b], varint(0)), str('a'), Buffer.from([1])))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: a property that does not belong in SUBSCRIBE (Message Expiry Interval) is malformed', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props([0x02, 0, 0, 0, 1]), str('a'), Buffer.from([1])))).toEqual(MALFORMED);
  });

  it('MQTT 5 §2.2.2.2: an ill-formed User Property is malformed', async () => {
    expect(await wires.sendAfterConnect(5, subscribe(1, props([0x26], str('k'), str(Buffer.from([0xc0, 0x80]))), str('a'), Buffer.from([1])))).toEqual(MALFORMED);
  });

  it('MQTT 5 §3.8.2.1.2: one Subscription Identifier is granted and marks the deliveries', async () => {
    const w = await wires.connected(5);
    await w.send(subscribe(3, props([0x0b], varint(300)), str('sid/t'), Buffer.from([0])));
    expect((await w.next())?.toString('hex')).toBe('90040003' + '0000');
    await w.send(packet(0x30, str('sid/t'), props(), Buffer.from('hi')));
    // PUBLISH QoS 0: topic, properties = Subscription Identifier 300 (varint ac 02), payload
    expect((await w.nextOf(0x30))?.toString('hex')).toBe(packet(0x30, str('sid/t'), props([0x0b], varint(300)), Buffer.from('hi')).toString('hex'));
  });
});
