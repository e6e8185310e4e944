// A write whose own data cannot be stored must not hold every later acknowledgement (issue 15): the
// store redoes the failed batch one op at a time, drops the bad op(s), tells the owner, commits the rest.
import type { Database } from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMessage, Message } from '../../../src/core/message.js';
import { classifyCommitError, isOutOfSpace } from '../../../src/store/commit-errors.js';
import { Store, type CommitParticipant, type RejectedOp, type WriteFailure } from '../../../src/store/store.js';

const log = pino({ level: 'silent' });
const tick = () => new Promise((r) => setImmediate(r));

function open(extra: Partial<Parameters<typeof Store.open>[0]> = {}): { s: Store; rejected: RejectedOp[] } {
  const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log, ...extra });
  const rejected: RejectedOp[] = [];
  s.onOpRejected = (r) => rejected.push(r);
  s.saveSession({ clientId: 'c', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
  s.saveSession({ clientId: 'd', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
  s.flush();
  return { s, rejected };
}

const good = (topic: string) => createMessage({ topic, payload: Buffer.from('ok'), qos: 1, retain: false, props: null, now: 1000 });

/** The message a will with Message-Expiry-Interval given twice became: expiresAt NaN. */
function nanExpiry(from: string): Message {
  const m = good('will/t');
  return new Message(m.id, m.topic, m.payload, m.qos, m.retain, m.props, from, null, null, m.ts, Number.NaN);
}

const enq = (s: Store, client: string, seq: number, m: Message) => s.enqueueRow(client, seq, m, 1, 0, 0, '', false, '#');
const seqs = (s: Store, client: string) => s.loadSessions().find((x) => x.clientId === client)!.queue.map((e) => e.seq);

describe('store: a write that fails for its own data', () => {
  it('drops only a NaN expires_at row; the rest of the tick (multi-row inserts too) commits and its listeners fire', async () => {
    const { s, rejected } = open();
    for (let seq = 1; seq <= 20; seq++) enq(s, 'c', seq, good(`t/${seq}`));
    enq(s, 'd', 1, nanExpiry('bad-will-client'));
    for (let seq = 21; seq <= 40; seq++) enq(s, 'c', seq, good(`t/${seq}`));
    s.saveRetained(createMessage({ topic: 'r', payload: Buffer.from('kept'), qos: 1, retain: true, props: null, now: 1 }));
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await tick();
    expect(acked).toBe(1);
    expect(seqs(s, 'c')).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(seqs(s, 'd')).toEqual([]);
    expect(s.loadRetained().map((m) => m.payload.toString())).toEqual(['kept']);
    expect(s.rejectedOps).toBe(1);
    expect(s.isolatedCommits).toBe(1);
    expect(s.failures).toBe(0);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ kind: 'enqueue', clientId: 'd', publisher: 'bad-will-client' });
    expect(rejected[0]!.error.message).toMatch(/NOT NULL constraint failed: queue\.expires_at/);
    s.close();
  });

  it('drops a subscription whose values do not fit its statement ("Too many parameter values")', async () => {
    const { s, rejected } = open();
    s.saveSubscription('c', 'a/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 1 });
    // Two Subscription Identifiers, as mqtt-packet hands a repeated property: an array.
    s.saveSubscription('c', 'b/#', { qos: 1, nl: false, rap: false, rh: 0, subId: [1, 2] as unknown as number });
    s.saveSubscription('d', 'c/#', { qos: 0, nl: false, rap: false, rh: 0, subId: 0 });
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await tick();
    expect(acked).toBe(1);
    const subs = Object.fromEntries(s.loadSessions().map((x) => [x.clientId, x.subscriptions.map((y) => y.filter)]));
    expect(subs).toEqual({ c: ['a/#'], d: ['c/#'] });
    expect(rejected.map((r) => [r.kind, r.clientId])).toEqual([['save_subscription', 'c']]);
    expect(rejected[0]!.error).toBeInstanceOf(RangeError);
    expect(rejected[0]!.error.message).toMatch(/Too many parameter values/);
    s.close();
  });

  it('drops a value better-sqlite3 cannot bind (TypeError) and keeps later updates and deletes', async () => {
    const { s, rejected } = open();
    enq(s, 'c', 1, good('t/1'));
    enq(s, 'c', 2, good('t/2'));
    s.flush();
    const m = good('x');
    const unbindable = new Message(m.id, m.topic, { not: 'a buffer' } as unknown as Buffer, 1, false, null, 'p', null, null, 1, 0);
    s.updateQueued('c', 1, 9, 1);
    enq(s, 'c', 3, unbindable);
    s.dequeue('c', 2);
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await tick();
    expect(acked).toBe(1);
    const q = s.loadSessions().find((x) => x.clientId === 'c')!.queue;
    expect(q.map((e) => [e.seq, e.pid, e.state])).toEqual([[1, 9, 1]]);
    expect(rejected.map((r) => [r.kind, r.clientId, r.publisher])).toEqual([['enqueue', 'c', 'p']]);
    expect(rejected[0]!.error).toBeInstanceOf(TypeError);
    s.close();
  });

  it('rolls back a failing participant alone: the others and the ops commit, it is told rejected()', async () => {
    const { s, rejected } = open();
    s.migrate('probe', ['CREATE TABLE probe (v INTEGER NOT NULL)']);
    const calls: string[] = [];
    const participant = (name: string, values: (number | null)[], withRejected: boolean): CommitParticipant => {
      const p: CommitParticipant = {
        writePending(db: Database) {
          for (const v of values) db.prepare('INSERT INTO probe (v) VALUES (?)').run(v);
        },
        committed() {
          calls.push(`${name}:committed`);
        },
      };
      if (withRejected) p.rejected = (err) => calls.push(`${name}:rejected:${err.message}`);
      return p;
    };
    // 3 rows then a NULL: the savepoint must undo the 3 rows too (a participant is all or nothing).
    s.join(participant('bad', [3, 4, 5, null], true));
    s.join(participant('fine', [1, 2], true));
    s.join(participant('bad-old', [null], false));
    enq(s, 'c', 1, good('t/1'));
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await tick();
    expect(acked).toBe(1);
    expect((s.db.prepare('SELECT v FROM probe ORDER BY v').all() as { v: number }[]).map((r) => r.v)).toEqual([1, 2]);
    expect(seqs(s, 'c')).toEqual([1]);
    expect(calls).toEqual(['fine:committed', 'bad:rejected:NOT NULL constraint failed: probe.v', 'bad-old:committed']);
    expect(s.rejectedParticipantWrites).toBe(2);
    expect(rejected).toEqual([]);
    s.close();
  });

  it('logs each rejected write once, with the client and the error', async () => {
    const lines: { msg: string; clientId?: string; publisher?: string; op?: string; code?: string; err?: { message: string } }[] = [];
    const capture = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log: capture });
    s.saveSession({ clientId: 'd', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
    enq(s, 'd', 1, nanExpiry('will-client'));
    enq(s, 'd', 2, good('t/2'));
    await tick();
    await new Promise((r) => setTimeout(r, 50));
    const rejectedLines = lines.filter((l) => l.msg.startsWith('store_op_rejected'));
    expect(rejectedLines).toHaveLength(1);
    expect(rejectedLines[0]).toMatchObject({ clientId: 'd', publisher: 'will-client', op: 'enqueue', code: 'SQLITE_CONSTRAINT' });
    expect(rejectedLines[0]!.err!.message).toMatch(/queue\.expires_at/);
    expect(lines.filter((l) => l.msg.startsWith('store_write_failing'))).toEqual([]);
    expect(seqs(s, 'd')).toEqual([2]);
    s.close();
  });

  it('retries nothing forever: the next tick commits on the fast path, once', async () => {
    const { s } = open();
    enq(s, 'd', 1, nanExpiry('x'));
    await tick();
    expect(s.rejectedOps).toBe(1);
    const commits = s.commits;
    enq(s, 'c', 1, good('t/1'));
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await tick();
    expect(acked).toBe(1);
    expect(s.commits).toBe(commits + 1);
    expect(s.isolatedCommits).toBe(1);
    expect(s.rejectedOps).toBe(1);
    // Nothing left pending, no retry timer: a wait changes nothing.
    await new Promise((r) => setTimeout(r, 100));
    expect(s.hasPendingWrites).toBe(false);
    expect(s.commits).toBe(commits + 1);
    s.close();
  });

  it('a medium failure holds the whole batch (bad op included), then isolation runs once the disk takes writes', async () => {
    const { s, rejected } = open();
    const failing: (WriteFailure | null)[] = [];
    s.onWriteFailing = (f) => failing.push(f && { ...f });
    s.db.pragma('query_only = ON'); // SQLITE_READONLY: the medium, not the data
    enq(s, 'c', 1, good('t/1'));
    enq(s, 'd', 1, nanExpiry('x'));
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await new Promise((r) => setTimeout(r, 150));
    expect(acked).toBe(0);
    expect(rejected).toEqual([]);
    expect(s.failures).toBeGreaterThan(0);
    expect(s.writeFailure).toMatchObject({ code: 'SQLITE_READONLY', outOfSpace: false });
    expect(failing).toHaveLength(1);
    s.db.pragma('query_only = OFF');
    const until = Date.now() + 5000;
    while (acked === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(1);
    expect(seqs(s, 'c')).toEqual([1]);
    expect(rejected.map((r) => r.clientId)).toEqual(['d']);
    expect(s.writeFailure).toBeNull();
    expect(failing[1]).toBeNull();
    expect(failing).toHaveLength(2);
    s.close();
  });

  it('reports writable === false once maxPendingWhileFailing writes wait on a failing medium, true after recovery', async () => {
    const { s } = open({ maxPendingWhileFailing: 50 });
    s.db.pragma('query_only = ON');
    for (let seq = 1; seq <= 49; seq++) enq(s, 'c', seq, good('t'));
    await new Promise((r) => setTimeout(r, 30));
    expect(s.writeFailure).not.toBeNull();
    expect(s.writable).toBe(true);
    enq(s, 'c', 50, good('t'));
    expect(s.pendingOps).toBe(50);
    expect(s.writable).toBe(false);
    // Held, not dropped: the store only says stop; the writes still commit when the disk is back.
    s.db.pragma('query_only = OFF');
    const until = Date.now() + 5000;
    while (s.hasPendingWrites && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(s.writable).toBe(true);
    expect(seqs(s, 'c')).toHaveLength(50);
    s.close();
  });
});

describe('commit error classes', () => {
  const e = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it('holds for the medium, isolates for the data', () => {
    for (const c of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_BUSY', 'SQLITE_LOCKED_SHAREDCACHE', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_NOMEM', 'SQLITE_CORRUPT'])
      expect(classifyCommitError(e(c))).toBe('medium');
    for (const c of ['SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_CONSTRAINT', 'SQLITE_MISMATCH', 'SQLITE_TOOBIG', 'SQLITE_RANGE', 'SQLITE_ERROR'])
      expect(classifyCommitError(e(c))).toBe('data');
    expect(classifyCommitError(new RangeError('Too many parameter values were provided'))).toBe('data');
    expect(classifyCommitError(new TypeError('SQLite3 can only bind numbers, strings, bigints, buffers, and null'))).toBe('data');
  });
  it('knows a full disk', () => {
    expect(isOutOfSpace(e('SQLITE_FULL'))).toBe(true);
    expect(isOutOfSpace(e('SQLITE_IOERR_WRITE', 'disk I/O error: ENOSPC'))).toBe(true);
    expect(isOutOfSpace(e('SQLITE_IOERR_WRITE', 'disk I/O error'))).toBe(false);
    expect(isOutOfSpace(e('SQLITE_READONLY'))).toBe(false);
  });
});
