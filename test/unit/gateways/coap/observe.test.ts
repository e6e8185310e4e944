import { describe, expect, it } from 'vitest';
import { Code, Opt, decodeBlock, decodeUint, getOption } from '../../../../gateways/codecs/coap/frame.js';
import { ObserveRegistry } from '../../../../gateways/coap/observe.js';
import { DedupCache, Retransmitter } from '../../../../gateways/codecs/coap/exchange.js';
import { EXCHANGE_LIFETIME_MS, MAX_DEDUP_ENTRIES, NON_LIFETIME_MS } from '../../../../gateways/codecs/coap/params.js';

describe('ObserveRegistry (RFC 7641)', () => {
  it('wraps the Observe number from 16777215 to 1, never back to 0 (§4.4)', () => {
    const r = new ObserveRegistry(() => 6);
    const o = r.add('a', Buffer.from('t'), undefined);
    o.seq = 0xfffffe;
    const seqs = [0, 1, 2].map(() => decodeUint(getOption(r.notification(o, Buffer.from('x'), 'NON', 1, true).frame, Opt.OBSERVE)!));
    expect(seqs).toEqual([0xffffff, 1, 2]);
  });

  it('splits a body larger than the block size and serves the rest by block number (RFC 7959 §3.4)', () => {
    const r = new ObserveRegistry(() => 0); // 16-byte blocks
    const o = r.add('a', Buffer.from('t'), undefined);
    const body = Buffer.from('0123456789abcdefXYZ');
    const n = r.notification(o, body, 'CON', 9, true);
    expect(n.blockwise).toBe(true);
    expect(n.frame).toMatchObject({ type: 'CON', code: Code.CONTENT, messageId: 9 });
    expect(n.frame.payload.toString()).toBe('0123456789abcdef');
    const b1 = r.block2('a', 1, 6);
    expect(b1.kind === 'block' && b1.payload.toString()).toBe('XYZ');
    expect(b1.kind === 'block' && decodeBlock(b1.options[0]!.value)).toEqual({ num: 1, more: false, szx: 0 });
    expect(r.block2('a', 2, 0).kind).toBe('beyond');
    expect(r.block2('b', 0, 0).kind).toBe('none');
    // Without block-wise the body goes whole.
    expect(r.notification(o, body, 'NON', 10, false).frame.payload).toEqual(body);
  });
});

describe('message layer (RFC 7252 §4)', () => {
  it('forgets CON ids after EXCHANGE_LIFETIME and NON ids after NON_LIFETIME', () => {
    const c = new DedupCache();
    c.add('con', true, 0);
    c.add('non', false, 0);
    c.sweep(NON_LIFETIME_MS);
    expect([c.get('con') !== undefined, c.get('non') !== undefined]).toEqual([true, false]);
    c.sweep(EXCHANGE_LIFETIME_MS);
    expect(c.get('con')).toBeUndefined();
  });

  it('bounds the remembered ids, evicting the oldest', () => {
    const c = new DedupCache();
    for (let i = 0; i <= MAX_DEDUP_ENTRIES; i++) c.add(`k${i}`, true, i);
    expect(c.get('k0')).toBeUndefined();
    expect(c.get(`k${MAX_DEDUP_ENTRIES}`)).toBeDefined();
  });

  it('retransmits with doubling timeouts and gives up after 4 retransmissions', () => {
    const r = new Retransmitter<string>();
    const f = { type: 'CON' as const, code: Code.CONTENT, messageId: 5, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) };
    r.track(f, 'meta', 0, () => 0); // first timeout exactly 2 s
    const log: string[] = [];
    for (let t = 0; t <= 62_000; t += 1000) {
      const { resend, failed } = r.tick(t);
      for (const _ of resend) log.push(`resend@${t}`);
      for (const m of failed) log.push(`${m}@${t}`);
    }
    expect(log).toEqual(['resend@2000', 'resend@6000', 'resend@14000', 'resend@30000', 'meta@62000']);
    expect(r.nextDue()).toBe(Infinity);
  });
});
