import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ChannelMux } from '../../../../gateways/transport/mux.js';
import type { Codec, CodecResult, Link, Peer, TransportChannel } from '../../../../gateways/transport/types.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

// A toy codec: a frame is text; "!" alone is malformed; "@<node>:<inner>" is an envelope.
type T = { text: string };
const codec: Codec<T> = {
  decode(buf): CodecResult<T> {
    const text = buf.toString();
    if (text === '!') return { kind: 'error', code: 'BAD', detail: 'bang' };
    return { kind: 'frame', frame: { text }, rest: Buffer.alloc(0) };
  },
  encode: (f) => Buffer.from(f.text),
  format: (f) => f.text,
};

class Echo implements TransportChannel<T> {
  frames: string[] = [];
  errors: string[] = [];
  idleAsked = 0;
  closedByTransport = false;
  constructor(
    readonly link: Link<T>,
    private readonly stayOnIdle: boolean,
  ) {}
  handleFrame(f: T): void {
    this.frames.push(f.text);
    if (f.text === 'bye') this.link.close();
    else this.link.send({ text: `echo:${f.text}` });
  }
  handleFrameError(code: string): void {
    this.errors.push(code);
  }
  handleIdle(): boolean {
    this.idleAsked++;
    return !this.stayOnIdle;
  }
  handleTransportClosed(): void {
    this.closedByTransport = true;
  }
}

const a: Peer = { address: '10.0.0.1', port: 1000, family: 'IPv4' };
const b: Peer = { address: 'fe80::1', port: 1000, family: 'IPv6' };

function setup(opts: { stayOnIdle?: boolean; maxChannels?: number } = {}) {
  const clock = new FakeClock();
  const sessionsEnded: Peer[] = [];
  const writes: { peer: Peer; bufs: string[] }[] = [];
  const deferred: (() => void)[] = [];
  const channels: Echo[] = [];
  const mux = new ChannelMux<T, Echo>(
    {
      codec,
      listener: 'udp:test',
      clock,
      log: pino({ level: 'silent' }),
      idleMs: 1000,
      maxChannels: opts.maxChannels ?? 0,
      demux: {
        unwrap(f) {
          const m = /^@(\w+):(.*)$/.exec(f.text);
          if (!m) return null;
          return { sub: m[1]!, inner: Buffer.from(m[2]!), wrap: (x) => Buffer.concat([Buffer.from(`@${m[1]}:`), x]) };
        },
      },
      stateless: (f, link) => {
        if (f.text !== 'who') return false;
        link.send({ text: 'gw' });
        return true;
      },
      open: (link) => {
        const c = new Echo(link, opts.stayOnIdle ?? false);
        channels.push(c);
        return c;
      },
      onChannelClosed: (peer) => sessionsEnded.push(peer),
    },
    (peer, bufs) => writes.push({ peer, bufs: bufs.map((x) => x.toString()) }),
    (fn) => deferred.push(fn),
  );
  const tick = (): void => {
    while (deferred.length) deferred.shift()!();
  };
  return { clock, mux, writes, channels, tick, sessionsEnded };
}

describe('ChannelMux', () => {
  it('opens one channel per peer and batches the replies of a tick into one write per peer', () => {
    const { mux, writes, channels, tick } = setup();
    mux.inputDatagram(a, Buffer.from('x'));
    mux.inputDatagram(a, Buffer.from('y'));
    mux.inputDatagram(b, Buffer.from('z'));
    expect(writes).toEqual([]);
    tick();
    expect(channels.length).toBe(2);
    expect(writes).toEqual([
      { peer: a, bufs: ['echo:x', 'echo:y'] },
      { peer: b, bufs: ['echo:z'] },
    ]);
    expect(channels[1]!.link.key).toBe('[fe80::1]:1000');
  });

  it('gives each sub-address of an envelope its own channel and wraps its replies', () => {
    const { mux, writes, channels, tick } = setup();
    mux.inputDatagram(a, Buffer.from('@n1:hello'));
    mux.inputDatagram(a, Buffer.from('@n2:hello'));
    mux.inputDatagram(a, Buffer.from('@n1:again'));
    tick();
    expect(channels.map((c) => c.link.key)).toEqual(['10.0.0.1:1000/n1', '10.0.0.1:1000/n2']);
    expect(channels[0]!.frames).toEqual(['hello', 'again']);
    expect(writes[0]!.bufs).toEqual(['@n1:echo:hello', '@n2:echo:hello', '@n1:echo:again']);
  });

  it('routes decode errors to the existing channel and drops them for unknown peers', () => {
    const { mux, channels } = setup();
    mux.inputDatagram(a, Buffer.from('!'));
    expect(channels.length).toBe(0);
    mux.inputDatagram(a, Buffer.from('x'));
    mux.inputDatagram(a, Buffer.from('!'));
    expect(channels[0]!.errors).toEqual(['BAD']);
  });

  it('answers stateless frames without opening a channel', () => {
    const { mux, writes, channels, tick } = setup();
    mux.inputDatagram(a, Buffer.from('who'));
    tick();
    expect(channels.length).toBe(0);
    expect(mux.size).toBe(0);
    expect(writes).toEqual([{ peer: a, bufs: ['gw'] }]);
  });

  it('forgets a channel that closes its link; the next datagram opens a new one', () => {
    const { mux, channels } = setup();
    mux.inputDatagram(a, Buffer.from('bye'));
    expect(mux.size).toBe(0);
    mux.inputDatagram(a, Buffer.from('x'));
    expect(channels.length).toBe(2);
  });

  it('asks idle channels with one sweep timer and drops those that agree', () => {
    const { mux, clock, channels } = setup();
    mux.inputDatagram(a, Buffer.from('x'));
    clock.advance(600);
    mux.inputDatagram(b, Buffer.from('y'));
    clock.advance(600);
    expect(channels[0]!.idleAsked).toBe(1);
    expect(mux.size).toBe(1);
    clock.advance(1000);
    expect(mux.size).toBe(0);
    expect(clock.pending).toBe(1);
  });

  it('keeps idle channels that decline (connected devices with their own keepalive)', () => {
    const { mux, clock, channels } = setup({ stayOnIdle: true });
    mux.inputDatagram(a, Buffer.from('x'));
    clock.advance(5000);
    expect(channels[0]!.idleAsked).toBeGreaterThan(1);
    expect(mux.size).toBe(1);
  });

  it('refuses new peers over max channels', () => {
    const { mux } = setup({ maxChannels: 1 });
    mux.inputDatagram(a, Buffer.from('x'));
    mux.inputDatagram(b, Buffer.from('x'));
    expect(mux.size).toBe(1);
  });

  it('tells every channel on close and flushes', () => {
    const { mux, channels, writes, clock } = setup();
    mux.inputDatagram(a, Buffer.from('x'));
    mux.close();
    expect(channels[0]!.closedByTransport).toBe(true);
    expect(writes.length).toBe(1);
    expect(mux.size).toBe(0);
    expect(clock.pending).toBe(0);
    mux.inputDatagram(a, Buffer.from('x'));
    expect(channels.length).toBe(1);
  });

  it('rebinds a channel to a new address handed to stateless, replacing what was there', () => {
    const { mux, channels, writes, tick } = setup();
    mux.inputDatagram(a, Buffer.from('x'));
    const first = channels[0]!;
    const c: Peer = { address: '10.0.0.2', port: 2000, family: 'IPv4' };
    mux.inputDatagram(c, Buffer.from('y'));
    const other = channels[1]!;
    expect(mux.rebind(first.link, other.link)).toBe(true);
    expect(other.closedByTransport).toBe(true);
    expect(first.link.key).toBe('10.0.0.2:2000');
    expect(mux.size).toBe(1);
    mux.inputDatagram(c, Buffer.from('z'));
    expect(first.frames).toEqual(['x', 'z']);
    tick();
    expect(writes.at(-1)).toEqual({ peer: c, bufs: ['echo:y', 'echo:z'] });
  });

  it('a channel ending its link ends the peer\'s DTLS session; a session taken over at the address, or shutdown, does not', () => {
    const { mux, channels, sessionsEnded, writes } = setup();
    const s1 = { pskIdentity: 'dev-1' };
    const secure: Peer = { ...a, security: s1 };
    mux.inputDatagram(secure, Buffer.from('hello'));
    mux.inputDatagram(secure, Buffer.from('bye')); // the channel closes its link (as a kick or DISCONNECT does)
    expect(sessionsEnded).toEqual([secure]);
    // Its replies of this tick were written before the session ended, not left for the flush.
    expect(writes).toEqual([{ peer: secure, bufs: ['echo:hello'] }]);
    // A plain UDP peer has no session to end.
    mux.inputDatagram(b, Buffer.from('bye'));
    expect(sessionsEnded).toHaveLength(1);
    // A new session at the same address replaces the old channel: the NEW session must stay.
    mux.inputDatagram(secure, Buffer.from('again'));
    const s2 = { pskIdentity: 'dev-1' };
    mux.inputDatagram({ ...a, security: s2 }, Buffer.from('from the new session'));
    expect(channels.at(-2)!.closedByTransport).toBe(true);
    expect(sessionsEnded).toHaveLength(1);
    // Shutdown: the socket closes every session itself.
    mux.close();
    expect(sessionsEnded).toHaveLength(1);
  });
});
