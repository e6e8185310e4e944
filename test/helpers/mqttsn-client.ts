// An MQTT-SN 1.2 client for tests: over UDP (v4/v6), over a serial line (a pty from socat), and
// behind a forwarder (encapsulation, one client per wireless node id). It speaks frames from the
// gateway's own codec but keeps its own state; every wait is bounded.
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { SerialPort } from 'serialport';
import { decode, decodeStream, encode, type Frame, type SnQoS } from '../../gateways/mqttsn/frame.js';

/** Bytes in and out, one MQTT-SN message per call. */
export interface SnWire {
  send(buf: Buffer): void;
  onMessage(fn: (buf: Buffer) => void): void;
  close(): Promise<void>;
}

export function udpWire(port: number, host = '127.0.0.1'): Promise<SnWire & { localPort: number }> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, host, () => {
      sock.off('error', reject);
      const fns: ((b: Buffer) => void)[] = [];
      sock.on('message', (m) => fns.forEach((f) => f(m)));
      resolve({
        localPort: sock.address().port,
        send: (b) => sock.send(b, port, host),
        onMessage: (f) => void fns.push(f),
        close: () => new Promise<void>((r) => sock.close(() => r())),
      });
    });
  });
}

/** A serial line: messages are cut out of the byte stream by their length header. */
export async function serialWire(path: string): Promise<SnWire> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const fns: ((b: Buffer) => void)[] = [];
  let buf = Buffer.alloc(0);
  port.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const r = decodeStream(buf);
      if (r.kind !== 'frame') break;
      const used = buf.length - r.rest.length;
      const msg = buf.subarray(0, used);
      buf = r.rest;
      fns.forEach((f) => f(msg));
    }
  });
  port.on('error', () => {});
  return {
    send: (b) => void port.write(b),
    onMessage: (f) => void fns.push(f),
    close: () => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())),
  };
}

/** A forwarder: wraps each node's messages in encapsulation (MQTT-SN 1.2 §5.5) and routes replies by node id. */
export class Forwarder {
  private readonly nodes = new Map<string, (b: Buffer) => void>();
  constructor(private readonly wire: SnWire) {
    wire.onMessage((b) => {
      const r = decode(b);
      if (r.kind !== 'frame' || r.frame.type !== 'encapsulated') return;
      this.nodes.get(r.frame.nodeId.toString('hex'))?.(r.frame.inner);
    });
  }
  node(nodeId: Buffer): SnWire {
    const fns: ((b: Buffer) => void)[] = [];
    this.nodes.set(nodeId.toString('hex'), (b) => fns.forEach((f) => f(b)));
    return {
      send: (b) => this.wire.send(encode({ type: 'encapsulated', radius: 0, nodeId, inner: b })),
      onMessage: (f) => void fns.push(f),
      close: async () => void this.nodes.delete(nodeId.toString('hex')),
    };
  }
  close(): Promise<void> {
    return this.wire.close();
  }
}

export class SnClient {
  readonly frames: Frame[] = [];
  readonly raw: Buffer[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly wire: SnWire) {
    wire.onMessage((b) => {
      this.raw.push(b);
      const r = decode(b);
      if (r.kind === 'frame') this.frames.push(r.frame);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async udp(port: number, host = '127.0.0.1'): Promise<SnClient> {
    return new SnClient(await udpWire(port, host));
  }

  send(f: Frame): void {
    this.wire.send(encode(f));
  }

  /** The next received frame matching `type` (earlier non-matching ones are kept). */
  async next<T extends Frame['type']>(type: T, ms = 3000): Promise<Extract<Frame, { type: T }>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0] as Extract<Frame, { type: T }>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${type}; have ${this.frames.map((f) => f.type).join(',')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The next frame whatever its type. */
  async any(ms = 3000): Promise<Frame> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for any frame`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames.shift()!;
  }

  /** Wait `ms` and return whatever arrived (to check that nothing did). */
  async quiet(ms: number): Promise<Frame[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.splice(0);
  }

  /** CONNECT (with the will handshake when `will` is given); resolves the CONNACK code. */
  async connect(clientId: string, o: { clean?: boolean; duration?: number; will?: { topic: string; payload: string; qos?: SnQoS; retain?: boolean } } = {}): Promise<number> {
    this.send({ type: 'connect', will: o.will !== undefined, cleanSession: o.clean ?? true, protocolId: 1, duration: o.duration ?? 60, clientId });
    if (o.will) {
      await this.next('willtopicreq');
      this.send({ type: 'willtopic', qos: o.will.qos ?? 0, retain: o.will.retain ?? false, topic: o.will.topic });
      await this.next('willmsgreq');
      this.send({ type: 'willmsg', payload: Buffer.from(o.will.payload) });
    }
    return (await this.next('connack')).rc;
  }

  private msgId = 1;
  nextMsgId(): number {
    return this.msgId++;
  }

  async register(topic: string): Promise<{ topicId: number; rc: number }> {
    const msgId = this.nextMsgId();
    this.send({ type: 'register', topicId: 0, msgId, topicName: topic });
    const a = await this.next('regack');
    if (a.msgId !== msgId) throw new Error(`REGACK for ${a.msgId}, expected ${msgId}`);
    return { topicId: a.topicId, rc: a.rc };
  }

  async subscribe(topic: { name: string } | { predefined: number } | { short: string }, qos: SnQoS = 0): Promise<Extract<Frame, { type: 'suback' }>> {
    const msgId = this.nextMsgId();
    const t = 'name' in topic ? { idType: 0 as const, name: topic.name } : 'predefined' in topic ? { idType: 1 as const, id: topic.predefined } : { idType: 2 as const, name: topic.short };
    this.send({ type: 'subscribe', dup: false, qos, msgId, topic: t });
    return this.next('suback');
  }

  publish(o: { topicId: number; topicIdType?: 0 | 1 | 2; qos?: SnQoS; payload: string | Buffer; msgId?: number; retain?: boolean; dup?: boolean }): number {
    const qos = o.qos ?? 0;
    const msgId = o.msgId ?? (qos > 0 ? this.nextMsgId() : 0);
    this.send({
      type: 'publish',
      dup: o.dup ?? false,
      qos,
      retain: o.retain ?? false,
      topicIdType: o.topicIdType ?? 0,
      topicId: o.topicId,
      msgId,
      payload: typeof o.payload === 'string' ? Buffer.from(o.payload) : o.payload,
    });
    return msgId;
  }

  close(): Promise<void> {
    return this.wire.close();
  }
}

/** `socat -d -d pty,raw,echo=0 pty,raw,echo=0`: two linked ptys, killed by PID in stop(). */
export async function ptyPair(): Promise<{ proc: ChildProcess; gateway: string; device: string; stop(): void }> {
  const proc = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const paths = await new Promise<string[]>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`socat gave no ptys: ${err}`)), 5000);
    proc.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = [...err.matchAll(/PTY is (\S+)/g)].map((x) => x[1]!);
      if (m.length === 2) {
        clearTimeout(t);
        resolve(m);
      }
    });
  });
  return {
    proc,
    gateway: paths[0]!,
    device: paths[1]!,
    stop: () => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid!, 'SIGTERM');
    },
  };
}
