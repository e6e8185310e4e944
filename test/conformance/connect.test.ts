// CONNECT and CONNACK: what the server must refuse on input (MQTT 3.1, 3.1.1 §3.1, MQTT 5 §3.1), by
// statement id. v3.1.1 has no CONNACK code for a malformed CONNECT: the server closes without one
// [MQTT-3.1.4-1]. v5: the server sends CONNACK 0x81 Malformed Packet / 0x82 Protocol Error, then
// closes (MQTT 5 §4.13.1; sending it is a choice the spec allows, Outpost makes it).
import { describe, expect, it } from 'vitest';
import { connectFrame, daemonWires, outcome, packet, props, str, u16, u32 } from './wire.js';

const wires = daemonWires();

const CONNACK_MALFORMED = '2003008100';
const CONNACK_PROTOCOL_ERROR = '2003008200';
const REFUSED_SILENTLY = { reply: null, closed: true };
const ILL_FORMED = Buffer.from([0x61, 0xc3, 0x28]); // 'a' then a broken two-byte sequence
const SURROGATE = Buffer.from([0xed, 0xa0, 0x80]); // U+D800 encoded in UTF-8
const NUL = Buffer.from([0x61, 0x00, 0x62]);

/** The server's first reply to a CONNECT that it accepts (no wait for a close). */
async function accepted(frame: Buffer): Promise<string | null> {
  const w = wires.open();
  await w.send(frame);
  return (await w.next())?.toString('hex') ?? null;
}

async function send(frame: Buffer): Promise<{ reply: string | null; closed: boolean }> {
  const w = wires.open();
  await w.send(frame);
  return outcome(w);
}

describe('fixed header and first packet', () => {
  it('[MQTT-3.1.0-1] a first packet that is not CONNECT closes the connection', async () => {
    expect(await send(Buffer.from([0xc0, 0x00]))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-2.1.3-1] CONNECT with fixed header flags other than 0 is malformed', async () => {
    expect(await send(connectFrame({ level: 4, first: 0x11 }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01, then close', async () => {
    expect(await send(connectFrame({ level: 6 as 5 }))).toEqual({ reply: '20020001', closed: true });
  });

  it('[MQTT-3.1.2-1] protocol name MQTT with level 3 is read as MQTT 3.1 (Outpost choice: MQTT.js sends it so)', async () => {
    expect(await accepted(packet(0x10, str('MQTT'), [3, 0x02], u16(60), str('abc')))).toBe('20020000');
  });

  it('[MQTT-3.1.2-1] an unknown protocol name closes a v3.1.1 connection without CONNACK (the server MAY; Outpost does)', async () => {
    expect(await send(packet(0x10, str('MQTX'), [4, 0x02], u16(60), str('abc')))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-1] an unknown protocol name with level 5 gets CONNACK 0x84 Unsupported Protocol Version', async () => {
    expect(await send(packet(0x10, str('MQTX'), [5, 0x02], u16(60), props(), str('abc')))).toEqual({ reply: '2003008400', closed: true });
  });

  it('MQTT 5 §1.5.5: a CONNECT whose Remaining Length exceeds the maximum packet size is closed at once', async () => {
    expect(await send(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x04]))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.0-2] a second CONNECT is a protocol error (v5: DISCONNECT 0x82)', async () => {
    const w = await wires.connected(5);
    await w.send(connectFrame({ level: 5 }));
    expect(await outcome(w)).toEqual({ reply: 'e0028200', closed: true });
  });

  it('[MQTT-3.1.0-2] a second CONNECT closes a v3.1.1 connection', async () => {
    const w = await wires.connected(4);
    await w.send(connectFrame({ level: 4 }));
    expect(await outcome(w)).toEqual(REFUSED_SILENTLY);
  });
});

describe('connect flags', () => {
  it('[MQTT-3.1.2-3] the reserved flag set is malformed (v3.1.1: close without CONNACK)', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x03 }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-3] the reserved flag set is malformed (v5: CONNACK 0x81)', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x03 }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-3.1.2-13] will QoS other than 0 without the will flag is refused (v3.1.1)', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x02 | 0x08 }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-11] will QoS other than 0 without the will flag is refused (v5: CONNACK 0x81)', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x02 | 0x10 }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-3.1.2-15] will retain without the will flag is refused (v3.1.1)', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x02 | 0x20 }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-13] will retain without the will flag is refused (v5: CONNACK 0x81)', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x02 | 0x20 }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-3.1.2-14] will QoS 3 is malformed', async () => {
    const rest = [props(), str('w/t'), str('x')];
    expect(await send(connectFrame({ level: 5, flags: 0x02 | 0x04 | 0x18, rest }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-3.1.2-22] a password without the user name flag is a protocol violation in 3.1.1', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x02 | 0x40, rest: [str('pw')] }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-18] a user name present while the user name flag is clear is refused (v3.1.1)', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x02, rest: [str('alice')] }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-18] a user name present while the user name flag is clear is refused (v5: CONNACK 0x81)', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x02, rest: [str('alice')] }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-3.1.2-19] the user name flag set without a user name in the payload is refused', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x02 | 0x80 }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-3.1.2-20] a password present while the password flag is clear is refused', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x02 | 0x80, rest: [str('alice'), str('pw')] }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-3.1.2-9] the will flag set without will topic and payload is refused', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x02 | 0x04 }))).toEqual(REFUSED_SILENTLY);
  });

  it('MQTT 5 §3.1.2.9: a password without a user name is allowed in v5 (CONNACK 0x00)', async () => {
    const reply = await accepted(connectFrame({ level: 5, flags: 0x02 | 0x40, rest: [str('pw')] }));
    expect(reply?.slice(0, 2)).toBe('20');
    expect(reply?.slice(4, 8)).toBe('0000'); // no session present, reason 0x00
  });
});

describe('UTF-8 strings in the payload', () => {
  it('[MQTT-1.5.3-1] an ill-formed client id closes a v3.1.1 connection without CONNACK', async () => {
    expect(await send(connectFrame({ level: 4, clientId: ILL_FORMED }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-1.5.4-1] an ill-formed client id gets CONNACK 0x81 (v5)', async () => {
    expect(await send(connectFrame({ level: 5, clientId: ILL_FORMED }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-1.5.4-1] a UTF-16 surrogate encoded in the user name is malformed (v5)', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x82, rest: [str(SURROGATE)] }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-1.5.3-2] U+0000 in the user name is malformed (v3.1.1)', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x82, rest: [str(NUL)] }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-1.5.4-2] U+0000 in the client id is malformed (v5)', async () => {
    expect(await send(connectFrame({ level: 5, clientId: NUL }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-1.5.4-1] an ill-formed will topic is malformed (v5)', async () => {
    const rest = [props(), str(ILL_FORMED), str('x')];
    expect(await send(connectFrame({ level: 5, flags: 0x06, rest }))).toEqual({ reply: CONNACK_MALFORMED, closed: true });
  });

  it('[MQTT-1.5.3-1] an ill-formed will topic closes a v3.1.1 connection', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x06, rest: [str(ILL_FORMED), str('x')] }))).toEqual(REFUSED_SILENTLY);
  });

  it('[MQTT-1.5.4-3] U+FEFF and a U+FFFD the client sent are kept (not stripped, not refused)', async () => {
    const id = 'id-\uFEFF-\uFFFD';
    const w = wires.open();
    await w.send(connectFrame({ level: 5, clientId: id }));
    const ack = await w.next();
    expect(ack?.[0]).toBe(0x20);
    expect(ack?.[3]).toBe(0x00);
  });
});

describe('CONNECT properties (MQTT 5 §2.2.2.2, §3.1.2.11)', () => {
  const PROTOCOL_ERROR = { reply: CONNACK_PROTOCOL_ERROR, closed: true };
  const MALFORMED = { reply: CONNACK_MALFORMED, closed: true };

  it('MQTT 5 §2.2.2.2: Session Expiry Interval twice is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x11], u32(10), [0x11], u32(20)) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.1.2.11.3: Receive Maximum 0 is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x21], u16(0)) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.1.2.11.3: Receive Maximum twice is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x21], u16(5), [0x21], u16(5)) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.1.2.11.4: Maximum Packet Size 0 is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x27], u32(0)) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.1.2.11.5: Topic Alias Maximum twice is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x22], u16(1), [0x22], u16(2)) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.1.2.11.6: Request Response Information other than 0 or 1 is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x19, 2]) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §3.1.2.11.7: Request Problem Information other than 0 or 1 is a protocol error', async () => {
    expect(await send(connectFrame({ properties: props([0x17, 7]) }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: a property that does not belong in CONNECT (Topic Alias) is malformed', async () => {
    expect(await send(connectFrame({ properties: props([0x23], u16(1)) }))).toEqual(MALFORMED);
  });

  it('MQTT 5 §2.2.2.2: a server-only property (Assigned Client Identifier) from a client is malformed', async () => {
    expect(await send(connectFrame({ properties: props([0x12], str('x')) }))).toEqual(MALFORMED);
  });

  it('MQTT 5 §2.2.2.2: a property list longer than the packet is malformed', async () => {
    expect(await send(connectFrame({ properties: Buffer.from([0x20, 0x11, 0, 0]) }))).toEqual(MALFORMED);
  });

  it('MQTT 5 §2.2.2.2: User Property may repeat (CONNACK 0x00)', async () => {
    const up = Buffer.concat([Buffer.from([0x26]), str('k'), str('v')]);
    const reply = await accepted(connectFrame({ properties: props(up, up) }));
    expect(reply?.slice(0, 2)).toBe('20');
    expect(reply?.slice(4, 8)).toBe('0000');
  });

  it('MQTT 5 §3.1.3.2: Message Expiry Interval twice in the will properties is a protocol error, and durable acks go on', async () => {
    // Issue 15: accepted, this will made expires_at NaN in a persistent session's queue and stalled every later commit.
    const rest = [props([0x02], u32(10), [0x02], u32(20)), str('will/t'), str('x')];
    expect(await send(connectFrame({ flags: 0x04 | 0x20, properties: props([0x11], u32(300)), rest }))).toEqual(PROTOCOL_ERROR);
    // A persistent subscriber still gets its QoS 1 message, acknowledged after the commit.
    const sub = wires.open();
    await sub.send(connectFrame({ flags: 0x00, properties: props([0x11], u32(300)) }));
    expect((await sub.next())?.[3]).toBe(0);
    await sub.send(packet(0x82, u16(1), props(), str('will/t'), [1]));
    expect((await sub.nextOf(0x90))?.toString('hex')).toBe('9004000100' + '01');
    const pub = await wires.connected(5);
    await pub.send(packet(0x32, str('will/t'), u16(9), props(), Buffer.from('after')));
    expect((await pub.nextOf(0x40))?.toString('hex')).toBe('40020009');
    expect((await sub.nextOf(0x32))?.subarray(-5).toString()).toBe('after');
  });

  it('MQTT 5 §3.1.3.2: Will Delay Interval twice in the will properties is a protocol error', async () => {
    const rest = [props([0x18], u32(1), [0x18], u32(1)), str('will/t'), str('x')];
    expect(await send(connectFrame({ flags: 0x06, rest }))).toEqual(PROTOCOL_ERROR);
  });

  it('[MQTT-3.3.2-4] a will Payload Format Indicator other than 0/1 is refused, never rewritten (Outpost choice)', async () => {
    const rest = [props([0x01, 5]), str('will/t'), str('x')];
    expect(await send(connectFrame({ flags: 0x06, rest }))).toEqual(PROTOCOL_ERROR);
  });

  it('MQTT 5 §2.2.2.2: Will Delay Interval in the CONNECT properties (not the will ones) is malformed', async () => {
    expect(await send(connectFrame({ properties: props([0x18], u32(1)) }))).toEqual(MALFORMED);
  });

  it('MQTT 5 §2.2.2.2: Session Expiry Interval in the will properties is malformed', async () => {
    const rest = [props([0x11], u32(1)), str('will/t'), str('x')];
    expect(await send(connectFrame({ flags: 0x06, rest }))).toEqual(MALFORMED);
  });

  it('[MQTT-3.3.2-14] a will Response Topic with a wildcard is a protocol error', async () => {
    const rest = [props([0x08], str('reply/#')), str('will/t'), str('x')];
    expect(await send(connectFrame({ flags: 0x06, rest }))).toEqual(PROTOCOL_ERROR);
  });
});

describe('client identifier', () => {
  it('[MQTT-3.1.3-8] an empty client id with clean session 0 gets CONNACK 0x02 in 3.1.1, then close', async () => {
    expect(await send(connectFrame({ level: 4, flags: 0x00, clientId: '' }))).toEqual({ reply: '20020002', closed: true });
  });

  it('[MQTT-3.1.3-6] an empty client id with clean session 1 is assigned one in 3.1.1', async () => {
    expect(await accepted(connectFrame({ level: 4, flags: 0x02, clientId: '' }))).toBe('20020000');
  });

  it('MQTT 3.1 §3.1: an empty client id gets CONNACK 0x02 Identifier Rejected', async () => {
    expect(await send(connectFrame({ level: 3, flags: 0x02, clientId: '' }))).toEqual({ reply: '20020002', closed: true });
  });

  it('MQTT 3.1 §3.1: a client id over 23 characters is accepted (Outpost choice, as MQTT 3.1.1 [MQTT-3.1.3-5] allows and EMQX does; mqtt.max_clientid_len bounds it)', async () => {
    expect(await accepted(connectFrame({ level: 3, clientId: 'x'.repeat(40) }))).toBe('20020000');
  });

  it('[MQTT-4.7.3-1] an empty will topic is not a topic name: v5 CONNACK 0x90 Topic Name invalid', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x06, rest: [props(), str(''), str('x')] }))).toEqual({ reply: '2003009000', closed: true });
  });

  it('[MQTT-3.1.3-10] a will topic with a wildcard is refused: v5 CONNACK 0x90 Topic Name invalid', async () => {
    expect(await send(connectFrame({ level: 5, flags: 0x06, rest: [props(), str('a/#'), str('x')] }))).toEqual({ reply: '2003009000', closed: true });
  });
});

describe('CONNACK', () => {
  it('MQTT 3.1 §3.2: CONNACK to a level 3 client has a first byte of 0, even for a resumed session', async () => {
    const clientId = `v31-${Date.now().toString(36)}`;
    const first = wires.open();
    await first.send(connectFrame({ level: 3, flags: 0x00, clientId }));
    expect((await first.next())?.toString('hex')).toBe('20020000');
    await first.send(packet(0xe0));
    expect(await first.closedWithin()).toBe(true);
    const again = wires.open();
    await again.send(connectFrame({ level: 3, flags: 0x00, clientId }));
    expect((await again.next())?.toString('hex')).toBe('20020000');
  });

  it('[MQTT-3.2.2-2] a resumed v3.1.1 session is reported with Session Present 1', async () => {
    const clientId = `v311-${Date.now().toString(36)}`;
    const first = wires.open();
    await first.send(connectFrame({ level: 4, flags: 0x00, clientId }));
    expect((await first.next())?.toString('hex')).toBe('20020000');
    await first.send(packet(0xe0));
    expect(await first.closedWithin()).toBe(true);
    const again = wires.open();
    await again.send(connectFrame({ level: 4, flags: 0x00, clientId }));
    expect((await again.next())?.toString('hex')).toBe('20020100');
  });
});
