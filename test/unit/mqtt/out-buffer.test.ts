// A connection's per-tick output: what take() returns must be exactly the packets in write order,
// whichever way each was queued (by reference, encoded in place, moved over from held acks).
import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { OutBuffer } from '../../../src/mqtt/out-buffer.js';
import { cachedWire, encodePublish } from '../../../src/mqtt/publish-codec.js';

const small = createMessage({ topic: 'bench/o2o', payload: Buffer.alloc(64, 7), qos: 1, retain: false, now: 1 });
const big = createMessage({ topic: 'big/one', payload: Buffer.alloc(5000, 9), qos: 1, retain: false, now: 1 });

/** A v3 ack as the spec lays it out: type (PUBREL with flags 0010), remaining length 2, packet id [MQTT-3.4]. */
const ack3 = (type: 4 | 5 | 6 | 7, pid: number): Buffer => Buffer.from([(type << 4) | (type === 6 ? 2 : 0), 2, pid >> 8, pid & 0xff]);
/** The full encoder's output for a v3 QoS 1 delivery: the oracle for the cached-wire path. */
const publish3 = (m: typeof small, dup: boolean, pid: number): Buffer =>
  encodePublish(m, m.topic, false, 1, false, dup, pid, { expiry: -1, subIds: null, alias: 0, aliasOnly: false });

describe('OutBuffer', () => {
  it('encodes acks byte for byte, v3 and v5 with and without a reason code', () => {
    const o = new OutBuffer();
    o.ack(4, 1, 0, false);
    o.ack(5, 65535, 0x10, false); // v3 has no reason code
    o.ack(6, 300, 0, true); // v5 leaves out a reason code of 0
    o.ack(7, 2, 0x92, true);
    o.ack(4, 9, 0x10, true);
    const want = Buffer.from([0x40, 2, 0, 1, 0x50, 2, 0xff, 0xff, 0x62, 2, 1, 0x2c, 0x70, 3, 0, 2, 0x92, 0x40, 3, 0, 9, 0x10]);
    expect(o.count).toBe(5);
    expect(o.bytes).toBe(want.length);
    expect(o.take()).toEqual(want);
    expect(o.count).toBe(0);
    expect(o.bytes).toBe(0);
    expect(o.take()).toBeNull();
  });

  it('patches packet id and DUP into a copy of the cached wire form, small and big, and leaves the cache alone', () => {
    for (const m of [small, big]) {
      const o = new OutBuffer();
      const wire = cachedWire(m, false, 1, false);
      const before = Buffer.from(wire);
      o.publish(wire, 1, false, 513);
      o.publish(wire, 1, true, 7);
      expect(o.take()).toEqual(Buffer.concat([publish3(m, false, 513), publish3(m, true, 7)]));
      expect(wire).toEqual(before);
    }
  });

  it('keeps write order across packets by reference, acks, deliveries and appended held acks', () => {
    const o = new OutBuffer();
    const held = new OutBuffer();
    const q0 = cachedWire(small, false, 0, false);
    const want: Buffer[] = [];
    // Enough rounds to outgrow the first scratch several times.
    for (let i = 1; i <= 300; i++) {
      o.ack(4, i, 0, false);
      want.push(ack3(4, i));
      if (i % 7 === 0) {
        o.packet(q0);
        want.push(q0);
      }
      if (i % 5 === 0) {
        o.publish(cachedWire(small, false, 1, false), 1, false, i);
        want.push(publish3(small, false, i));
      }
      if (i % 11 === 0) {
        held.ack(4, 1000 + i, 0, false);
        held.ack(5, 2000 + i, 0, false);
        o.append(held);
        want.push(ack3(4, 1000 + i), ack3(5, 2000 + i));
        expect(held.count).toBe(0);
      }
    }
    const got = o.take()!;
    expect(got).toEqual(Buffer.concat(want));
    expect(o.bytes).toBe(0);
  });

  it('hands out a single packet by reference and starts over after clear()', () => {
    const o = new OutBuffer();
    const p = Buffer.from([0xd0, 0x00]);
    o.packet(p);
    expect(o.take()).toBe(p);
    o.ack(4, 1, 0, false);
    o.packet(p);
    o.clear();
    expect(o.count).toBe(0);
    expect(o.take()).toBeNull();
    o.ack(4, 2, 0, false);
    expect(o.take()).toEqual(ack3(4, 2));
  });

  it('never reuses a Buffer it has handed out', () => {
    const o = new OutBuffer();
    o.ack(4, 1, 0, false);
    const first = o.take()!;
    const copy = Buffer.from(first);
    o.ack(4, 2, 0, false);
    o.take();
    expect(first).toEqual(copy);
  });
});
