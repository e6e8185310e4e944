import { parser } from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { cachedWire, encodePublish } from '../../../src/mqtt/publish-codec.js';
import { OutBuffer } from '../../../src/mqtt/out-buffer.js';
import { FrameSplitter } from '../../../src/mqtt/frame.js';
import { decodePublish, TopicCache } from '../../../src/mqtt/hot-codec.js';

function parse(buf: Buffer, v: 4 | 5): IPublishPacket {
  const p = parser({ protocolVersion: v });
  let out: Packet | null = null;
  p.on('packet', (x: Packet) => (out = x));
  p.on('error', (e: Error) => {
    throw e;
  });
  p.parse(buf);
  return out as unknown as IPublishPacket;
}

describe('PUBLISH encoder', () => {
  const m = createMessage({
    topic: 'a/b',
    payload: Buffer.from('hello'),
    qos: 2,
    retain: true,
    props: { contentType: 'text/plain', responseTopic: 'r/t', correlationData: Buffer.from('cd'), userProperties: [['k', 'v'], ['m', '1'], ['m', '2']], payloadFormatIndicator: true },
    now: 1000,
  });

  it('round-trips v3/v4 through mqtt-packet', () => {
    const p = parse(encodePublish(m, m.topic, false, 1, false, true, 42, { expiry: -1, subIds: null, alias: 0, aliasOnly: false }), 4);
    expect(p).toMatchObject({ cmd: 'publish', topic: 'a/b', qos: 1, dup: true, retain: false, messageId: 42 });
    expect(p.payload.toString()).toBe('hello');
  });

  it('round-trips v5 properties, subscription ids, alias and expiry', () => {
    const p = parse(encodePublish(m, m.topic, true, 2, true, false, 7, { expiry: 30, subIds: [3, 200], alias: 5, aliasOnly: false }), 5);
    expect(p.properties).toEqual({
      payloadFormatIndicator: true,
      messageExpiryInterval: 30,
      contentType: 'text/plain',
      responseTopic: 'r/t',
      correlationData: Buffer.from('cd'),
      subscriptionIdentifier: [3, 200],
      topicAlias: 5,
      userProperties: { k: 'v', m: ['1', '2'] },
    });
    const aliasOnly = parse(encodePublish(m, m.topic, true, 0, false, false, 0, { expiry: -1, subIds: null, alias: 5, aliasOnly: true }), 5);
    expect(aliasOnly.topic).toBe('');
  });

  it('writes user properties in their order, repeats interleaved [MQTT-3.3.2-18]', () => {
    const up: [string, string][] = [['b', '1'], ['a', 'x'], ['b', '2'], ['1', 'numeric-looking'], ['a', 'y']];
    const msg = createMessage({ topic: 't', payload: Buffer.from('p'), qos: 0, retain: false, props: { userProperties: up }, now: 1 });
    const frame = encodePublish(msg, msg.topic, true, 1, false, false, 9, { expiry: -1, subIds: null, alias: 0, aliasOnly: false });
    const back = decodePublish(frame, true);
    expect(typeof back === 'string' ? back : back.props?.userProperties).toEqual(up);
  });

  it('caches the wire form per version/qos/retain; a delivery patches packet id and DUP into its copy', () => {
    const wire = cachedWire(m, true, 1, false);
    expect(cachedWire(m, true, 1, false)).toBe(wire);
    expect(cachedWire(m, false, 1, false)).not.toBe(wire);
    const delivered = (msg: typeof m, v5: boolean, dup: boolean, pid: number): Buffer => {
      const o = new OutBuffer();
      o.publish(cachedWire(msg, v5, 1, false), 1, dup, pid);
      return o.take()!;
    };
    expect(parse(delivered(m, true, false, 10), 5).messageId).toBe(10);
    expect(parse(delivered(m, true, true, 11), 5)).toMatchObject({ messageId: 11, dup: true });
    expect(parse(cachedWire(m, true, 1, false), 5)).toMatchObject({ messageId: 1, dup: false }); // the cache stays as made
    const q0 = cachedWire(m, false, 0, false);
    expect(cachedWire(m, false, 0, false)).toBe(q0); // shared for a QoS 0 fan-out
    const big = createMessage({ topic: 't'.repeat(300), payload: Buffer.alloc(70_000, 1), qos: 1, retain: false, now: 1 });
    const pb = parse(delivered(big, false, false, 65535), 4);
    expect(pb.messageId).toBe(65535);
    expect(pb.payload.length).toBe(70_000);
  });
});

describe('frame splitter', () => {
  it('splits at every offset the same way and refuses oversized lengths from the header', () => {
    const m = createMessage({ topic: 'x', payload: Buffer.alloc(300, 2), qos: 0, retain: false, now: 1 });
    const one = encodePublish(m, 'x', false, 0, false, false, 0, { expiry: -1, subIds: null, alias: 0, aliasOnly: false });
    const stream = Buffer.concat([one, one, one]);
    for (let cut = 1; cut < stream.length; cut += 37) {
      const s = new FrameSplitter(1 << 20);
      const frames: Buffer[] = [];
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
        s.push(part);
        for (let r = s.next(); typeof r !== 'string'; r = s.next()) frames.push(r);
      }
      expect(frames.map((f) => f.length)).toEqual([one.length, one.length, one.length]);
    }
    const s = new FrameSplitter(100);
    s.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
    expect(s.next()).toBe('packet_too_large');
    const bad = new FrameSplitter(1 << 20);
    bad.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(bad.next()).toBe('malformed_length');
  });
});

describe('frame splitter cursor', () => {
  it('returns the same bytes across three-way splits, with buffered and peek() following the cursor', () => {
    const mk = (t: string, n: number) => encodePublish(createMessage({ topic: t, payload: Buffer.alloc(n, n), qos: 0, retain: false, now: 1 }), t, false, 0, false, false, 0, { expiry: -1, subIds: null, alias: 0, aliasOnly: false });
    const packets = [mk('a', 3), mk('bb', 200), mk('c', 0), mk('dddd', 17)];
    const stream = Buffer.concat(packets);
    for (let a = 1; a < stream.length; a += 13) {
      for (let b = a; b < stream.length; b += 29) {
        const s = new FrameSplitter(1 << 20);
        const frames: Buffer[] = [];
        let pushed = 0;
        for (const part of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]) {
          s.push(part);
          pushed += part.length;
          for (let r = s.next(); typeof r !== 'string'; r = s.next()) frames.push(Buffer.from(r));
          const used = frames.reduce((n, f) => n + f.length, 0);
          expect(s.buffered).toBe(pushed - used);
          if (s.buffered > 0) expect(s.peek()).toEqual(stream.subarray(used, pushed));
        }
        expect(frames).toEqual(packets);
        expect(s.buffered).toBe(0);
        expect(s.peek()).toBeNull();
      }
    }
  });
});

describe('PUBLISH decode with a topic cache', () => {
  const enc = (topic: string | Buffer, v5 = false) => {
    const t = typeof topic === 'string' ? Buffer.from(topic) : topic;
    const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, Buffer.from([0, 1]), v5 ? Buffer.from([0]) : Buffer.alloc(0), Buffer.from('x')]);
    return Buffer.concat([Buffer.from([0x32, body.length]), body]);
  };

  it('decodes repeated, changed and same-length topics exactly as without a cache', () => {
    const c = new TopicCache();
    for (const t of ['a/b', 'a/b', 'a/c', 'x/y', 'a/b', '', 'ü/€', 'ü/€', 'a'.repeat(300), 'a'.repeat(300)]) {
      for (const v5 of [false, true]) {
        const withCache = decodePublish(enc(t, v5), v5, c);
        const without = decodePublish(enc(t, v5), v5);
        expect(withCache).toEqual(without);
        expect(typeof withCache === 'string' ? null : withCache.topic).toBe(t);
      }
    }
  });

  it('still refuses ill-formed UTF-8 after a well-formed topic of the same length [MQTT-1.5.4-1]', () => {
    const c = new TopicCache();
    expect(decodePublish(enc('ab'), false, c)).toMatchObject({ topic: 'ab' });
    expect(decodePublish(enc(Buffer.from([0x61, 0xff])), false, c)).toBe('bad topic string');
    expect(decodePublish(enc('ab'), false, c)).toMatchObject({ topic: 'ab' });
  });
});
