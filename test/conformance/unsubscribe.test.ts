// UNSUBSCRIBE and UNSUBACK: what the server must refuse on input (MQTT 3.1.1 §3.10, MQTT 5 §3.10).
import { describe, expect, it } from 'vitest';
import { CLOSED, daemonWires, MALFORMED, packet, props, PROTOCOL_ERROR, str, u16, varint } from './wire.js';

const wires = daemonWires();

function unsubscribe(pid: number, properties: Buffer | null, ...filters: Buffer[]): Buffer {
  return packet(0xa2, u16(pid), properties ?? Buffer.alloc(0), ...filters);
}

describe('UNSUBSCRIBE', () => {
  it('[MQTT-3.10.1-1] flags other than 0010 are malformed (v5: DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xa0, u16(1), props(), str('a')))).toEqual(MALFORMED);
  });

  it('[MQTT-3.10.1-1] flags other than 0010 close a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, packet(0xa0, u16(1), str('a')))).toEqual(CLOSED);
  });

  it('[MQTT-2.2.1-3] packet identifier 0 is malformed (v5: DISCONNECT 0x81, no UNSUBACK)', async () => {
    expect(await wires.sendAfterConnect(5, unsubscribe(0, props(), str('a')))).toEqual(MALFORMED);
  });

  it('[MQTT-2.3.1-1] packet identifier 0 closes a v3.1.1 connection (no UNSUBACK)', async () => {
    expect(await wires.sendAfterConnect(4, unsubscribe(0, null, str('a')))).toEqual(CLOSED);
  });

  it('[MQTT-3.10.3-2] an UNSUBSCRIBE with no topic filter is a protocol error (v5: DISCONNECT 0x82)', async () => {
    expect(await wires.sendAfterConnect(5, unsubscribe(1, props()))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.10.3-2] an UNSUBSCRIBE with no topic filter closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, unsubscribe(1, null))).toEqual(CLOSED);
  });

  it('[MQTT-1.5.4-1] an ill-formed UTF-8 topic filter is malformed (v5: DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, unsubscribe(1, props(), str(Buffer.from([0xe2, 0x82]))))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.3-2] U+0000 in a topic filter closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, unsubscribe(1, null, str(Buffer.from([0x00]))))).toEqual(CLOSED);
  });

  it('MQTT 5 §2.2.2.2: a Subscription Identifier in UNSUBSCRIBE does not belong there: malformed', async () => {
    expect(await wires.sendAfterConnect(5, unsubscribe(1, props([0x0b], varint(1)), str('a')))).toEqual(MALFORMED);
  });

  it('MQTT 5 §3.10.2.1: User Property may repeat; UNSUBACK 0x11 for a filter with no subscription', async () => {
    const up = Buffer.concat([Buffer.from([0x26]), str('k'), str('v')]);
    const w = await wires.connected(5);
    await w.send(unsubscribe(9, props(up, up), str('none/here')));
    expect((await w.next())?.toString('hex')).toBe('b00400090011');
  });

  it('[MQTT-3.10.4-4] a v3.1.1 UNSUBSCRIBE gets an UNSUBACK with its packet id', async () => {
    const w = await wires.connected(4);
    await w.send(unsubscribe(0x0102, null, str('a'), str('b')));
    expect((await w.next())?.toString('hex')).toBe('b0020102');
  });
});
