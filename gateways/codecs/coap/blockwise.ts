// RFC 7959 block-wise transfers, kept apart from the channel: Block1 reassembly of device uploads
// and Block2 slicing of representations the gateway sends. Pure: time comes in as arguments.
import { type BlockOption, blockSize } from './frame.js';
import { MAX_BLOCK1_TRANSFERS } from './params.js';

export type Block1Result =
  | { kind: 'continue'; block: BlockOption }
  | { kind: 'complete'; body: Buffer; block: BlockOption }
  /** 4.08 (RFC 7959 §2.9.2): a block out of order or a transfer we do not know. */
  | { kind: 'incomplete' }
  /** 4.13 (RFC 7959 §2.9.3): the body would exceed max_body_size. */
  | { kind: 'too_large' }
  /** 4.00: a non-final block whose size does not match its SZX (RFC 7959 §2.3). */
  | { kind: 'bad_block' };

interface Transfer {
  parts: Buffer[];
  size: number;
  next: number;
  startedAt: number;
}

export class Block1Assembler {
  private readonly transfers = new Map<string, Transfer>();

  constructor(
    private readonly maxBody: number,
    private readonly maxBlockSzx: number,
    private readonly lifetimeMs: number,
  ) {}

  /** Adds one block of the upload identified by `key` (the request URI: RFC 7959 §2.5 matches on it). */
  add(key: string, b: BlockOption, payload: Buffer, now: number): Block1Result {
    let t = this.transfers.get(key);
    if (b.num === 0) {
      // A new block 0 restarts the transfer (the device gave up and began again).
      if (t === undefined && this.transfers.size >= MAX_BLOCK1_TRANSFERS) this.evictOldest();
      t = { parts: [], size: 0, next: 0, startedAt: now };
      this.transfers.set(key, t);
    }
    if (t === undefined || b.num !== t.next) {
      this.transfers.delete(key);
      return { kind: 'incomplete' };
    }
    if (b.more && payload.length !== blockSize(b.szx)) {
      this.transfers.delete(key);
      return { kind: 'bad_block' };
    }
    if (t.size + payload.length > this.maxBody) {
      this.transfers.delete(key);
      return { kind: 'too_large' };
    }
    t.parts.push(payload);
    t.size += payload.length;
    t.next++;
    if (b.more) {
      // RFC 7959 §2.5: the server may ask for smaller blocks by answering with a smaller SZX;
      // the next block number is then scaled by the device, so only do it on block 0.
      const szx = b.num === 0 ? Math.min(b.szx, this.maxBlockSzx) : b.szx;
      if (szx !== b.szx) t.next = (t.next * blockSize(b.szx)) / blockSize(szx);
      return { kind: 'continue', block: { num: b.num, more: true, szx } };
    }
    this.transfers.delete(key);
    return { kind: 'complete', body: t.parts.length === 1 ? t.parts[0]! : Buffer.concat(t.parts, t.size), block: { num: b.num, more: false, szx: b.szx } };
  }

  /** Drops transfers older than the exchange lifetime. */
  sweep(now: number): void {
    for (const [k, t] of this.transfers) if (now - t.startedAt >= this.lifetimeMs) this.transfers.delete(k);
  }

  get size(): number {
    return this.transfers.size;
  }

  private evictOldest(): void {
    const first = this.transfers.keys().next();
    if (first.done !== true) this.transfers.delete(first.value);
  }
}

/** One Block2 slice of `body` (RFC 7959 §2.4); null when `num` lies beyond the body. */
export function sliceBlock2(body: Buffer, num: number, szx: number): { chunk: Buffer; block: BlockOption } | null {
  const bs = blockSize(szx);
  const start = num * bs;
  if (start >= body.length && !(num === 0 && body.length === 0)) return null;
  const end = Math.min(start + bs, body.length);
  return { chunk: body.subarray(start, end), block: { num, more: end < body.length, szx } };
}
