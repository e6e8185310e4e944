// The observation registry of one channel (RFC 7641; gateways/coap/SPEC.md §4.2–§4.3): one entry
// per topic filter, its token and Observe sequence, and the last representation sent block-wise so
// follow-up Block2 GETs can be served (RFC 7959 §3.4). Pure: builds frames, sends nothing.
import { sliceBlock2 } from '../codecs/coap/blockwise.js';
import { type CoapFrame, type CoapOption, Code, Opt, blockSize, encodeBlock, encodeUint } from '../codecs/coap/frame.js';
import { OBSERVE_MAX } from '../codecs/coap/params.js';

export interface Observation {
  readonly filter: string;
  token: Buffer;
  seq: number;
  szx: number;
  /** Last notification body sent block-wise. */
  body: Buffer | null;
  etag: Buffer | null;
}

export type Block2Answer = { kind: 'none' } | { kind: 'beyond' } | { kind: 'block'; payload: Buffer; options: CoapOption[] };

export class ObserveRegistry {
  private readonly byFilter = new Map<string, Observation>();
  private etagCounter = 0;

  /** maxSzx: the largest block the gateway sends (config blockwise.max_block_size). */
  constructor(private readonly maxSzx: () => number) {}

  get size(): number {
    return this.byFilter.size;
  }

  get(filter: string): Observation | undefined {
    return this.byFilter.get(filter);
  }

  /** A new observation; `szx` is the block size the registration asked for, if any. */
  add(filter: string, token: Buffer, szx: number | undefined): Observation {
    const max = this.maxSzx();
    const o: Observation = { filter, token: Buffer.from(token), seq: 0, szx: Math.min(szx ?? max, max), body: null, etag: null };
    this.byFilter.set(filter, o);
    return o;
  }

  /** RFC 7641 §4.1: a re-registration replaces the entry; notifications now carry the newest token. */
  refresh(o: Observation, token: Buffer, szx: number | undefined): void {
    o.token = Buffer.from(token);
    if (szx !== undefined) o.szx = Math.min(szx, this.maxSzx());
  }

  delete(filter: string): boolean {
    return this.byFilter.delete(filter);
  }

  clear(): void {
    this.byFilter.clear();
  }

  /**
   * The next notification of `o`: 2.05 with the next Observe number (RFC 7641 §4.4: 24 bits, wrapping
   * to 1 so it never reads as a registration). A body larger than one block goes out as block 0
   * with Block2, Size2 and an ETag that the follow-up GETs must match (RFC 7959 §3.4).
   */
  notification(o: Observation, body: Buffer, type: 'CON' | 'NON', messageId: number, blockwise: boolean): { frame: CoapFrame; blockwise: boolean } {
    o.seq = o.seq >= OBSERVE_MAX ? 1 : o.seq + 1;
    let payload = body;
    const options: CoapOption[] = [{ number: Opt.OBSERVE, value: encodeUint(o.seq) }];
    const split = blockwise && body.length > blockSize(o.szx);
    if (split) {
      this.etagCounter = (this.etagCounter % 0xffffffff) + 1;
      o.etag = encodeUint(this.etagCounter);
      o.body = body;
      options.push({ number: Opt.BLOCK2, value: encodeBlock({ num: 0, more: true, szx: o.szx }) });
      options.push({ number: Opt.SIZE2, value: encodeUint(body.length) });
      options.push({ number: Opt.ETAG, value: o.etag });
      payload = body.subarray(0, blockSize(o.szx));
    }
    return { frame: { type, code: Code.CONTENT, messageId, token: o.token, options, payload }, blockwise: split };
  }

  /** A follow-up GET for block `num` of the last block-wise notification on `filter`. */
  block2(filter: string, num: number, szx: number): Block2Answer {
    const o = this.byFilter.get(filter);
    if (o === undefined || o.body === null) return { kind: 'none' };
    const s = sliceBlock2(o.body, num, Math.min(szx, o.szx));
    if (s === null) return { kind: 'beyond' };
    const options: CoapOption[] = [{ number: Opt.BLOCK2, value: encodeBlock(s.block) }];
    if (o.etag !== null) options.push({ number: Opt.ETAG, value: o.etag });
    if (num === 0) options.push({ number: Opt.SIZE2, value: encodeUint(o.body.length) });
    return { kind: 'block', payload: s.chunk, options };
  }
}
