// src/mqtt/validate.ts: pure checks over whole frames. Each returns 0, 0x81 (malformed) or 0x82
// (protocol error) and never throws, whatever the bytes (a fuzzer calls them the same way).
import { describe, expect, it } from 'vitest';
import { checkProperties, PropsOf, validateConnect, validateDisconnect, validateFrame, validateSubscribe, validateUnsubscribe } from '../../../src/mqtt/validate.js';
import { decodePublish, publishErrorCode } from '../../../src/mqtt/hot-codec.js';
import { connectFrame, packet, props, str, u16, u32, varint } from '../../conformance/wire.js';

const up = (k: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(k), str(v)]);

describe('checkProperties', () => {
  const check = (block: Buffer, where: number): number => checkProperties(block, 0, block.length, where);

  it('accepts an empty list and repeated User Properties', () => {
    expect(check(props(), PropsOf.Connect)).toBe(0);
    expect(check(props(up('a', '1'), up('a', '2'), up('b', '')), PropsOf.Publish)).toBe(0);
  });

  it('refuses any other property twice as a protocol error, wherever it sits', () => {
    expect(check(props([0x11], u32(1), [0x11], u32(1)), PropsOf.Connect)).toBe(0x82);
    expect(check(props([0x02], u32(1), up('k', 'v'), [0x02], u32(1)), PropsOf.Will)).toBe(0x82);
    expect(check(props([0x0b], varint(1), [0x0b], varint(2)), PropsOf.Subscribe)).toBe(0x82);
    expect(check(props([0x1f], str('a'), [0x1f], str('a')), PropsOf.Puback)).toBe(0x82);
    expect(check(props([0x27], u32(10), [0x27], u32(10)), PropsOf.Connect)).toBe(0x82);
  });

  it('refuses the out-of-range values the spec names as protocol errors', () => {
    expect(check(props([0x21], u16(0)), PropsOf.Connect)).toBe(0x82);
    expect(check(props([0x27], u32(0)), PropsOf.Connect)).toBe(0x82);
    expect(check(props([0x0b], varint(0)), PropsOf.Subscribe)).toBe(0x82);
    expect(check(props([0x17, 2]), PropsOf.Connect)).toBe(0x82);
    expect(check(props([0x01, 3]), PropsOf.Will)).toBe(0x82);
    expect(check(props([0x08], str('a/#')), PropsOf.Will)).toBe(0x82);
    expect(check(props([0x0b], varint(268435455)), PropsOf.Subscribe)).toBe(0);
  });

  it('refuses a property outside its packet, a server-only one and a truncated one as malformed', () => {
    expect(check(props([0x18], u32(1)), PropsOf.Connect)).toBe(0x81);
    expect(check(props([0x24, 1]), PropsOf.Connect)).toBe(0x81);
    expect(check(props([0x02, 0, 0]), PropsOf.Will)).toBe(0x81);
    expect(check(props([0x03], str(Buffer.from([0xc3]))), PropsOf.Will)).toBe(0x81);
    expect(check(Buffer.from([0x05, 0x11, 0, 0]), PropsOf.Connect)).toBe(0x81);
    expect(check(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), PropsOf.Connect)).toBe(0x81);
  });
});

describe('validateConnect', () => {
  it('accepts well-formed CONNECTs of every level', () => {
    expect(validateConnect(connectFrame({ level: 3 }))).toBe(0);
    expect(validateConnect(connectFrame({ level: 4, flags: 0xc2, rest: [str('u'), str('p')] }))).toBe(0);
    expect(validateConnect(connectFrame({ level: 5, flags: 0x2e, rest: [props([0x18], u32(5)), str('w'), str('x')] }))).toBe(0);
  });

  it('refuses flag and payload contradictions', () => {
    expect(validateConnect(connectFrame({ level: 4, flags: 0x03 }))).toBe(0x81);
    expect(validateConnect(connectFrame({ level: 4, flags: 0x42, rest: [str('p')] }))).toBe(0x82);
    expect(validateConnect(connectFrame({ level: 5, flags: 0x42, rest: [str('p')] }))).toBe(0);
    expect(validateConnect(connectFrame({ level: 4, flags: 0x02, rest: [str('u')] }))).toBe(0x81);
    expect(validateConnect(connectFrame({ level: 4, flags: 0x82 }))).toBe(0x81);
  });

  it('refuses a protocol name that is neither MQTT nor MQIsdp [MQTT-3.1.2-1]', () => {
    expect(validateConnect(packet(0x10, str('MQTT'), [3, 2], u16(60), str('abc')))).toBe(0);
    expect(validateConnect(packet(0x10, str('MQIsdp'), [3, 2], u16(60), str('abc')))).toBe(0);
    expect(validateConnect(packet(0x10, str('MQTTX'), [4, 2], u16(60), str('abc')))).toBe(0x84);
    expect(validateConnect(packet(0x10, str('mqtt'), [5, 2], u16(60), props(), str('abc')))).toBe(0x84);
  });

  it('refuses a repeated will property (the NaN expires_at of issue 15)', () => {
    expect(validateConnect(connectFrame({ level: 5, flags: 0x06, rest: [props([0x02], u32(1), [0x02], u32(2)), str('w'), str('x')] }))).toBe(0x82);
  });
});

describe('SUBSCRIBE, UNSUBSCRIBE, DISCONNECT', () => {
  it('SUBSCRIBE', () => {
    expect(validateSubscribe(packet(0x82, u16(1), props(), str('a'), [0x2e]), true)).toBe(0);
    expect(validateSubscribe(packet(0x82, u16(1), str('a'), [0x02]), false)).toBe(0);
    expect(validateSubscribe(packet(0x82, u16(1), str('a'), [0x2e]), false)).toBe(0x81);
    expect(validateSubscribe(packet(0x82, u16(0), props(), str('a'), [0]), true)).toBe(0x81);
    expect(validateSubscribe(packet(0x82, u16(1), props()), true)).toBe(0x82);
  });

  it('UNSUBSCRIBE', () => {
    expect(validateUnsubscribe(packet(0xa2, u16(1), props(up('k', 'v')), str('a')), true)).toBe(0);
    expect(validateUnsubscribe(packet(0xa2, u16(1)), false)).toBe(0x82);
    expect(validateUnsubscribe(packet(0xa2, u16(1), str(Buffer.from([0xed, 0xa0, 0x80]))), false)).toBe(0x81);
  });

  it('DISCONNECT', () => {
    expect(validateDisconnect(packet(0xe0), true)).toBe(0);
    expect(validateDisconnect(packet(0xe0, [4]), true)).toBe(0);
    expect(validateDisconnect(packet(0xe0, [0], props([0x11], u32(1))), true)).toBe(0);
    expect(validateDisconnect(packet(0xe0, [0]), false)).toBe(0x81);
  });
});

describe('never throws', () => {
  it('on random and truncated frames of every packet type', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
    for (let i = 0; i < 20000; i++) {
      const len = rnd() % 40;
      const body = Buffer.alloc(len);
      for (let j = 0; j < len; j++) body[j] = rnd();
      const frame = packet(rnd(), body);
      for (const v5 of [false, true]) {
        const rc = validateFrame(frame, v5);
        expect([0, 0x81, 0x82, 0x84]).toContain(rc);
      }
    }
  });
});

describe('decodePublish reason codes', () => {
  it('tells a protocol error (0x82) from a malformed packet (0x81)', () => {
    expect(typeof decodePublish(packet(0x30, str('t'), props([0x02], u32(1), [0x02], u32(1)), Buffer.from('x')), true)).toBe('string');
    expect(publishErrorCode()).toBe(0x82);
    expect(typeof decodePublish(packet(0x30, str(Buffer.from([0x74, 0])), props(), Buffer.from('x')), true)).toBe('string');
    expect(publishErrorCode()).toBe(0x81);
    const ok = decodePublish(packet(0x30, str('t'), props([0x01, 1]), Buffer.from('x')), true);
    expect(typeof ok === 'object' && ok.props?.payloadFormatIndicator).toBe(true);
  });
});
