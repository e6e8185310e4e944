// What the TCP and WebSocket transport tests share: a toy line codec, an echo channel driven by commands,
// the common StreamOptions with counters and captured logs, and a bounded wait.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FakeClock } from '../../../helpers/fake-clock.js';
import type { StreamChannel, StreamCloseReason, StreamCodec, StreamCounter, StreamLink, StreamOptions } from '../../../../gateways/transport/stream-types.js';

// Toy line codec: one frame per '\n'-terminated line (STOMP over WS may put several in a message); a NUL
// byte in a line is malformed.
export type Line = { text: string };
export const lineCodec: StreamCodec<Line> = {
  decodeStream(buf) {
    const nl = buf.indexOf(0x0a);
    if (nl < 0) return { kind: 'more' };
    const line = buf.subarray(0, nl);
    if (line.includes(0)) return { kind: 'error', code: 'bad_byte', detail: 'NUL in line' };
    return { kind: 'frame', frame: { text: line.toString('latin1') }, rest: buf.subarray(nl + 1) };
  },
  decode(buf) {
    return this.decodeStream(buf);
  },
  encode: (f) => Buffer.from(`${f.text}\n`, 'latin1'),
  format: (f) => f.text.slice(0, 20),
};

// Toy channel: echoes upper-cased, plus a few commands that exercise the link.
export class Echo implements StreamChannel<Line> {
  frames: string[] = [];
  errors: string[] = [];
  closed: StreamCloseReason[] = [];
  idleAsked = 0;
  transportClosed = false;
  constructor(
    readonly link: StreamLink<Line>,
    private readonly idleAnswer = true,
  ) {}
  handleFrame(f: Line): void {
    this.frames.push(f.text);
    const [cmd, arg] = f.text.split(' ');
    if (cmd === 'bye') this.link.close({ text: 'BYE' });
    else if (cmd === 'burst') for (let i = 0; i < Number(arg); i++) this.link.send({ text: `b${i}` });
    else if (cmd === 'cert') this.link.send({ text: `cn=${this.link.cert?.commonName ?? 'none'}` });
    else if (cmd === 'proto') this.link.send({ text: `proto=${this.link.subprotocol}` });
    else if (cmd === 'flood') for (let i = 0; i < Number(arg); i++) this.link.send({ text: 'x'.repeat(1 << 20) });
    else this.link.send({ text: f.text.toUpperCase() });
  }
  handleFrameError(code: string): void {
    this.errors.push(code);
    this.link.send({ text: `ERROR ${code}` });
  }
  handleIdle(): boolean {
    this.idleAsked++;
    return this.idleAnswer;
  }
  handleClosed(reason: StreamCloseReason): void {
    this.closed.push(reason);
  }
  handleTransportClosed(): void {
    this.transportClosed = true;
    this.link.send({ text: 'SHUTDOWN' });
  }
}

export interface EchoRig {
  clock: FakeClock;
  channels: Echo[];
  counts: Map<StreamCounter, number>;
  logs: { msg: string; reason?: string; peer?: string }[];
  opts: StreamOptions<Line, Echo>;
}

/** The StreamOptions both transports' tests start from (limits roomy, logs captured), `over` on top. */
export function echoRig(listener: string, over: Partial<StreamOptions<Line, Echo>> = {}, idleAnswer = true): EchoRig {
  const clock = new FakeClock();
  const channels: Echo[] = [];
  const counts = new Map<StreamCounter, number>();
  const logs: EchoRig['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as EchoRig['logs'][number]);
      cb();
    },
  });
  const opts: StreamOptions<Line, Echo> = {
    codec: lineCodec,
    listener,
    clock,
    log: pino({ level: 'info' }, sink),
    idleMs: 60_000,
    maxConnections: 0,
    firstFrameMs: 30_000,
    maxBufferedBytes: 4096,
    writeHighWater: 64 * 1024,
    drainTimeoutMs: 5_000,
    open: (link) => {
      const ch = new Echo(link, idleAnswer);
      channels.push(ch);
      return ch;
    },
    count: (n) => counts.set(n, (counts.get(n) ?? 0) + 1),
    ...over,
  };
  return { clock, channels, counts, logs, opts };
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}
