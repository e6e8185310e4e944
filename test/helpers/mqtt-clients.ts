// Small promise helpers around MQTT.js, a raw mqtt-packet client (to see DUP flags, hold back acks
// and send malformed bytes), and spawned mosquitto_pub/mosquitto_sub. Every wait is bounded; every
// child process is killed by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type IClientPublishOptions, type IClientSubscribeOptions, type ISubscriptionGrant, type MqttClient, type Packet as MqttJsPacket } from 'mqtt';
import { generate, parser as makeParser, type IConnectPacket, type Packet } from 'mqtt-packet';
import { afterAll, beforeAll } from 'vitest';
import { startDaemon, type Daemon, type DaemonOptions } from './daemon.js';

export type { MqttClient };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let seq = 0;
/** A client id unique within this test process. */
export function uid(prefix = 'c'): string {
  seq++;
  return `${prefix}-${process.pid}-${seq}-${Math.floor(Math.random() * 1e6)}`;
}

/** Reject after `ms` with a message naming what we waited for. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** Poll `cond` every 20 ms until it is true or `ms` elapse (then throw). */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface Received {
  topic: string;
  payload: Buffer;
  text: string;
  packet: mqtt.IPublishPacket;
}

/** A connected MQTT.js client that records every message it receives. */
export interface TestClient {
  c: MqttClient;
  connack: mqtt.IConnackPacket;
  msgs: Received[];
  /** Resolves once at least `n` messages (optionally matching `filter`) arrived; returns those. */
  waitMessages(n: number, ms?: number, filter?: (m: Received) => boolean): Promise<Received[]>;
  sub(topic: string | string[], opts?: IClientSubscribeOptions): Promise<ISubscriptionGrant[]>;
  pub(topic: string, payload: string | Buffer, opts?: IClientPublishOptions): Promise<mqtt.Packet | undefined>;
  end(force?: boolean): Promise<void>;
}

/** Connect with MQTT.js; resolves on CONNACK (reconnect disabled), rejects on error/timeout. */
export async function connectClient(url: string, opts: IClientOptions = {}, ms = 5000): Promise<TestClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: ms, ...opts });
  const msgs: Received[] = [];
  c.on('message', (topic, payload, packet) => msgs.push({ topic, payload, text: payload.toString(), packet }));
  const connack = await withTimeout(
    new Promise<mqtt.IConnackPacket>((resolve, reject) => {
      c.once('connect', (p) => resolve(p));
      c.once('error', (e) => reject(e));
      c.once('close', () => reject(new Error('closed before CONNACK')));
    }),
    ms,
    `CONNACK for ${opts.clientId ?? '(no id)'}`,
  ).catch((e: unknown) => {
    c.end(true);
    throw e;
  });
  c.on('error', () => undefined);
  return {
    c,
    connack,
    msgs,
    async waitMessages(n, wait = 5000, filter) {
      const pick = () => (filter ? msgs.filter(filter) : msgs);
      await until(() => pick().length >= n, wait, `${n} message(s) on ${opts.clientId ?? 'client'} (have ${pick().length})`);
      return pick();
    },
    sub: (topic, o) => withTimeout(c.subscribeAsync(topic as string, o ?? { qos: 0 }), ms, `SUBACK for ${String(topic)}`),
    pub: (topic, payload, o) => withTimeout(c.publishAsync(topic, payload, o ?? {}), ms, `ack for publish to ${topic}`),
    end: (force = false) => withTimeout(c.endAsync(force), ms, 'client end').catch(() => undefined),
  };
}

/** Try to connect; resolves with the CONNACK (accepted or refused) or with the error. */
export function tryConnect(url: string, opts: IClientOptions = {}, ms = 5000): Promise<{ connack?: mqtt.IConnackPacket; error?: Error & { code?: number }; client: MqttClient }> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: ms, ...opts });
  return withTimeout(
    new Promise((resolve) => {
      c.once('connect', (p) => resolve({ connack: p, client: c }));
      c.once('error', (e) => resolve({ error: e as Error & { code?: number }, client: c }));
      c.once('close', () => resolve({ error: new Error('closed'), client: c }));
    }),
    ms,
    'connect attempt',
  );
}

/** Resolve when the client's socket closes; with the DISCONNECT packet if the server sent one. */
export function waitClose(c: MqttClient, ms = 5000): Promise<{ disconnect: mqtt.IDisconnectPacket | null }> {
  let disconnect: mqtt.IDisconnectPacket | null = null;
  c.on('disconnect', (p) => (disconnect = p));
  const p = withTimeout<{ disconnect: mqtt.IDisconnectPacket | null }>(
    new Promise((resolve) => {
      if (!c.connected && c.disconnected) return resolve({ disconnect });
      c.once('close', () => resolve({ disconnect }));
    }),
    ms,
    'connection close',
  );
  // Marked as handled so a test that fails before awaiting it reports its own error, not this one.
  p.catch(() => undefined);
  return p;
}

/** The reason / return code of any decoded packet (0 when absent, as on the wire). */
export function reasonOf(p: unknown): number {
  const x = p as { reasonCode?: number; returnCode?: number } | null | undefined;
  return x?.reasonCode ?? x?.returnCode ?? 0;
}

// ------------------------------------------------------------------------------------ raw client

/**
 * A raw MQTT client over a TCP socket: sends exactly what you give it (packets or bytes), records
 * every decoded packet, never acknowledges anything on its own.
 */
export class RawClient {
  readonly packets: Packet[] = [];
  closed = false;
  readonly closedP: Promise<void>;
  private readonly sock: Socket;
  private readonly readyP: Promise<void>;

  constructor(
    port: number,
    readonly version: 3 | 4 | 5 = 4,
  ) {
    this.sock = netConnect({ host: '127.0.0.1', port });
    const parser = makeParser({ protocolVersion: version });
    parser.on('packet', (p: Packet) => this.packets.push(p));
    parser.on('error', () => undefined);
    this.sock.on('data', (b: Buffer) => parser.parse(b));
    this.sock.on('error', () => undefined);
    this.closedP = new Promise((r) => this.sock.once('close', () => ((this.closed = true), r())));
    this.readyP = new Promise((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
  }

  ready(): Promise<void> {
    return withTimeout(this.readyP, 3000, 'raw TCP connect');
  }

  send(p: Packet): void {
    this.sock.write(generate(p, { protocolVersion: this.version }));
  }

  sendBytes(b: Buffer): void {
    this.sock.write(b);
  }

  /** Send CONNECT and wait for CONNACK. */
  async connect(fields: Partial<IConnectPacket> & { clientId: string }): Promise<mqtt.IConnackPacket> {
    await this.ready();
    this.send({
      cmd: 'connect',
      protocolId: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.version,
      clean: true,
      keepalive: 60,
      ...fields,
    } as Packet);
    return (await this.next((p) => p.cmd === 'connack', 3000)) as mqtt.IConnackPacket;
  }

  /** Wait for the first recorded packet matching `pred` that has not been consumed yet. */
  private consumed = new Set<Packet>();
  async next(pred: (p: Packet) => boolean, ms = 3000): Promise<Packet> {
    let hit: Packet | undefined;
    await until(
      () => {
        hit = this.packets.find((p) => !this.consumed.has(p) && pred(p));
        return hit !== undefined || this.closed;
      },
      ms,
      'raw packet',
    );
    if (!hit) throw new Error(`connection closed before the expected packet; got ${this.packets.map((p) => p.cmd).join(',')}`);
    this.consumed.add(hit);
    return hit;
  }

  private nextPid = 1;
  /** SUBSCRIBE and return the SUBACK's granted QoS / reason codes (failures included). */
  async subscribe(subs: { topic: string; qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number }[], properties?: Record<string, unknown>): Promise<number[]> {
    const messageId = this.nextPid++;
    this.send({ cmd: 'subscribe', messageId, subscriptions: subs, ...(properties ? { properties } : {}) } as Packet);
    const ack = (await this.next((p) => p.cmd === 'suback' && p.messageId === messageId)) as { granted: number[] };
    return ack.granted;
  }

  publishes(): mqtt.IPublishPacket[] {
    return this.packets.filter((p): p is mqtt.IPublishPacket => p.cmd === 'publish');
  }

  waitClosed(ms = 3000): Promise<void> {
    return withTimeout(this.closedP, ms, 'raw connection close');
  }

  destroy(): void {
    this.sock.destroy();
  }

  end(): void {
    this.sock.end();
  }
}

// ------------------------------------------------------------------------------------ mosquitto CLI

export interface Spawned {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves once the process has exited and its stdout/stderr are fully read ('close', not 'exit'). */
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/** Spawn a Debian mosquitto client tool; killed by PID in kill(). */
export function spawnTool(cmd: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Spawned {
  // Line-buffered stdout (coreutils stdbuf) so `-d` progress lines such as 'received SUBACK' are
  // visible while the tool runs, not only at exit.
  const child = spawn('stdbuf', ['-oL', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  // 'exit' can fire while the last stdout chunk is still in the pipe; 'close' comes after it is read.
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.pid) process.kill(child.pid, 'SIGTERM');
      await withTimeout(exited, 3000, `${cmd} exit`).catch(() => child.pid && process.kill(child.pid, 'SIGKILL'));
    },
  };
}

export type { MqttJsPacket };

/**
 * One daemon for a whole test file, plus the lists where tests register the clients they open;
 * everything is closed after the file. `set` receives the daemon once it runs.
 */
export function daemonPerFile(set: (d: Daemon) => void, opts?: DaemonOptions): { open: TestClient[]; raws: RawClient[] } {
  const open: TestClient[] = [];
  const raws: RawClient[] = [];
  let d: Daemon | undefined;
  beforeAll(async () => {
    d = await startDaemon(opts);
    set(d);
  });
  afterAll(async () => {
    for (const c of open) await c.end(true);
    for (const r of raws) r.destroy();
    await d?.stop();
    d?.cleanup();
  });
  return { open, raws };
}
