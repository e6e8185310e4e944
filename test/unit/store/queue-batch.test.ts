// Queue-row updates and deletes are written as range statements and common inserts several rows per
// statement within a transaction; these check that the rows left on disk (and their pid/state) are
// exactly what in-order, one-row-at-a-time writes give.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { Store, type StoredQueueEntry } from '../../../src/store/store.js';

const log = pino({ level: 'silent' });

function entry(seq: number, topic = `t/${seq}`): StoredQueueEntry {
  const message = createMessage({ topic, payload: Buffer.from(String(seq)), qos: 1, retain: false, now: Date.now() });
  return { seq, message, qos: 1, pid: 0, state: 0, subIds: '', retainFlag: false, filter: 't/#' };
}

function open(clients: string[]): Store {
  const s = Store.open({ path: ':memory:', synchronous: 'NORMAL', log });
  for (const clientId of clients) s.saveSession({ clientId, protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 1, disconnectedAt: 0 });
  return s;
}

/** clientId -> [seq, pid, state] rows on disk, by seq. */
function rows(s: Store): Record<string, [number, number, number][]> {
  const out: Record<string, [number, number, number][]> = {};
  for (const sess of s.loadSessions()) out[sess.clientId] = sess.queue.map((e) => [e.seq, e.pid, e.state]);
  return out;
}

describe('store queue-row batching', () => {
  it('deletes exactly the acknowledged rows: runs, single rows, out of order, and other clients untouched', () => {
    const s = open(['a', 'b']);
    for (let i = 1; i <= 20; i++) {
      s.enqueue('a', entry(i));
      s.enqueue('b', entry(i));
    }
    s.flush();
    for (const seq of [3, 4, 5, 6, 9, 11, 12, 15, 14, 20]) s.dequeue('a', seq);
    s.dequeue('b', 1);
    s.dequeue('b', 2);
    s.flush();
    const r = rows(s);
    expect(r.a!.map(([seq]) => seq)).toEqual([1, 2, 7, 8, 10, 13, 16, 17, 18, 19]);
    expect(r.b!.map(([seq]) => seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    s.close();
  });

  it('writes each row its own packet id in a run, across the 65535 wrap, and the last update of a row wins', () => {
    const s = open(['a']);
    for (let i = 1; i <= 10; i++) s.enqueue('a', entry(i));
    s.flush();
    // seqs 1-5 get pids 10-14 (a run), 7-9 get 65534, 65535, 1 (a run that must break at the wrap); 6 and 10 stay.
    for (let i = 1; i <= 5; i++) s.updateQueued('a', i, 9 + i, 1);
    s.updateQueued('a', 7, 65534, 1);
    s.updateQueued('a', 8, 65535, 1);
    s.updateQueued('a', 9, 1, 1);
    s.updateQueued('a', 2, 11, 2); // PUBREC after the send: the later write wins
    s.updateQueued('a', 4, 0, 0); // taken back into the queue
    s.flush();
    expect(rows(s).a).toEqual([
      [1, 10, 1],
      [2, 11, 2],
      [3, 12, 1],
      [4, 0, 0],
      [5, 14, 1],
      [6, 0, 0],
      [7, 65534, 1],
      [8, 65535, 1],
      [9, 1, 1],
      [10, 0, 0],
    ]);
    s.close();
  });

  it('a row updated and deleted in one transaction is gone; a session deleted and refilled keeps only the new rows', () => {
    const s = open(['a']);
    for (let i = 1; i <= 4; i++) s.enqueue('a', entry(i, 'old'));
    s.flush();
    s.updateQueued('a', 1, 7, 1);
    s.dequeue('a', 1);
    s.dequeue('a', 2);
    s.updateQueued('a', 3, 8, 1);
    // Clean start in the same tick: the old queue goes, the new session's seqs start again at 1.
    s.deleteSession('a');
    s.saveSession({ clientId: 'a', protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: 2, disconnectedAt: 0 });
    s.enqueue('a', entry(1, 'new'));
    s.enqueue('a', entry(2, 'new'));
    s.flush();
    s.dequeue('a', 2);
    s.flush();
    const q = s.loadSessions()[0]!.queue;
    expect(q.map((e) => [e.seq, e.pid, e.state, e.message.topic])).toEqual([[1, 0, 0, 'new']]);
    s.close();
  });

  it('a failed commit of updates and deletes is written whole on retry', async () => {
    const s = open(['a']);
    for (let i = 1; i <= 6; i++) s.enqueue('a', entry(i));
    s.flush();
    s.db.pragma('query_only = ON'); // every write fails, like a full disk
    for (let i = 1; i <= 3; i++) s.dequeue('a', i);
    for (let i = 4; i <= 6; i++) s.updateQueued('a', i, 100 + i, 1);
    let acked = 0;
    s.afterCommit({ committed: () => acked++ });
    await new Promise((r) => setTimeout(r, 30));
    expect(acked).toBe(0);
    expect(rows(s).a!.map(([seq]) => seq)).toEqual([1, 2, 3, 4, 5, 6]);
    s.db.pragma('query_only = OFF');
    const until = Date.now() + 3000;
    while (acked === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(acked).toBe(1);
    expect(rows(s).a).toEqual([
      [4, 104, 1],
      [5, 105, 1],
      [6, 106, 1],
    ]);
    s.close();
  });

  it('matches one-row-at-a-time writes over random drains, requeues and restarts of sessions', () => {
    // A small deterministic PRNG, so a failure is reproducible.
    let x = 0x9e3779b9;
    const rnd = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const clients = ['a', 'b', 'c'];
    const s = open(clients);
    const model = new Map<string, Map<number, [number, number]>>(clients.map((c) => [c, new Map()]));
    const nextSeq = new Map(clients.map((c) => [c, 1]));
    let pid = 1;
    for (let tick = 0; tick < 400; tick++) {
      const ops = 1 + rnd(12);
      for (let k = 0; k < ops; k++) {
        const c = clients[rnd(clients.length)]!;
        const m = model.get(c)!;
        const live = [...m.keys()].sort((p, q) => p - q);
        const r = rnd(100);
        if (r < 25 || live.length === 0) {
          // Sometimes more than one multi-row INSERT's worth (16) in a tick.
          for (let n = 1 + (rnd(4) === 0 ? rnd(40) : rnd(10)); n > 0; n--) {
            const seq = nextSeq.get(c)!;
            nextSeq.set(c, seq + 1);
            s.enqueue(c, entry(seq));
            m.set(seq, [0, 0]);
          }
        } else if (r < 55) {
          // Send the oldest queued rows with consecutive pids, as a drain does.
          for (const seq of live.filter((q) => m.get(q)![1] === 0).slice(0, 1 + rnd(5))) {
            pid = pid === 65535 ? 1 : pid + 1;
            s.updateQueued(c, seq, pid, 1);
            m.set(seq, [pid, 1]);
          }
        } else if (r < 85) {
          // Acknowledge the oldest sent rows, in order.
          for (const seq of live.filter((q) => m.get(q)![1] !== 0).slice(0, 1 + rnd(12))) {
            s.dequeue(c, seq);
            m.delete(seq);
          }
        } else if (r < 90) {
          const seq = live[rnd(live.length)]!;
          s.dequeue(c, seq);
          m.delete(seq);
        } else if (r < 98) {
          const seq = live[rnd(live.length)]!;
          const st = rnd(3) as 0 | 1 | 2;
          const p = st === 0 ? 0 : 1 + rnd(65535);
          s.updateQueued(c, seq, p, st);
          m.set(seq, [p, st]);
        } else {
          s.deleteSession(c);
          s.saveSession({ clientId: c, protocol: 'mqtt', username: null, expiryInterval: 60, createdAt: tick, disconnectedAt: 0 });
          m.clear();
          nextSeq.set(c, 1);
        }
      }
      if (rnd(3) !== 0) s.flush();
    }
    s.flush();
    const got = rows(s);
    for (const c of clients) {
      const want = [...model.get(c)!].sort((p, q) => p[0] - q[0]).map(([seq, [p, st]]) => [seq, p, st]);
      expect(got[c] ?? [], c).toEqual(want);
    }
    s.close();
  });
});
