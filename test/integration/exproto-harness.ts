// Test side of the ExProto contract, written with grpc-js from the shipped exproto.proto (what a
// user would do): a ConnectionUnaryHandler that records every event and lets a test script each
// rpc, a typed ConnectionAdapter client, raw TCP/UDP devices, and a free-port helper.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT } from '../helpers/daemon.js';
import { sleep, until } from '../helpers/mqtt-clients.js';

export const PROTO = join(ROOT, 'gateways/exproto/exproto.proto');
const def = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, longs: String, defaults: true });
const v1 = (grpc.loadPackageDefinition(def) as unknown as { emqx: { exproto: { v1: Record<string, grpc.ServiceClientConstructor> } } }).emqx.exproto.v1;

export type HandlerMethod = 'OnSocketCreated' | 'OnReceivedBytes' | 'OnTimerTimeout' | 'OnReceivedMessages' | 'OnSocketClosed';
// Requests as decoded with the options above; tests read the fields they care about.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Req = Record<string, any> & { conn: string };
export interface HandlerEventRecord {
  method: HandlerMethod;
  req: Req;
  at: number;
  /** Calls of this conn already running when this one started (must stay 0). */
  concurrent: number;
}
export type Behaviour = (req: Req, h: TestHandler) => Promise<void> | void;

export interface CodeResponse {
  code: string;
  message: string;
}

export class TestHandler {
  readonly events: HandlerEventRecord[] = [];
  readonly on: Partial<Record<HandlerMethod, Behaviour>> = {};
  private server: grpc.Server | null = null;
  port = 0;
  adapter: AdapterClient | null = null;
  private readonly running = new Map<string, number>();
  /** Calls running now and the most ever running at once, across all connections. */
  private runningAll = 0;
  maxRunningAll = 0;

  async start(port = 0, creds = grpc.ServerCredentials.createInsecure()): Promise<void> {
    const server = new grpc.Server();
    const impl: grpc.UntypedServiceImplementation = {};
    for (const m of ['OnSocketCreated', 'OnReceivedBytes', 'OnTimerTimeout', 'OnReceivedMessages', 'OnSocketClosed'] as const) {
      impl[m] = (call: grpc.ServerUnaryCall<Req, object>, cb: grpc.sendUnaryData<object>) => {
        const req = call.request;
        const n = this.running.get(req.conn) ?? 0;
        this.running.set(req.conn, n + 1);
        this.runningAll++;
        this.maxRunningAll = Math.max(this.maxRunningAll, this.runningAll);
        this.events.push({ method: m, req, at: Date.now(), concurrent: n });
        Promise.resolve()
          .then(() => this.on[m]?.(req, this))
          .then(
            () => cb(null, {}),
            (err: Error & { code?: number }) => cb({ code: err.code ?? grpc.status.INTERNAL, details: err.message }),
          )
          .finally(() => {
            this.runningAll--;
            this.running.set(req.conn, (this.running.get(req.conn) ?? 1) - 1);
          });
      };
    }
    server.addService(v1['ConnectionUnaryHandler']!.service, impl);
    this.port = await new Promise<number>((res, rej) => server.bindAsync(`127.0.0.1:${port}`, creds, (e, p) => (e ? rej(e) : res(p))));
    this.server = server;
  }

  connectAdapter(port: number, creds?: grpc.ChannelCredentials): AdapterClient {
    this.adapter = new AdapterClient(port, creds);
    return this.adapter;
  }

  /** Events of one connection, in arrival order. */
  of(conn: string): HandlerEventRecord[] {
    return this.events.filter((e) => e.req.conn === conn);
  }

  async waitFor(pred: (e: HandlerEventRecord) => boolean, ms = 5000, what = 'handler event'): Promise<HandlerEventRecord> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; saw ${this.events.map((x) => x.method).join(',')}`);
      await sleep(10);
    }
  }

  /** The newest OnSocketCreated whose peer port is `peerPort`. */
  async created(peerPort: number, ms = 5000): Promise<string> {
    const e = await this.waitFor((x) => x.method === 'OnSocketCreated' && x.req.conninfo?.peername?.port === peerPort, ms, `OnSocketCreated from port ${peerPort}`);
    return e.req.conn;
  }

  async stop(): Promise<void> {
    this.adapter?.close();
    const s = this.server;
    this.server = null;
    if (s) s.forceShutdown();
  }
}

export class AdapterClient {
  private readonly client: grpc.Client;
  constructor(port: number, creds = grpc.credentials.createInsecure(), opts: grpc.ChannelOptions = {}) {
    this.client = new v1['ConnectionAdapter']!(`127.0.0.1:${port}`, creds, opts);
  }
  call(method: 'Send' | 'Close' | 'Authenticate' | 'StartTimer' | 'Publish' | 'Subscribe' | 'Unsubscribe' | 'RawPublish', req: object, ms = 5000): Promise<CodeResponse> {
    const fn = (this.client as unknown as Record<string, (r: object, o: object, cb: (e: grpc.ServiceError | null, r: CodeResponse) => void) => void>)[method]!;
    return new Promise((res, rej) => fn.call(this.client, req, { deadline: Date.now() + ms }, (e, r) => (e ? rej(e) : res(r))));
  }
  close(): void {
    // Not this.client.close(): proto-loader adds camelCase aliases, and `close` is the Close rpc.
    grpc.Client.prototype.close.call(this.client);
  }
}

/** A port free right now on 127.0.0.1 (for the adapter's bind, which the config must name). */
export { freePort } from '../helpers/ports.js';

export function exprotoConfig(o: { adapterPort: number; handlerPort: number; extra?: string; gateway?: string; udp?: boolean; handlerTimeout?: number }): string {
  return `
[gateway.exproto]
enable = true
idle_timeout = 2
${o.gateway ?? ''}

[gateway.exproto.server]
bind = "127.0.0.1:${o.adapterPort}"

[gateway.exproto.handler]
address = "http://127.0.0.1:${o.handlerPort}"
request_timeout = ${o.handlerTimeout ?? 2}

[gateway.exproto.handler.reconnect]
initial_backoff = 0.1
max_backoff = 0.5

[gateway.exproto.listeners.tcp.default]
bind = "127.0.0.1"
port = 0
${o.udp ? '\n[gateway.exproto.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n' : ''}
${o.extra ?? ''}
`;
}

/** A raw TCP device: collects what the gateway writes to it. */
export class TcpDevice {
  data = Buffer.alloc(0);
  closed = false;
  private constructor(readonly s: net.Socket) {
    s.on('data', (b) => (this.data = Buffer.concat([this.data, b])));
    s.on('close', () => (this.closed = true));
    s.on('error', () => {});
  }
  static async connect(port: number): Promise<TcpDevice> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise<void>((res, rej) => {
      s.once('connect', () => res());
      s.once('error', rej);
    });
    return new TcpDevice(s);
  }
  /** A TLS device (the ssl listener), optionally with a client certificate. */
  static async connectTls(port: number, o: tls.ConnectionOptions): Promise<TcpDevice> {
    const s = tls.connect({ port, host: '127.0.0.1', ...o });
    await new Promise<void>((res, rej) => {
      s.once('secureConnect', () => res());
      s.once('error', rej);
    });
    return new TcpDevice(s);
  }
  get localPort(): number {
    return this.s.localPort!;
  }
  write(b: string | Buffer): void {
    this.s.write(b);
  }
  async waitText(text: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.data.toString().includes(text)) {
      if (Date.now() > deadline) throw new Error(`device did not receive ${JSON.stringify(text)}; has ${JSON.stringify(this.data.toString())}`);
      await sleep(10);
    }
  }
  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('device socket still open');
      await sleep(10);
    }
  }
  end(): void {
    this.s.end();
  }
  destroy(): void {
    this.s.destroy();
  }
}

/** A raw UDP device. */
export class UdpDevice {
  readonly got: Buffer[] = [];
  private constructor(
    readonly s: dgram.Socket,
    readonly port: number,
  ) {
    s.on('message', (m) => this.got.push(m));
  }
  static async open(gatewayPort: number): Promise<UdpDevice> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new UdpDevice(s, gatewayPort);
  }
  get localPort(): number {
    return this.s.address().port;
  }
  send(b: string | Buffer): void {
    this.s.send(typeof b === 'string' ? Buffer.from(b) : b, this.port, '127.0.0.1');
  }
  async waitText(text: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.got.some((g) => g.toString() === text)) {
      if (Date.now() > deadline) throw new Error(`udp device did not receive ${JSON.stringify(text)}`);
      await sleep(10);
    }
  }
  close(): void {
    this.s.close();
  }
}

/** The shipped example line handler (dist/gateways/exproto/example/line-handler.js), started as the README says. */
export interface LineHandler {
  readonly proc: ChildProcess;
  /** What it printed so far. */
  output(): string;
  /** SIGTERM, SIGKILL after 3 s; waits for the exit. */
  stop(): Promise<void>;
}

export async function startLineHandler(adapterPort: number, handlerPort: number): Promise<LineHandler> {
  let out = '';
  const proc = spawn(process.execPath, [join(ROOT, 'dist/gateways/exproto/example/line-handler.js')], {
    env: { ...process.env, EXPROTO_HANDLER_BIND: `127.0.0.1:${handlerPort}`, EXPROTO_ADAPTER: `127.0.0.1:${adapterPort}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  await until(() => out.includes('line_handler_listening') || proc.exitCode !== null, 10_000, 'example handler');
  if (!out.includes('line_handler_listening')) {
    await stop();
    throw new Error(`the example line handler did not start: ${out}`);
  }
  return { proc, output: () => out, stop };
}
