import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMessage, type Message } from '../../../src/core/message.js';
import { OutboundLog, type DropReason, type LogLimits } from '../../../src/bridge/outbound-log.js';
import { openStore } from './fake-broker.js';

const limits = (o: Partial<LogLimits> = {}): LogLimits => ({ maxMessages: 1_000_000, maxBytes: 1 << 30, overflow: 'drop_oldest', maxQos0: 0, ttl: 0, ...o });
const m = (i: number, qos: 0 | 1 | 2 = 1, extra: { expiryInterval?: number; now?: number } = {}): Message =>
  createMessage({ topic: `t/${i}`, payload: Buffer.from(String(i)), qos, retain: false, now: extra.now ?? Date.now(), ...(extra.expiryInterval ? { expiryInterval: extra.expiryInterval } : {}) });

function drain(log: OutboundLog, now = Date.now()): string[] {
  const out: string[] = [];
  for (let e = log.takeNext(now); e; e = log.takeNext(now)) {
    out.push(e.msg.payload.toString());
    log.ack(e.seq);
  }
  return out;
}

describe('outbound log', () => {
  it('appends inside the group commit and survives a reopen in publish order', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'blog-')), 'db.sqlite');
    let store = openStore(path);
    let log = new OutboundLog(store, 'up', limits(), () => {});
    for (let i = 0; i < 10; i++) log.append(m(i));
    expect(store.hasPendingWrites).toBe(true);
    expect(store.db.prepare('SELECT count(*) AS n FROM bridge_log').get()).toEqual({ n: 0 });
    store.flush();
    expect(store.db.prepare('SELECT count(*) AS n FROM bridge_log').get()).toEqual({ n: 10 });
    // Two taken and acked, one taken but never acked: only acked ones leave the file.
    const a = log.takeNext(Date.now())!;
    const b = log.takeNext(Date.now())!;
    log.takeNext(Date.now());
    log.ack(a.seq);
    log.ack(b.seq);
    store.close();
    store = openStore(path);
    log = new OutboundLog(store, 'up', limits(), () => {});
    expect(log.count).toBe(8);
    expect(drain(log)).toEqual(['2', '3', '4', '5', '6', '7', '8', '9']);
    store.flush();
    expect(store.db.prepare('SELECT count(*) AS n FROM bridge_log').get()).toEqual({ n: 0 });
    store.close();
  });

  it('keeps every field of one tick of appends across a reopen (rows go 16 to a statement)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'blog-')), 'db.sqlite');
    let store = openStore(path);
    let log = new OutboundLog(store, 'up', limits(), () => {});
    const now = Date.now();
    const sent: Message[] = [];
    for (let i = 0; i < 37; i++) {
      const msg = createMessage({
        topic: `t/${i}`,
        payload: Buffer.from(`payload ${i}`),
        qos: (i % 3) as 0 | 1 | 2,
        retain: i % 4 === 0,
        from: `c${i % 5}`,
        fromUsername: i % 2 ? 'u' : null,
        now: now + i,
        ...(i % 6 === 0 ? { props: { contentType: 'text/plain', userProperties: [['k', String(i)]] } } : {}),
        ...(i % 7 === 0 ? { origin: 'edge-1' } : {}),
        ...(i % 8 === 0 ? { expiryInterval: 3600 } : {}),
      });
      sent.push(msg);
      log.append(msg);
    }
    store.flush();
    store.close();
    store = openStore(path);
    log = new OutboundLog(store, 'up', limits(), () => {});
    const got: Message[] = [];
    for (let e = log.takeNext(now); e; e = log.takeNext(now)) got.push(e.msg);
    expect(got.map(({ wire: _w, ...rest }) => rest)).toEqual(sent.map(({ wire: _w, ...rest }) => rest));
    store.close();
  });

  it('acks in any order delete exactly the acked rows, however they group into runs', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'blog-')), 'db.sqlite');
    let store = openStore(path);
    let log = new OutboundLog(store, 'up', limits(), () => {});
    for (let i = 0; i < 12; i++) log.append(m(i));
    store.flush();
    const taken = Array.from({ length: 12 }, () => log.takeNext(Date.now())!);
    // Out of order, with runs (0-2, 5-6, 9-11) and singles: one commit carries them all.
    for (const i of [9, 0, 1, 5, 11, 2, 6, 10]) log.ack(taken[i]!.seq);
    store.flush();
    const rows = store.db.prepare("SELECT seq FROM bridge_log WHERE bridge = 'up' ORDER BY seq").all() as { seq: number }[];
    expect(rows.map((r) => r.seq)).toEqual([3, 4, 7, 8].map((i) => taken[i]!.seq));
    store.close();
    store = openStore(path);
    log = new OutboundLog(store, 'up', limits(), () => {});
    expect(drain(log)).toEqual(['3', '4', '7', '8']);
    store.close();
  });

  it('an entry appended and acked in the same tick never reaches the file', () => {
    const store = openStore();
    const log = new OutboundLog(store, 'up', limits(), () => {});
    log.append(m(1));
    const e = log.takeNext(Date.now())!;
    log.ack(e.seq);
    store.flush();
    expect(store.db.prepare('SELECT count(*) AS n FROM bridge_log').get()).toEqual({ n: 0 });
  });

  it('keeps order across the RAM read-ahead window: 6000 queued while not draining', () => {
    const store = openStore();
    const log = new OutboundLog(store, 'up', limits(), () => {});
    const want: string[] = [];
    for (let i = 0; i < 6000; i++) {
      log.append(m(i));
      want.push(String(i));
      if (i % 700 === 0) store.flush();
    }
    // Some entries are still pending in this tick when draining starts.
    expect(drain(log)).toEqual(want);
    expect(log.count).toBe(0);
  });

  it('RAM holds a bounded window, not the backlog: 30,000 queued over many ticks', () => {
    const store = openStore();
    const log = new OutboundLog(store, 'up', limits(), () => {});
    let maxResident = 0;
    for (let i = 0; i < 30_000; i++) {
      log.append(m(i));
      if (i % 500 === 499) {
        store.flush();
        maxResident = Math.max(maxResident, log.resident);
      }
    }
    expect(log.count).toBe(30_000);
    expect(maxResident).toBeLessThanOrEqual(2048 + 500);
    let n = 0;
    for (let e = log.takeNext(Date.now()); e; e = log.takeNext(Date.now())) {
      expect(e.msg.payload.toString()).toBe(String(n++));
      log.ack(e.seq);
      maxResident = Math.max(maxResident, log.resident);
      if (n % 1000 === 0) store.flush();
    }
    expect(n).toBe(30_000);
    expect(maxResident).toBeLessThanOrEqual(2048 + 500);
  });

  it('drop_oldest removes the oldest queued entries, counts each and keeps in-flight ones', () => {
    const store = openStore();
    const drops: [DropReason, string][] = [];
    const log = new OutboundLog(store, 'up', limits({ maxMessages: 5 }), (r, e) => drops.push([r, e.msg.payload.toString()]));
    for (let i = 0; i < 3; i++) log.append(m(i));
    const inflight = log.takeNext(Date.now())!; // '0' is now in flight
    for (let i = 3; i < 9; i++) log.append(m(i));
    expect(drops).toEqual([
      ['queue_full', '1'],
      ['queue_full', '2'],
      ['queue_full', '3'],
      ['queue_full', '4'],
    ]);
    expect(log.count).toBe(5);
    log.ack(inflight.seq);
    expect(drain(log)).toEqual(['5', '6', '7', '8']);
  });

  it('drop_newest refuses the new message; the byte limit applies too', () => {
    const store = openStore();
    const drops: string[] = [];
    const log = new OutboundLog(store, 'up', limits({ maxBytes: 1024 + 200, overflow: 'drop_newest' }), (r, e) => drops.push(`${r}:${e.msg.payload.length}`));
    const big = (n: number) => createMessage({ topic: 'b', payload: Buffer.alloc(n), qos: 1, retain: false, now: Date.now() });
    expect(log.append(big(600))).toBe(true);
    expect(log.append(big(500))).toBe(true);
    expect(log.append(big(300))).toBe(false);
    expect(drops).toEqual(['queue_full:300']);
    expect(log.append(big(5000))).toBe(false);
    expect(drops[1]).toBe('too_large:5000');
  });

  it('caps QoS 0 separately', () => {
    const store = openStore();
    const drops: string[] = [];
    const log = new OutboundLog(store, 'up', limits({ maxQos0: 2 }), (r) => drops.push(r));
    log.append(m(1, 0));
    log.append(m(2, 0));
    expect(log.append(m(3, 0))).toBe(false);
    expect(log.append(m(4, 1))).toBe(true);
    expect(drops).toEqual(['qos0_full']);
  });

  it('drops expired entries on the way out: v5 message expiry and an explicit ttl, nothing by default', () => {
    const store = openStore();
    const drops: string[] = [];
    const t0 = 1_700_000_000_000;
    const log = new OutboundLog(store, 'up', limits(), (r, e) => drops.push(`${r}:${e.msg.payload.toString()}`));
    log.append(m(1, 1, { now: t0, expiryInterval: 5 }));
    log.append(m(2, 1, { now: t0 }));
    expect(drain(log, t0 + 3_600_000)).toEqual(['2']);
    expect(drops).toEqual(['expired:1']);
    log.setLimits(limits({ ttl: 1000 }));
    log.append(m(3, 1, { now: t0 }));
    log.append(m(4, 1, { now: t0 + 5000 }));
    expect(drain(log, t0 + 5500)).toEqual(['4']);
    expect(drops).toEqual(['expired:1', 'expired:3']);
  });

  it('keeps bridges apart in one table', () => {
    const store = openStore();
    const a = new OutboundLog(store, 'a', limits(), () => {});
    const b = new OutboundLog(store, 'b', limits(), () => {});
    a.append(m(1));
    b.append(m(2));
    store.flush();
    const a2 = new OutboundLog(store, 'a', limits(), () => {});
    expect(drain(a2)).toEqual(['1']);
  });
});

describe('outbound log against a reference model (random operations)', () => {
  it('appends, sends, acks, drops and restarts agree with a plain FIFO model', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let run = 0; run < 20; run++) {
      const store = openStore();
      const max = 5 + Math.floor(rnd() * 40);
      const dropped: string[] = [];
      let log = new OutboundLog(store, 'm', limits({ maxMessages: max }), (_r, e) => dropped.push(e.msg.payload.toString()));
      // Model: stored entries in seq order, each queued or in flight.
      let model: { id: string; inflight: boolean; seq: number }[] = [];
      const inflight = new Map<string, number>();
      let next = 0;
      for (let step = 0; step < 400; step++) {
        const r = rnd();
        if (r < 0.45) {
          const id = String(next++);
          const before = dropped.length;
          const ok = log.append(m(Number(id)));
          if (model.length + 1 > max) {
            const firstQueued = model.findIndex((x) => !x.inflight);
            if (firstQueued < 0) {
              expect(ok).toBe(false);
              expect(dropped.slice(before)).toEqual([id]);
              continue;
            }
            expect(dropped.slice(before)).toEqual([model[firstQueued]!.id]);
            model.splice(firstQueued, 1);
          }
          expect(ok).toBe(true);
          model.push({ id, inflight: false, seq: -1 });
        } else if (r < 0.7) {
          const e = log.takeNext(Date.now());
          const want = model.find((x) => !x.inflight);
          expect(e?.msg.payload.toString()).toBe(want?.id);
          if (e && want) {
            want.inflight = true;
            want.seq = e.seq;
            inflight.set(want.id, e.seq);
          }
        } else if (r < 0.9) {
          const f = model.filter((x) => x.inflight);
          if (f.length === 0) continue;
          const pick = f[Math.floor(rnd() * f.length)]!;
          log.ack(pick.seq);
          model = model.filter((x) => x !== pick);
        } else if (r < 0.96) {
          store.flush();
        } else {
          // Restart: everything stored is queued again, in publish order.
          store.flush();
          log = new OutboundLog(store, 'm', limits({ maxMessages: max }), (_r, e) => dropped.push(e.msg.payload.toString()));
          for (const x of model) x.inflight = false;
        }
        expect(log.count).toBe(model.length);
        expect(log.queued).toBe(model.filter((x) => !x.inflight).length);
      }
      store.close();
    }
  });
});
