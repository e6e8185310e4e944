// Drives a CoapEndpoint through an in-memory datagram socket with a fake clock and the fake broker.
import { CoapEndpoint } from '../../../../gateways/coap/endpoint.js';
import { coapConfigSchema, type CoapConfig } from '../../../../gateways/coap/config.js';
import { type CoapFrame, type CoapOption, Opt, decode, encode, encodeUint } from '../../../../gateways/codecs/coap/frame.js';
import type { DatagramSocket, RemoteInfo } from '../../../../gateways/transport/datagram.js';
import { mulberry32 } from '../../../helpers/prng.js';
import { FakeClock, createFakeGatewayContext, type FakeContextOptions, type FakeGatewayContext } from '../../../helpers/fake-gateway-context.js';

export class MemorySocket implements DatagramSocket {
  readonly sent: { buf: Buffer; to: RemoteInfo }[] = [];
  /** Sessions ended through closePeer (what a DTLS socket would close). */
  readonly closedPeers: string[] = [];
  private listener: ((msg: Buffer, from: RemoteInfo) => void) | null = null;
  onMessage(l: (msg: Buffer, from: RemoteInfo) => void): void {
    this.listener = l;
  }
  onError(): void {}
  send(msg: Buffer, port: number, address: string): void {
    this.sent.push({ buf: msg, to: { address, port } });
  }
  address(): RemoteInfo {
    return { address: '127.0.0.1', port: 5683 };
  }
  async close(): Promise<void> {}
  closePeer(address: string, port: number): void {
    this.closedPeers.push(`${address}:${port}`);
  }
  inject(buf: Buffer, from: RemoteInfo): void {
    this.listener?.(buf, from);
  }
}

/** Deterministic PRNG so ids, tokens and jitter repeat run to run. */
export function seeded(seed = 42): () => number {
  return mulberry32(seed);
}

export const DEV: RemoteInfo = { address: '127.0.0.1', port: 40001 };

export interface ReqSpec {
  type?: 'CON' | 'NON';
  code: number;
  mid?: number;
  token?: string | Buffer;
  path?: string;
  query?: string[];
  observe?: number;
  options?: CoapOption[];
  payload?: string | Buffer;
}

let midSeq = 100;

export function request(r: ReqSpec): CoapFrame {
  const options: CoapOption[] = [];
  if (r.observe !== undefined) options.push({ number: Opt.OBSERVE, value: encodeUint(r.observe) });
  for (const seg of (r.path ?? '').split('/').filter((s) => s !== '')) options.push({ number: Opt.URI_PATH, value: Buffer.from(seg) });
  for (const q of r.query ?? []) options.push({ number: Opt.URI_QUERY, value: Buffer.from(q) });
  options.push(...(r.options ?? []));
  return {
    type: r.type ?? 'CON',
    code: r.code,
    messageId: r.mid ?? ++midSeq,
    token: typeof r.token === 'string' ? Buffer.from(r.token) : (r.token ?? Buffer.from('tk')),
    options,
    payload: typeof r.payload === 'string' ? Buffer.from(r.payload) : (r.payload ?? Buffer.alloc(0)),
  };
}

export interface Harness {
  ctx: FakeGatewayContext;
  clock: FakeClock;
  sock: MemorySocket;
  ep: CoapEndpoint;
  config: CoapConfig;
  /** Sends a frame from a device address and returns what the gateway sent back right away. */
  send(f: CoapFrame, from?: RemoteInfo): CoapFrame[];
  sendRaw(buf: Buffer, from?: RemoteInfo): CoapFrame[];
  /** Frames sent since the last call, decoded, with destinations. */
  drain(): { frame: CoapFrame; to: RemoteInfo }[];
  /** Lets promise callbacks (authentication) run. */
  settle(): Promise<void>;
}

export function harness(config: Record<string, unknown> = {}, ctxOpts: FakeContextOptions = {}): Harness {
  const clock = new FakeClock();
  const ctx = createFakeGatewayContext({ clock, ...ctxOpts });
  const cfg = coapConfigSchema.parse({ enable: true, ...config });
  const sock = new MemorySocket();
  const ep = new CoapEndpoint(ctx, cfg, sock, { listener: 'udp:default', sockPort: 5683, clock, random: seeded() });
  const drain = (): { frame: CoapFrame; to: RemoteInfo }[] =>
    sock.sent.splice(0).map((s) => {
      const r = decode(s.buf);
      if (r.kind !== 'frame') throw new Error(`gateway sent an undecodable datagram: ${r.code}`);
      return { frame: r.frame, to: s.to };
    });
  return {
    ctx,
    clock,
    sock,
    ep,
    config: cfg,
    send(f, from = DEV) {
      drain();
      sock.inject(encode(f), from);
      return drain().map((x) => x.frame);
    },
    sendRaw(buf, from = DEV) {
      drain();
      sock.inject(buf, from);
      return drain().map((x) => x.frame);
    },
    drain,
    settle: () => new Promise((r) => setImmediate(r)),
  };
}
