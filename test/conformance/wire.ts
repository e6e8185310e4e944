// Raw MQTT bytes over TCP for the conformance tests: builders for exact frames (from
// test/helpers/mqtt-wire.ts), the shared daemon setup, and a connection that records every byte the
// server sends and whether it closed. The tests assert bytes, not a library's reading of them.
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { startDaemon, type Daemon, type DaemonOptions } from '../helpers/daemon.js';
import { packet, props, str, u16 } from '../helpers/mqtt-wire.js';

export { packet, props, str, u16, u32, varint } from '../helpers/mqtt-wire.js';

export interface ConnectFields {
  level?: 3 | 4 | 5;
  /** The connect flags byte as sent; default clean start only. */
  flags?: number;
  keepalive?: number;
  /** v5 property block (default empty). */
  properties?: Buffer;
  /** The payload as sent, after the client id (will props/topic/payload, user name, password). */
  rest?: Buffer[];
  clientId?: string | Buffer;
  first?: number;
}

export function connectFrame(f: ConnectFields = {}): Buffer {
  const level = f.level ?? 5;
  const name = level === 3 ? 'MQIsdp' : 'MQTT';
  return packet(
    f.first ?? 0x10,
    str(name),
    [level, f.flags ?? 0x02],
    u16(f.keepalive ?? 60),
    level === 5 ? (f.properties ?? props()) : Buffer.alloc(0),
    str(f.clientId ?? `c${Math.random().toString(16).slice(2, 10)}`),
    ...(f.rest ?? []),
  );
}

/** One TCP connection that keeps every byte received and tracks closing. */
export class Wire {
  private data = Buffer.alloc(0);
  private readonly sock: Socket;
  closed = false;
  private readonly ready: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.sock = netConnect({ host: '127.0.0.1', port });
    this.sock.on('data', (b: Buffer) => {
      this.data = Buffer.concat([this.data, b]);
      this.wake();
    });
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.ready = new Promise((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  async send(...frames: Buffer[]): Promise<void> {
    await this.ready;
    this.sock.write(Buffer.concat(frames));
  }

  /** The next whole packet the server sent, or null if the connection closed (or `ms` passed) first. */
  async next(ms = 3000): Promise<Buffer | null> {
    let size = -1;
    const whole = (): boolean => {
      const d = this.data;
      if (d.length < 2) return false;
      let len = 0;
      let mul = 1;
      let i = 1;
      for (;;) {
        if (i >= d.length) return false;
        const c = d[i]!;
        len += (c & 0x7f) * mul;
        mul *= 128;
        i++;
        if ((c & 0x80) === 0) break;
      }
      size = i + len;
      return d.length >= size;
    };
    await this.until(() => whole() || this.closed, ms);
    if (!whole()) return null;
    const p = this.data.subarray(0, size);
    this.data = this.data.subarray(size);
    return p;
  }

  /** Skip packets until one whose first byte is `first` (e.g. 0x90 SUBACK); null if none came. */
  async nextOf(first: number, ms = 3000): Promise<Buffer | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const p = await this.next(Math.max(1, deadline - Date.now()));
      if (p === null || p[0] === first) return p;
    }
  }

  /** Did the server close the connection within `ms`? */
  async closedWithin(ms = 3000): Promise<boolean> {
    return this.until(() => this.closed, ms);
  }

  /** Bytes received and not yet taken by next(). */
  get pending(): Buffer {
    return this.data;
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Opens connections on one daemon and destroys them after the file. */
export class Wires {
  private readonly all: Wire[] = [];
  constructor(private readonly port: () => number) {}

  open(): Wire {
    const w = new Wire(this.port());
    this.all.push(w);
    return w;
  }

  /** A connection past CONNECT/CONNACK (level 5 by default). */
  async connected(level: 3 | 4 | 5 = 5, f: ConnectFields = {}): Promise<Wire> {
    const w = this.open();
    await w.send(connectFrame({ ...f, level }));
    const ack = await w.next();
    if (ack === null || ack[0] !== 0x20) throw new Error(`no CONNACK: ${ack?.toString('hex')}`);
    if (ack[3] !== 0) throw new Error(`CONNACK refused: ${ack.toString('hex')}`);
    return w;
  }

  closeAll(): void {
    for (const w of this.all) w.destroy();
  }

  /** Connect at `level`, send `frame`, and report what the server did with it. */
  async sendAfterConnect(level: 4 | 5, frame: Buffer): Promise<{ reply: string | null; closed: boolean }> {
    const w = await this.connected(level);
    await w.send(frame);
    return outcome(w);
  }
}

/**
 * The setup every conformance file shares: one daemon for the file (started before its tests, stopped
 * after them) and the connections opened on it, all destroyed at the end.
 */
export function daemonWires(opts: DaemonOptions = {}): Wires {
  let d: Daemon | undefined;
  const wires = new Wires(() => d!.mqttPort);
  beforeAll(async () => {
    d = await startDaemon(opts);
  });
  afterAll(async () => {
    wires.closeAll();
    await d?.stop();
    d?.cleanup();
  });
  return wires;
}

/** Outcomes of a refused packet after CONNECT: v5 DISCONNECT 0x81 / 0x82 then close; a bare close. */
export const MALFORMED = { reply: 'e0028100', closed: true };
export const PROTOCOL_ERROR = { reply: 'e0028200', closed: true };
export const CLOSED = { reply: null, closed: true };

/**
 * What the server did with the last input: the hex of the next packet it sent (null if none) and
 * whether it then closed the connection.
 */
export async function outcome(w: Wire, ms = 3000): Promise<{ reply: string | null; closed: boolean }> {
  const p = await w.next(ms);
  const closed = await w.closedWithin(ms);
  return { reply: p === null ? null : p.toString('hex'), closed };
}
