// PINGREQ, DISCONNECT, AUTH and packet types a client must not send (MQTT 3.1.1 §2.2, §3.12, §3.14;
// MQTT 5 §2.1.2, §3.12, §3.14, §3.15).
import { describe, expect, it } from 'vitest';
import { CLOSED, connectFrame, daemonWires, MALFORMED, outcome, packet, props, PROTOCOL_ERROR, str, u16, u32 } from './wire.js';

const wires = daemonWires();

describe('PINGREQ', () => {
  it('[MQTT-3.12.4-1] PINGREQ gets PINGRESP', async () => {
    const w = await wires.connected(4);
    await w.send(packet(0xc0));
    expect((await w.next())?.toString('hex')).toBe('d000');
  });

  it('[MQTT-2.1.3-1] PINGREQ with reserved flags set is malformed', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xc1))).toEqual(MALFORMED);
  });

  it('MQTT 5 §3.12: a PINGREQ with a body is malformed', async () => {
    expect(await wires.sendAfterConnect(4, packet(0xc0, [0]))).toEqual(CLOSED);
  });
});

describe('DISCONNECT', () => {
  it('[MQTT-3.14.1-1] DISCONNECT with reserved flags set is malformed (v3.1.1: close, and the will is sent)', async () => {
    const watcher = await wires.connected(4);
    await watcher.send(packet(0x82, u16(1), str('ctl/will1'), [0]));
    expect((await watcher.next())?.[0]).toBe(0x90);
    const w = wires.open();
    await w.send(connectFrame({ level: 4, flags: 0x06, rest: [str('ctl/will1'), str('gone')] }));
    expect((await w.next())?.toString('hex')).toBe('20020000');
    await w.send(packet(0xe1));
    expect(await outcome(w)).toEqual(CLOSED);
    // Not a normal DISCONNECT: the will goes out [MQTT-3.1.2-8].
    expect((await watcher.nextOf(0x30))?.toString('hex')).toBe(packet(0x30, str('ctl/will1'), Buffer.from('gone')).toString('hex'));
  });

  it('MQTT 5 §2.2.2.2: Session Expiry Interval twice in DISCONNECT is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xe0, [0], props([0x11], u32(1), [0x11], u32(1))))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: a property that does not belong in DISCONNECT (Content Type) is malformed', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xe0, [0], props([0x03], str('a'))))).toEqual(MALFORMED);
  });

  it('[MQTT-3.14.2-2] Session Expiry set on DISCONNECT after 0 in CONNECT is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xe0, [0], props([0x11], u32(60))))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.14.4-3] a normal v5 DISCONNECT closes without a reply', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xe0, [0], props()))).toEqual(CLOSED);
  });
});

describe('packet types a client must not send', () => {
  it('MQTT 5 §2.1.2: the reserved packet type 0 is malformed', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x00))).toEqual(MALFORMED);
  });

  it('MQTT 3.1.1 §2.2.1: packet type 15 is reserved in 3.1.1: the connection closes', async () => {
    expect(await wires.sendAfterConnect(4, packet(0xf0))).toEqual(CLOSED);
  });

  it('MQTT 5 §4.13: a CONNACK from a client is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x20, [0, 0], props()))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §4.13: a SUBACK from a client is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, packet(0x90, u16(1), props(), [0]))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-4.12.0-1] AUTH when no authentication method was agreed is a protocol error', async () => {
    expect(await wires.sendAfterConnect(5, packet(0xf0, [0x18], props([0x15], str('x'))))).toEqual(PROTOCOL_ERROR);
  });
});

describe('fixed header Remaining Length', () => {
  it('MQTT 5 §1.5.5: a Remaining Length of more than four bytes is malformed', async () => {
    expect(await wires.sendAfterConnect(5, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toEqual(MALFORMED);
  });
});
