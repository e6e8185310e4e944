// FrameSplitter: whole MQTT packets out of a byte stream, whatever the chunking.
import { describe, expect, it } from 'vitest';
import { FrameSplitter, type SplitResult } from '../../../src/mqtt/frame.js';
import { packet } from '../../helpers/mqtt-wire.js';
import { mulberry32 } from '../../helpers/prng.js';

function drain(sp: FrameSplitter, out: Buffer[]): SplitResult | null {
  for (;;) {
    const r = sp.next();
    if (typeof r === 'string') return r === 'more' ? null : r;
    out.push(Buffer.from(r));
  }
}

const packets = [packet(0xc0, Buffer.alloc(0)), packet(0x30, Buffer.alloc(300, 1)), packet(0x32, Buffer.alloc(70_000, 2)), packet(0xe0, Buffer.alloc(0)), packet(0x30, Buffer.alloc(5, 3))];
const stream = Buffer.concat(packets);

describe('FrameSplitter', () => {
  it('yields the same packets for any chunking, including a large packet trickled a byte at a time', () => {
    const rnd = mulberry32(7);
    const chunkings: ((i: number) => number)[] = [() => 1, () => 2, () => stream.length, () => 1 + Math.floor(rnd() * 4096), () => 1 + Math.floor(rnd() * 7)];
    for (const size of chunkings) {
      const sp = new FrameSplitter(1 << 20);
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; ) {
        const n = Math.min(size(i), stream.length - i);
        sp.push(stream.subarray(i, i + n));
        i += n;
        expect(drain(sp, out)).toBeNull();
      }
      expect(out).toEqual(packets);
      expect(sp.buffered).toBe(0);
    }
  });

  it('counts and shows the bytes of a packet still arriving', () => {
    const sp = new FrameSplitter(1 << 20);
    const big = packets[2]!;
    sp.push(big.subarray(0, 10));
    expect(sp.next()).toBe('more');
    sp.push(big.subarray(10, 20));
    sp.push(big.subarray(20, 30));
    expect(sp.buffered).toBe(30);
    expect(sp.next()).toBe('more');
    expect(sp.peek()).toEqual(big.subarray(0, 30));
    sp.push(big.subarray(30));
    expect(sp.next()).toEqual(big);
  });

  it('refuses a packet over the size limit from its fixed header, and a remaining length over four bytes', () => {
    const sp = new FrameSplitter(1000);
    sp.push(Buffer.from([0x30, 0xe9, 0x07]));
    expect(sp.next()).toBe('packet_too_large');
    const bad = new FrameSplitter(1 << 20);
    bad.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(bad.next()).toBe('malformed_length');
  });
});
