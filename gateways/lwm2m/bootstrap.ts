// A client-initiated bootstrap server (LwM2M 1.0 §5.2, 1.1 Transport §6.1; spec A.7): a factory-fresh
// device sends POST /bs?ep=NAME, gets 2.04, then the gateway deletes its old accounts (DELETE /),
// writes one Security (0) and one Server (1) instance built from the device registry in the store
// (or NoSec defaults when unknown devices are allowed) and ends with Bootstrap-Finish (POST /bs).
// Secrets (PSK keys) go only to the device: never to MQTT or the logs.
import type { GatewayContext, Store } from '../gateway.js';
import { Code, Opt, blockSize, decodeBlock, encodeBlock, encodeUint, getOption, type CoapFrame, type CoapOption } from '../codecs/coap/frame.js';
import { Retransmitter } from '../codecs/coap/exchange.js';
import type { Lwm2mResource } from './model.js';
import { encodeTlv, TLV_CONTENT_FORMAT } from './tlv.js';

type TimerHandle = ReturnType<GatewayContext['clock']['setTimeout']>;

/** One device's bootstrap account, as kept in the registry (table lwm2m_bootstrap). */
export interface BootstrapEntry {
  endpoint: string;
  /** 'nosec' or 'psk' (LwM2M Security mode 3 or 0). */
  securityMode: 'nosec' | 'psk';
  pskIdentity?: string;
  /** Hex. */
  pskKey?: string;
  /** Overrides the gateway's server_uri for this device. */
  serverUri?: string;
  lifetime?: number;
  binding?: string;
}

export const BOOTSTRAP_MIGRATION = 'CREATE TABLE IF NOT EXISTS lwm2m_bootstrap (endpoint TEXT PRIMARY KEY, data TEXT NOT NULL)';

/** The device registry the bootstrap server reads (one JSON row per endpoint). */
export class BootstrapRegistry {
  constructor(private readonly store: Store) {}

  get(endpoint: string): BootstrapEntry | undefined {
    const row = this.store.db.prepare('SELECT data FROM lwm2m_bootstrap WHERE endpoint = ?').get(endpoint) as { data: string } | undefined;
    if (!row) return undefined;
    try {
      return { ...(JSON.parse(row.data) as Omit<BootstrapEntry, 'endpoint'>), endpoint };
    } catch {
      return undefined;
    }
  }

  /** Adds or replaces a device (for the CLI/API and tests). */
  put(e: BootstrapEntry): void {
    const { endpoint, ...data } = e;
    this.store.db.prepare('INSERT OR REPLACE INTO lwm2m_bootstrap (endpoint, data) VALUES (?, ?)').run(endpoint, JSON.stringify(data));
  }
}

export interface BootstrapDefaults {
  serverUri: string;
  lifetime: number;
  binding: string;
  shortServerId: number;
}

/** The Bootstrap-Delete / Write / Write / Finish requests for one device (without message ids). */
export function bootstrapRequests(e: BootstrapEntry, d: BootstrapDefaults): { method: number; path: string[]; payload: Buffer; contentFormat: number | null }[] {
  const ssid = d.shortServerId;
  const psk = e.securityMode === 'psk';
  const security: Lwm2mResource[] = [
    { path: '/0/1/0', value: { kind: 'string', value: e.serverUri ?? d.serverUri } },
    { path: '/0/1/1', value: { kind: 'boolean', value: false } },
    { path: '/0/1/2', value: { kind: 'integer', value: psk ? 0n : 3n } },
    { path: '/0/1/3', value: { kind: 'opaque', value: psk ? Buffer.from(e.pskIdentity ?? e.endpoint, 'utf8') : Buffer.alloc(0) } },
    { path: '/0/1/4', value: { kind: 'opaque', value: Buffer.alloc(0) } },
    { path: '/0/1/5', value: { kind: 'opaque', value: psk ? Buffer.from(e.pskKey ?? '', 'hex') : Buffer.alloc(0) } },
    { path: '/0/1/10', value: { kind: 'integer', value: BigInt(ssid) } },
  ];
  const server: Lwm2mResource[] = [
    { path: '/1/0/0', value: { kind: 'integer', value: BigInt(ssid) } },
    { path: '/1/0/1', value: { kind: 'integer', value: BigInt(e.lifetime ?? d.lifetime) } },
    { path: '/1/0/6', value: { kind: 'boolean', value: true } },
    { path: '/1/0/7', value: { kind: 'string', value: e.binding ?? d.binding } },
  ];
  const tlv = (rs: Lwm2mResource[], base: string): Buffer => {
    const r = encodeTlv(rs, base);
    if (r.kind === 'error') throw new Error(r.detail);
    return r.value;
  };
  return [
    { method: Code.DELETE, path: [], payload: Buffer.alloc(0), contentFormat: null },
    { method: Code.PUT, path: ['0', '1'], payload: tlv(security, '/0/1'), contentFormat: TLV_CONTENT_FORMAT },
    { method: Code.PUT, path: ['1', '0'], payload: tlv(server, '/1/0'), contentFormat: TLV_CONTENT_FORMAT },
    { method: Code.POST, path: ['bs'], payload: Buffer.alloc(0), contentFormat: null },
  ];
}

/** One running bootstrap: sends the requests in order, each after the previous one's answer. */
export class BootstrapRun {
  private step = 0;
  private block: { offset: number; szx: number } | null = null;
  private readonly rt = new Retransmitter<number>();
  private timer: TimerHandle | null = null;
  private token: Buffer;
  private mid: number;
  done = false;

  constructor(
    private readonly ctx: GatewayContext,
    readonly endpoint: string,
    private readonly requests: ReturnType<typeof bootstrapRequests>,
    private readonly send: (f: CoapFrame) => void,
    private readonly random: () => number,
    private readonly finished: (ok: boolean, detail: string) => void,
  ) {
    this.token = Buffer.from([0, 1, 2, 3].map(() => Math.floor(random() * 256)));
    this.mid = Math.floor(random() * 0x10000);
  }

  start(): void {
    this.next();
  }

  /** The current step's request; `block` sends the body block-wise from that offset (RFC 7959 §2.5). */
  private next(block: { offset: number; szx: number } | null = null): void {
    const r = this.requests[this.step]!;
    const options: CoapOption[] = r.path.map((p) => ({ number: Opt.URI_PATH, value: Buffer.from(p) }));
    if (r.contentFormat !== null) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(r.contentFormat) });
    let payload = r.payload;
    this.block = block;
    if (block !== null) {
      const size = blockSize(block.szx);
      options.push({ number: Opt.BLOCK1, value: encodeBlock({ num: block.offset / size, more: block.offset + size < r.payload.length, szx: block.szx }) });
      payload = r.payload.subarray(block.offset, block.offset + size);
    }
    this.mid = (this.mid + 1) & 0xffff;
    const f: CoapFrame = { type: 'CON', code: r.method, messageId: this.mid, token: this.token, options, payload };
    this.rt.track(f, this.step, this.ctx.clock.now(), this.random);
    this.send(f);
    this.arm();
  }

  private arm(): void {
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    const due = this.rt.nextDue();
    this.timer =
      due === Infinity
        ? null
        : this.ctx.clock.setTimeout(() => {
            this.timer = null;
            const { resend, failed } = this.rt.tick(this.ctx.clock.now());
            for (const f of resend) this.send(f);
            if (failed.length > 0) return this.end(false, 'no answer from the device');
            this.arm();
          }, Math.max(0, due - this.ctx.clock.now()));
  }

  /** An ACK (piggybacked answer) or RST from the device; true when it was ours. */
  handle(f: CoapFrame): boolean {
    if (this.done || (f.type !== 'ACK' && f.type !== 'RST')) return false;
    const step = this.rt.take(f.messageId);
    if (step === undefined) return false;
    if (f.type === 'RST' || f.code === 0) return this.end(false, 'reset or empty answer'), true;
    // A device with small buffers takes the writes block-wise: 4.13 names its block size, 2.31 asks for the next.
    const b1opt = getOption(f, Opt.BLOCK1);
    const b1 = b1opt === undefined ? null : decodeBlock(b1opt);
    if (f.code === Code.REQUEST_ENTITY_TOO_LARGE && b1 !== null && (this.block === null || b1.szx < this.block.szx)) {
      this.next({ offset: 0, szx: b1.szx });
      return true;
    }
    if (f.code === Code.CONTINUE && this.block !== null) {
      const size = blockSize(this.block.szx);
      if (this.block.offset + size < this.requests[this.step]!.payload.length) {
        this.next({ offset: this.block.offset + size, szx: this.block.szx });
        return true;
      }
    }
    // Bootstrap-Delete may answer 2.02 or 4.xx on a fresh device with nothing to delete; the writes and finish must succeed.
    const ok = f.code >> 5 === 2 || step.meta === 0;
    if (!ok) return this.end(false, `step ${step.meta} answered ${f.code >> 5}.${String(f.code & 31).padStart(2, '0')}`), true;
    this.step++;
    if (this.step === this.requests.length) this.end(true, 'finished');
    else this.next();
    return true;
  }

  private end(ok: boolean, detail: string): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
    this.rt.clear();
    this.finished(ok, detail);
  }

  stop(): void {
    this.end(false, 'stopped');
  }
}
