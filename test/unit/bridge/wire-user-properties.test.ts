import mqttPacket from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { appendUserProperties, readUserProperties } from '../../../src/core/user-properties.js';
import { publishUserProperties } from '../../../src/bridge/wire.js';
import { FrameReader } from '../../../src/bridge/frames.js';

function parse(buf: Buffer): IPublishPacket {
  const p = mqttPacket.parser({ protocolVersion: 5 });
  let out: Packet | null = null;
  p.on('packet', (x: Packet) => (out = x));
  p.parse(buf);
  return out as unknown as IPublishPacket;
}

const UP: [string, string][] = [['b', '1'], ['a', 'x'], ['b', '2'], ['ü', 'ß'], ['a', '']];

// The bridge writes and reads user properties in wire order around mqtt-packet [MQTT-3.3.2-18].
describe('bridge wire: ordered user properties', () => {
  for (const qos of [0, 1] as const) {
    it(`appends pairs to a generated QoS ${qos} PUBLISH and reads them back in order`, () => {
      const p: IPublishPacket = { cmd: 'publish', topic: 't/1', payload: Buffer.from('payload'), qos, retain: false, dup: false, properties: { contentType: 'text/plain', messageExpiryInterval: 9 } };
      if (qos) p.messageId = 5;
      const frame = appendUserProperties(mqttPacket.generate(p, { protocolVersion: 5 }), UP);
      expect(publishUserProperties(frame)).toEqual(UP);
      const back = parse(frame);
      expect(back).toMatchObject({ topic: 't/1', qos, properties: { contentType: 'text/plain', messageExpiryInterval: 9 } });
      expect(back.payload.toString()).toBe('payload');
    });
  }

  it('handles a property list that grows past one length byte', () => {
    const many: [string, string][] = Array.from({ length: 40 }, (_, i) => [`k${i % 3}`, `v${i}`]);
    const frame = appendUserProperties(mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(200, 1), qos: 0, retain: false, dup: false }, { protocolVersion: 5 }), many);
    expect(publishUserProperties(frame)).toEqual(many);
    expect(parse(frame).payload.length).toBe(200);
  });

  it('refuses a truncated or unknown property list', () => {
    expect(readUserProperties(Buffer.from([3, 0x26, 0, 1]), 0, 4)).toBeNull();
    expect(readUserProperties(Buffer.from([2, 0x7f, 0]), 0, 3)).toBeNull();
    expect(readUserProperties(Buffer.from([0]), 0, 1)).toEqual([]);
  });

  it('FrameReader splits a stream cut anywhere into whole packets', () => {
    const frames = [0, 1, 2].map((i) => appendUserProperties(mqttPacket.generate({ cmd: 'publish', topic: `t/${i}`, payload: Buffer.alloc(300 * i, i), qos: 0, retain: false, dup: false }, { protocolVersion: 5 }), UP));
    const all = Buffer.concat(frames);
    for (const step of [1, 7, 64, all.length]) {
      const r = new FrameReader();
      const got: Buffer[] = [];
      for (let o = 0; o < all.length; o += step) {
        r.push(all.subarray(o, o + step));
        for (let f = r.next(); f !== null; f = r.next()) {
          if (f === 'malformed') throw new Error('malformed');
          got.push(Buffer.from(f));
        }
      }
      expect(got).toEqual(frames);
    }
    const bad = new FrameReader();
    bad.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(bad.next()).toBe('malformed');
  });
});
