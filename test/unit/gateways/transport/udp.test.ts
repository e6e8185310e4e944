import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { pino } from 'pino';
import { systemClock } from '../../../../src/core/types.js';
import { UdpTransport } from '../../../../gateways/transport/udp.js';
import type { Codec, Link, TransportChannel } from '../../../../gateways/transport/types.js';

type T = { text: string };
const codec: Codec<T> = {
  decode: (buf) => ({ kind: 'frame', frame: { text: buf.toString() }, rest: Buffer.alloc(0) }),
  encode: (f) => Buffer.from(f.text),
  format: (f) => f.text,
};

class Upper implements TransportChannel<T> {
  constructor(private readonly link: Link<T>) {}
  handleFrame(f: T): void {
    this.link.send({ text: f.text.toUpperCase() });
    this.link.send({ text: `${this.link.peer.family}` });
  }
  handleFrameError(): void {}
  handleIdle(): boolean {
    return true;
  }
  handleTransportClosed(): void {}
}

const running: UdpTransport<T, Upper>[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop();
});

async function roundTrip(bind: string, host: string, type: 'udp4' | 'udp6'): Promise<string[]> {
  const t = new UdpTransport<T, Upper>(
    { bind, port: 0 },
    { codec, listener: 'udp:t', clock: systemClock, log: pino({ level: 'silent' }), idleMs: 1000, maxChannels: 0, open: (l) => new Upper(l) },
  );
  running.push(t);
  await t.start();
  expect(t.port).toBeGreaterThan(0);
  const c = dgram.createSocket(type);
  const got: string[] = [];
  const done = new Promise<void>((resolve) =>
    c.on('message', (m) => {
      got.push(m.toString());
      if (got.length === 2) resolve();
    }),
  );
  c.send('hello', t.port, host);
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  c.close();
  return got;
}

describe('UdpTransport', () => {
  it('answers over IPv4 with one datagram per frame', async () => {
    expect(await roundTrip('127.0.0.1', '127.0.0.1', 'udp4')).toEqual(['HELLO', 'IPv4']);
  });

  it('answers over IPv6 on ::1', async () => {
    expect(await roundTrip('::1', '::1', 'udp6')).toEqual(['HELLO', 'IPv6']);
  });

  it('reports the bound address and refuses a port in use', async () => {
    const t = new UdpTransport<T, Upper>(
      { bind: '127.0.0.1', port: 0 },
      { codec, listener: 'udp:t', clock: systemClock, log: pino({ level: 'silent' }), idleMs: 1000, maxChannels: 0, open: (l) => new Upper(l) },
    );
    running.push(t);
    await t.start();
    expect(t.bindAddress).toBe(`127.0.0.1:${t.port}`);
    const u = new UdpTransport<T, Upper>(
      { bind: '127.0.0.1', port: t.port },
      { codec, listener: 'udp:u', clock: systemClock, log: pino({ level: 'silent' }), idleMs: 1000, maxChannels: 0, open: (l) => new Upper(l) },
    );
    await expect(u.start()).rejects.toThrow(/EADDRINUSE/);
  });
});
