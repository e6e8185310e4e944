// PUBACK, PUBREC, PUBREL, PUBCOMP from a client (MQTT 3.1.1 §3.4-3.7, MQTT 5 §3.4-3.7).
import { describe, expect, it } from 'vitest';
import { CLOSED, daemonWires, MALFORMED, packet, props, PROTOCOL_ERROR, str, u16 } from './wire.js';

const wires = daemonWires();

const reasonString = (s: string): Buffer => Buffer.concat([Buffer.from([0x1f]), str(s)]);

describe('fixed header flags', () => {
  it('[MQTT-3.6.1-1] PUBREL with flags other than 0010 is malformed (v5: DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x60, u16(1)))).toEqual(MALFORMED);
  });

  it('[MQTT-3.6.1-1] PUBREL with flags other than 0010 closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, packet(0x60, u16(1)))).toEqual(CLOSED);
  });

  it('[MQTT-2.1.3-1] PUBACK with reserved flags set is malformed', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x41, u16(1)))).toEqual(MALFORMED);
  });

  it('[MQTT-2.1.3-1] PUBCOMP with reserved flags set closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, packet(0x72, u16(1)))).toEqual(CLOSED);
  });

  it('MQTT 3.1.1 §3.4.1: a PUBACK with a Remaining Length other than 2 closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, packet(0x40, u16(1), [0]))).toEqual(CLOSED);
  });
});

describe('packet identifier', () => {
  it('MQTT 5 §2.2.1: a PUBACK for packet identifier 0 is malformed (DISCONNECT 0x81)', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x40, u16(0)))).toEqual(MALFORMED);
  });

  it('MQTT 3.1.1 §2.3.1: a PUBREL for packet identifier 0 closes a v3.1.1 connection', async () => {
    expect(await wires.sendAfterConnect(4, packet(0x62, u16(0)))).toEqual(CLOSED);
  });
});

describe('v5 ack properties (MQTT 5 §3.4.2.2)', () => {
  it('MQTT 5 §2.2.2.2: Reason String twice in a PUBACK is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x40, u16(1), [0x10], props(reasonString('a'), reasonString('b'))))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: a property that does not belong in PUBREC (Topic Alias) is malformed', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x50, u16(1), [0x10], props([0x23], u16(1))))).toEqual(MALFORMED);
  });

  it('[MQTT-1.5.4-1] an ill-formed Reason String in a PUBCOMP is malformed', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x70, u16(1), [0], props([0x1f], str(Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])))))).toEqual(MALFORMED);
  });

  it('MQTT 5 §3.6.2.1: PUBREL for an unknown packet id gets PUBCOMP 0x92, the connection stays', async () => {
    const w = await wires.connected(5);
    await w.send(packet(0x62, u16(77), [0], props(reasonString('fine'))));
    expect((await w.next())?.toString('hex')).toBe('7003004d92');
    expect(w.closed).toBe(false);
  });
});

describe('QoS 2 flow', () => {
  it('[MQTT-4.3.3-9] a QoS 2 PUBLISH gets PUBREC; PUBREL gets PUBCOMP with the same packet id', async () => {
    const w = await wires.connected(4);
    await w.send(packet(0x34, str('acks/q2'), u16(0x0a0b), Buffer.from('x')));
    expect((await w.next())?.toString('hex')).toBe('50020a0b');
    await w.send(packet(0x62, u16(0x0a0b)));
    expect((await w.next())?.toString('hex')).toBe('70020a0b');
  });
});
