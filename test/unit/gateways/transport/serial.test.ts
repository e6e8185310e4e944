import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { SerialPort } from 'serialport';
import { pino } from 'pino';
import { systemClock } from '../../../../src/core/types.js';
import { SerialTransport } from '../../../../gateways/transport/serial.js';
import type { Codec, CodecResult, Link, TransportChannel } from '../../../../gateways/transport/types.js';

// Length-prefixed toy codec: [len][bytes...]; len 0 is malformed.
type T = { text: string };
const codec: Codec<T> = {
  decode: (buf) => ({ kind: 'frame', frame: { text: buf.subarray(1).toString() }, rest: Buffer.alloc(0) }),
  decodeStream(buf): CodecResult<T> {
    if (buf.length < 1) return { kind: 'more' };
    if (buf[0] === 0) return { kind: 'error', code: 'BAD', detail: 'zero length' };
    if (buf.length < buf[0]! + 1) return { kind: 'more' };
    return { kind: 'frame', frame: { text: buf.subarray(1, buf[0]! + 1).toString() }, rest: buf.subarray(buf[0]! + 1) };
  },
  encode: (f) => Buffer.concat([Buffer.from([f.text.length]), Buffer.from(f.text)]),
  format: (f) => f.text,
};

class Rev implements TransportChannel<T> {
  seen: string[] = [];
  constructor(private readonly link: Link<T>) {}
  handleFrame(f: T): void {
    this.seen.push(f.text);
    this.link.send({ text: [...f.text].reverse().join('') });
  }
  handleFrameError(): void {}
  handleIdle(): boolean {
    return false;
  }
  handleTransportClosed(): void {}
}

/** A pty pair from socat: [gateway side, device side]. */
async function ptyPair(): Promise<{ proc: ChildProcess; a: string; b: string }> {
  const proc = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const paths = await new Promise<string[]>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`socat: ${err}`)), 5000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = [...err.matchAll(/PTY is (\S+)/g)].map((x) => x[1]!);
      if (m.length === 2) {
        clearTimeout(t);
        resolve(m);
      }
    });
  });
  return { proc, a: paths[0]!, b: paths[1]! };
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('SerialTransport over a pty pair', () => {
  it('cuts messages out of the byte stream, resynchronises after garbage and writes replies', async () => {
    const { proc, a, b } = await ptyPair();
    cleanup.push(() => {
      proc.kill('SIGTERM');
    });
    const channels: Rev[] = [];
    const t = new SerialTransport<T, Rev>(
      { device: a, baudRate: 115200, frameTimeoutMs: 500, reopenMs: 0, drainTimeoutMs: 1000 },
      {
        codec,
        listener: 'serial:t',
        clock: systemClock,
        log: pino({ level: 'silent' }),
        idleMs: 0,
        maxChannels: 0,
        open: (l) => {
          const c = new Rev(l);
          channels.push(c);
          return c;
        },
      },
    );
    await t.start();
    cleanup.push(() => t.stop());
    expect(t.running).toBe(true);

    const dev = new SerialPort({ path: b, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => dev.once('open', resolve).once('error', reject));
    cleanup.push(() => new Promise<void>((r) => dev.close(() => r())));
    const got: Buffer[] = [];
    dev.on('data', (d: Buffer) => got.push(d));
    // Two messages split across writes, with a zero byte of garbage between them.
    dev.write(Buffer.from([3, 0x61, 0x62]));
    await new Promise((r) => setTimeout(r, 50));
    dev.write(Buffer.from([0x63, 0, 2, 0x78, 0x79]));
    const deadline = Date.now() + 3000;
    while (Buffer.concat(got).length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(channels.length).toBe(1);
    expect(channels[0]!.seen).toEqual(['abc', 'xy']);
    expect(Buffer.concat(got)).toEqual(Buffer.from([3, 0x63, 0x62, 0x61, 2, 0x79, 0x78]));
  });

  it('rejects start when the device does not exist', async () => {
    const t = new SerialTransport<T, Rev>(
      { device: '/dev/does-not-exist-outpost', baudRate: 9600, frameTimeoutMs: 500, reopenMs: 0, drainTimeoutMs: 1000 },
      { codec, listener: 'serial:t', clock: systemClock, log: pino({ level: 'silent' }), idleMs: 0, maxChannels: 0, open: (l) => new Rev(l) },
    );
    await expect(t.start()).rejects.toThrow();
    await t.stop();
  });
});
