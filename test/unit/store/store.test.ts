import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { Store } from '../../../src/store/store.js';

const log = pino({ level: 'silent' });
const msg = (topic: string, payload = 'x') => createMessage({ topic, payload: Buffer.from(payload), qos: 1, retain: false, props: { userProperties: [['a', 'b']], correlationData: Buffer.from([1, 2]) }, now: Date.now() });

function entry(seq: number, topic: string) {
  return { seq, message: msg(topic), qos: 1 as const, pid: 0, state: 0 as const, subIds: '3', retainFlag: false, filter: 't/#' };
}

describe('store', () => {
  it('groups writes of a tick into one commit and calls listeners after it', async () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    for (let i = 1; i <= 100; i++) s.enqueue('c', entry(i, `t/${i}`));
    let called = 0;
    s.afterCommit({ committed: () => called++ });
    expect(called).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(called).toBe(1);
    expect(s.commits).toBe(1);
    const [sess] = s.loadSessions();
    expect(sess!.queue).toHaveLength(100);
    expect(sess!.queue[0]!.message.props?.userProperties).toEqual([['a', 'b']]);
    expect(sess!.queue[0]!.message.props?.correlationData).toEqual(Buffer.from([1, 2]));
    s.close();
  });

  it('an insert acknowledged within the same tick never reaches the disk', async () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    s.enqueue('c', entry(1, 'a'));
    s.updateQueued('c', 1, 5, 1);
    s.dequeue('c', 1);
    s.enqueue('c', entry(2, 'b'));
    s.updateQueued('c', 2, 6, 1);
    s.flush();
    const q = s.loadSessions()[0]!.queue;
    expect(q.map((e) => [e.seq, e.pid, e.state])).toEqual([[2, 6, 1]]);
    s.close();
  });

  it('deleting a session removes its subscriptions and queue', () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    s.saveSubscription('c', 'a/#', { qos: 1, nl: false, rap: true, rh: 1, subId: 7 });
    s.flush();
    expect(s.loadSessions()[0]!.subscriptions).toEqual([{ filter: 'a/#', opts: { qos: 1, nl: false, rap: true, rh: 1, subId: 7 } }]);
    s.enqueue('c', entry(1, 'a'));
    s.deleteSession('c');
    s.flush();
    expect(s.loadSessions()).toEqual([]);
    s.close();
  });

  it('keeps retained messages and runs component migrations once', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'outpost-store-')), 'db');
    let s = Store.open({ path, synchronous: 'FULL', log });
    s.saveRetained(msg('r/1', 'one'));
    s.migrate('test', ['CREATE TABLE t1 (x INTEGER)']);
    s.close();
    s = Store.open({ path, synchronous: 'FULL', log });
    s.migrate('test', ['CREATE TABLE t1 (x INTEGER)', 'CREATE TABLE t2 (y INTEGER)']);
    expect(s.loadRetained().map((m) => m.payload.toString())).toEqual(['one']);
    expect(s.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('t1','t2')").get()).toEqual({ n: 2 });
    expect(s.quarantined).toBeNull();
    s.close();
  });

  it('keeps writes and held acknowledgements when a commit fails, and commits them on retry', async () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    s.flush();
    s.db.pragma('query_only = ON'); // every write now fails, like a full or read-only disk
    s.enqueue('c', entry(1, 'a'));
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await new Promise((r) => setTimeout(r, 30));
    expect(s.failures).toBeGreaterThan(0);
    expect(acked).toBe(0); // nothing durable, nothing acknowledged
    s.db.pragma('query_only = OFF');
    const until = Date.now() + 3000;
    while (acked === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(1);
    expect(s.failures).toBe(0);
    expect(s.loadSessions()[0]!.queue.map((e) => e.seq)).toEqual([1]);
    s.close();
  });

  it('a failed commit of more rows than one INSERT groups is written whole, once, on retry', async () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    s.flush();
    s.db.pragma('query_only = ON');
    for (let seq = 1; seq <= 20; seq++) s.enqueue('c', entry(seq, `t/${seq}`));
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await new Promise((r) => setTimeout(r, 30));
    expect(s.failures).toBeGreaterThan(0);
    expect(acked).toBe(0);
    s.db.pragma('query_only = OFF');
    const until = Date.now() + 3000;
    while (acked === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(1);
    const q = s.loadSessions()[0]!.queue;
    expect(q.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(q.map((e) => e.message.topic)).toEqual(Array.from({ length: 20 }, (_, i) => `t/${i + 1}`));
    s.close();
  });

  it('tells participants only after a commit succeeded, so a failed one is written again', async () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.migrate('probe', ['CREATE TABLE probe (v INTEGER PRIMARY KEY)']);
    const pending = [1, 2];
    const p = {
      writes: 0,
      writePending(db: import('better-sqlite3').Database) {
        this.writes++;
        for (const v of pending) db.prepare('INSERT OR REPLACE INTO probe (v) VALUES (?)').run(v);
      },
      committed() {
        pending.length = 0;
      },
    };
    s.db.pragma('query_only = ON');
    s.join(p);
    await new Promise((r) => setTimeout(r, 30));
    expect(pending).toEqual([1, 2]); // still buffered: nothing committed
    s.db.pragma('query_only = OFF');
    const until = Date.now() + 3000;
    while (pending.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(pending).toEqual([]);
    expect(p.writes).toBeGreaterThanOrEqual(2);
    expect(s.db.prepare('SELECT count(*) AS n FROM probe').get()).toEqual({ n: 2 });
    s.close();
  });

  it('loads every queued row as enqueued: sent rows, subscription ids, retain flags, properties, origin, expiry', () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    const now = Date.now();
    const base = { topic: 'p/q', payload: Buffer.from('pl'), qos: 1 as const, retain: false, from: 'pub', now };
    const rows = [
      { m: createMessage(base), pid: 0, state: 0 as const, subIds: '', retainFlag: false },
      { m: createMessage({ ...base, qos: 2, fromUsername: 'u' }), pid: 0, state: 0 as const, subIds: '', retainFlag: false },
      { m: createMessage(base), pid: 7, state: 1 as const, subIds: '', retainFlag: false },
      { m: createMessage(base), pid: 0, state: 0 as const, subIds: '4,5', retainFlag: false },
      { m: createMessage(base), pid: 0, state: 0 as const, subIds: '', retainFlag: true },
      { m: createMessage({ ...base, retain: true }), pid: 0, state: 0 as const, subIds: '', retainFlag: false },
      { m: createMessage({ ...base, props: { contentType: 'text/plain' } }), pid: 0, state: 0 as const, subIds: '', retainFlag: false },
      { m: createMessage({ ...base, origin: 'bridge1' }), pid: 0, state: 0 as const, subIds: '', retainFlag: false },
      { m: createMessage({ ...base, expiryInterval: 30 }), pid: 0, state: 0 as const, subIds: '', retainFlag: false },
    ];
    rows.forEach((r, i) => s.enqueueRow('c', i + 1, r.m, i === 1 ? 2 : 1, r.pid, r.state, r.subIds, r.retainFlag, 'p/#'));
    s.flush();
    const q = s.loadSessions()[0]!.queue;
    expect(q.map((e) => ({ seq: e.seq, qos: e.qos, pid: e.pid, state: e.state, subIds: e.subIds, retainFlag: e.retainFlag, filter: e.filter }))).toEqual(
      rows.map((r, i) => ({ seq: i + 1, qos: i === 1 ? 2 : 1, pid: r.pid, state: r.state, subIds: r.subIds, retainFlag: r.retainFlag, filter: 'p/#' })),
    );
    for (let i = 0; i < rows.length; i++) {
      const { wire: _w, ...want } = rows[i]!.m;
      const { wire: _g, ...got } = q[i]!.message;
      expect(got).toEqual(want);
    }
    s.close();
  });

  it('loads rows written 16 to a statement with every field, around updates and deletes of older rows', () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    const now = Date.now();
    const msg = (i: number) => createMessage({ topic: `p/${i}`, payload: Buffer.from(`payload ${i}`), qos: 1, retain: false, from: `pub${i % 3}`, fromUsername: i % 2 ? 'u' : null, now: now + i });
    s.enqueueRow('c', 1, msg(1), 1, 0, 0, '', false, 'p/#');
    s.enqueueRow('c', 2, msg(2), 1, 0, 0, '', false, 'p/#');
    s.flush();
    const want = new Map<number, { m: ReturnType<typeof msg>; pid: number; state: number; subIds: string }>();
    // One transaction: an update of an older row, 37 rows (two full groups and 5 left over, one of them
    // with a subscription id), then a delete of an older row.
    s.updateQueued('c', 1, 9, 1);
    for (let seq = 3; seq < 40; seq++) {
      const m = msg(seq);
      const subIds = seq === 20 ? '7' : '';
      s.enqueueRow('c', seq, m, 1, 0, 0, subIds, false, seq % 2 ? 'p/#' : 'p/+');
      want.set(seq, { m, pid: 0, state: 0, subIds });
    }
    s.dequeue('c', 2);
    s.flush();
    const q = s.loadSessions()[0]!.queue;
    expect(q.map((e) => e.seq)).toEqual([1, ...want.keys()]);
    expect([q[0]!.pid, q[0]!.state]).toEqual([9, 1]);
    for (const e of q.slice(1)) {
      const w = want.get(e.seq)!;
      expect([e.pid, e.state, e.subIds, e.filter, e.qos]).toEqual([w.pid, w.state, w.subIds, e.seq % 2 ? 'p/#' : 'p/+', 1]);
      const { wire: _w, ...wantMsg } = w.m;
      const { wire: _g, ...got } = e.message;
      expect(got).toEqual(wantMsg);
    }
    s.close();
  });

  it('loads a message whose stored properties are damaged, without them', () => {
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
    s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    s.enqueue('c', entry(1, 'a'));
    s.flush();
    s.db.prepare("UPDATE queue SET props = '{not json'").run();
    const [e] = s.loadSessions()[0]!.queue;
    expect(e!.message.topic).toBe('a');
    expect(e!.message.props).toBeNull();
    s.close();
  });
});
