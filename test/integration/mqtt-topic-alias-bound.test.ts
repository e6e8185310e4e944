// Topic-alias exhaustion (issue 15, resource bounds): a client's inbound topic aliases hold at most
// MAX_ALIAS_TOPIC_BYTES of topic names; past it the connection ends with DISCONNECT 0x97 Quota
// exceeded (an implementation limit, MQTT 5 §4.13) while other clients are served. Re-setting an
// alias replaces its topic and frees the old one's share.
import { describe, expect, it } from 'vitest';
import { MAX_ALIAS_TOPIC_BYTES } from '../../src/mqtt/channel.js';
import { daemonWires, packet, props, str, u16 } from '../conformance/wire.js';

const wires = daemonWires({ config: '[mqtt]\nmax_topic_alias = 1000\n' });

const TOPIC_BYTES = 60_000;
const topic = (i: number): string => `a${i}/`.padEnd(TOPIC_BYTES, 'x');
/** QoS 1 PUBLISH that sets `alias` to `t`. */
const setAlias = (alias: number, t: string, pid: number): Buffer => packet(0x32, str(t), u16(pid), props([0x23], u16(alias)), Buffer.from('p'));

describe('inbound topic aliases are bounded in bytes', () => {
  it('aliases past the byte bound: DISCONNECT 0x97 Quota exceeded; a bystander is still served', async () => {
    const bystander = await wires.connected(5);
    await bystander.send(packet(0x82, u16(1), props(), str('by/t'), [1]));
    expect((await bystander.nextOf(0x90))?.at(-1)).toBe(1);
    const w = await wires.connected(5);
    const fit = Math.floor(MAX_ALIAS_TOPIC_BYTES / TOPIC_BYTES);
    for (let i = 1; i <= fit; i++) {
      await w.send(setAlias(i, topic(i), i));
      expect((await w.nextOf(0x40))?.readUInt16BE(2)).toBe(i);
    }
    // The last alias set still works through the alias alone.
    await w.send(packet(0x32, str(''), u16(100), props([0x23], u16(fit)), Buffer.from('p')));
    expect((await w.nextOf(0x40))?.readUInt16BE(2)).toBe(100);
    await w.send(setAlias(fit + 1, topic(fit + 1), 101));
    expect((await w.nextOf(0xe0))?.toString('hex')).toBe('e0029700');
    expect(await w.closedWithin()).toBe(true);
    const pub = await wires.connected(5);
    await pub.send(packet(0x32, str('by/t'), u16(1), props(), Buffer.from('still')));
    expect((await pub.nextOf(0x40))?.readUInt16BE(2)).toBe(1);
    expect((await bystander.nextOf(0x32))?.subarray(-5).toString()).toBe('still');
  });

  it('re-setting one alias to ever new long topics stays within the bound and keeps the connection', async () => {
    const w = await wires.connected(5);
    const rounds = Math.ceil((3 * MAX_ALIAS_TOPIC_BYTES) / TOPIC_BYTES);
    for (let i = 1; i <= rounds; i++) {
      await w.send(setAlias(1, topic(i), i));
      expect((await w.nextOf(0x40))?.readUInt16BE(2)).toBe(i);
    }
    expect(w.closed).toBe(false);
  });
});
