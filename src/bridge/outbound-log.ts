// The durable outbound log of one bridge (spec §5.1–§5.4): a FIFO of mapped messages in the
// store's SQLite file. An entry is appended inside the tick's group commit (so the local publisher's
// QoS 1/2 ack waits for it) and deleted only when the remote acknowledged it. RAM holds a compact
// index (size, QoS 0 flag, timestamp per entry: 17 bytes) plus a bounded read-ahead window, so a long
// outage grows the file, not the heap.
import type { Database as Db, Statement } from 'better-sqlite3';
import { Message } from '../core/message.js';
import type { Store, CommitParticipant } from '../store/store.js';
import { MESSAGE_COLUMNS, MESSAGE_COLUMN_DEFS, putMessageParams, rowToMessage, type MessageRow } from '../store/codec.js';
import { MultiRowInsert } from '../store/multi-row-insert.js';

export const BRIDGE_MIGRATIONS = [
  `CREATE TABLE bridge_log (bridge TEXT NOT NULL, seq INTEGER NOT NULL, ${MESSAGE_COLUMN_DEFS}, PRIMARY KEY (bridge, seq));`,
];

export type DropReason = 'queue_full' | 'expired' | 'qos0_full' | 'qos0_offline' | 'too_large' | 'topic_invalid' | 'rejected';

export interface LogEntry {
  readonly seq: number;
  readonly msg: Message;
  readonly size: number;
}

export interface LogLimits {
  maxMessages: number;
  maxBytes: number;
  overflow: 'drop_oldest' | 'drop_newest';
  maxQos0: number;
  /** ms, 0 = none. */
  ttl: number;
}

/** Entries read from the file per refill of the read-ahead window. */
const READ_BATCH = 512;
/** Live appends kept in RAM for sending while the sender is caught up. */
const RAM_MAX = 2048;

const PRESENT = 1;
const QOS0 = 2;

const ascending = (a: number, b: number): number => a - b;

export function entrySize(m: Message): number {
  // Topic length in UTF-16 units is close enough for accounting; payload is exact.
  return m.topic.length + m.payload.length + 16;
}

export class OutboundLog implements CommitParticipant {
  /** Lowest seq that may still be stored (in flight or queued). */
  private head = 0;
  /** Next seq to hand to the sender; every seq in [cursor, tail) is queued. */
  private cursor = 0;
  /** Next seq to allocate. */
  private tail = 0;
  private mask = 1023;
  private sizes = new Int32Array(1024);
  private flags = new Uint8Array(1024);
  private times = new Float64Array(1024);
  count = 0;
  bytes = 0;
  qos0Count = 0;
  /** Entries stored and not yet handed to the sender. */
  queued = 0;

  /** Read-ahead: entries from cursor on, in seq order. */
  private ram: LogEntry[] = [];
  private ramOff = 0;
  /** The read-ahead ends at tail - 1, so a live append can join it instead of being read back. */
  private ramCoversTail = true;

  private pendingInserts = new Map<number, LogEntry>();
  private pendingDeletes: number[] = [];
  private joined = false;

  private readonly st: { del: Statement; delRange: Statement; read: Statement };
  /** A tick's appends, several rows to an INSERT. */
  private readonly inserts: MultiRowInsert;

  constructor(
    private readonly store: Store,
    readonly bridge: string,
    private limits: LogLimits,
    private readonly onDrop: (reason: DropReason, entry: LogEntry) => void,
  ) {
    store.migrate('bridge', BRIDGE_MIGRATIONS);
    const db = store.db;
    this.st = {
      del: db.prepare('DELETE FROM bridge_log WHERE bridge = ? AND seq = ?'),
      // Only for runs that name every seq from the first to the last: exactly those rows go.
      delRange: db.prepare('DELETE FROM bridge_log WHERE bridge = ? AND seq BETWEEN ? AND ?'),
      read: db.prepare(`SELECT seq, ${MESSAGE_COLUMNS} FROM bridge_log WHERE bridge = ? AND seq >= ? ORDER BY seq LIMIT ?`),
    };
    this.inserts = new MultiRowInsert(db, `INSERT OR REPLACE INTO bridge_log (bridge, seq, ${MESSAGE_COLUMNS}) VALUES `, '(?,?,?,?,?,?,?,?,?,?,?,?,?)', 13);
    this.loadIndex();
  }

  setLimits(l: LogLimits): void {
    this.limits = l;
  }

  /** Rebuilds the RAM index from the file: everything stored is queued again (sent state is not kept). */
  private loadIndex(): void {
    const rows = this.store.db
      .prepare('SELECT seq, length(topic) + length(payload) + 16 AS size, qos, ts FROM bridge_log WHERE bridge = ? ORDER BY seq')
      .iterate(this.bridge) as IterableIterator<{ seq: number; size: number; qos: number; ts: number }>;
    let first = true;
    for (const r of rows) {
      if (first) {
        this.head = this.cursor = this.tail = r.seq;
        first = false;
      }
      // Gaps (entries acked out of order before a restart) stay absent in the index.
      while (this.tail < r.seq) this.tail++;
      this.ensureCapacity(r.seq + 1 - this.head);
      const i = r.seq & this.mask;
      this.sizes[i] = r.size;
      this.flags[i] = PRESENT | (r.qos === 0 ? QOS0 : 0);
      this.times[i] = r.ts;
      this.tail = r.seq + 1;
      this.count++;
      this.queued++;
      this.bytes += r.size;
      if (r.qos === 0) this.qos0Count++;
    }
    this.ramCoversTail = this.count === 0;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.mask + 1) return;
    let cap = (this.mask + 1) * 2;
    while (cap < n) cap *= 2;
    const mask = cap - 1;
    const sizes = new Int32Array(cap);
    const flags = new Uint8Array(cap);
    const times = new Float64Array(cap);
    for (let s = this.head; s < this.tail; s++) {
      sizes[s & mask] = this.sizes[s & this.mask]!;
      flags[s & mask] = this.flags[s & this.mask]!;
      times[s & mask] = this.times[s & this.mask]!;
    }
    this.sizes = sizes;
    this.flags = flags;
    this.times = times;
    this.mask = mask;
  }

  /** Messages held in RAM: the read-ahead window plus this tick's uncommitted appends (bounded, not the backlog). */
  get resident(): number {
    return this.ram.length - this.ramOff + this.pendingInserts.size;
  }

  /** Publish time of the oldest stored entry (in flight or queued), or 0. */
  oldestTs(): number {
    for (let s = this.head; s < this.tail; s++) if (this.flags[s & this.mask]! & PRESENT) return this.times[s & this.mask]!;
    return 0;
  }

  /** Publish time of the next entry to send, or 0 when the sender is caught up. */
  nextTs(): number {
    for (let s = this.cursor; s < this.tail; s++) if (this.flags[s & this.mask]! & PRESENT) return this.times[s & this.mask]!;
    return 0;
  }

  /**
   * Appends a mapped message; drops by policy when over a limit. Returns false when the new message
   * itself was dropped. The write joins the current tick's transaction.
   */
  append(msg: Message): boolean {
    const size = entrySize(msg);
    const l = this.limits;
    if (msg.qos === 0 && l.maxQos0 > 0 && this.qos0Count >= l.maxQos0) {
      this.onDrop('qos0_full', { seq: -1, msg, size });
      return false;
    }
    if (size > l.maxBytes) {
      this.onDrop('too_large', { seq: -1, msg, size });
      return false;
    }
    while (this.count + 1 > l.maxMessages || this.bytes + size > l.maxBytes) {
      // Only queued entries can be dropped; in-flight ones belong to the remote's session now.
      if (l.overflow === 'drop_newest' || this.queued === 0) {
        this.onDrop('queue_full', { seq: -1, msg, size });
        return false;
      }
      this.dropFront('queue_full');
    }
    const seq = this.tail++;
    this.ensureCapacity(this.tail - this.head);
    const i = seq & this.mask;
    this.sizes[i] = size;
    this.flags[i] = PRESENT | (msg.qos === 0 ? QOS0 : 0);
    this.times[i] = msg.ts;
    this.count++;
    this.queued++;
    this.bytes += size;
    if (msg.qos === 0) this.qos0Count++;
    const e: LogEntry = { seq, msg, size };
    this.pendingInserts.set(seq, e);
    if (this.ramCoversTail && this.ram.length - this.ramOff < RAM_MAX) this.ram.push(e);
    else this.ramCoversTail = false;
    if (!this.joined) {
      this.joined = true;
      this.store.join(this);
    }
    return true;
  }

  /** Drops the oldest queued entry (the one at the cursor). */
  private dropFront(reason: DropReason): void {
    const e = this.peek();
    if (!e) {
      this.cursor = this.tail;
      this.queued = 0;
      return;
    }
    this.cursor = e.seq + 1;
    this.queued--;
    this.remove(e.seq);
    this.onDrop(reason, e);
  }

  /** The entry at the cursor, loading the read-ahead window from the file when empty. */
  private peek(): LogEntry | null {
    if (this.cursor >= this.tail) return null;
    if (this.ramOff >= this.ram.length) this.refill();
    const e = this.ram[this.ramOff];
    if (!e) return null;
    this.ramOff++;
    if (this.ramOff > 1024 && this.ramOff * 2 > this.ram.length) {
      this.ram = this.ram.slice(this.ramOff);
      this.ramOff = 0;
    }
    return e;
  }

  private refill(): void {
    this.ram = [];
    this.ramOff = 0;
    const rows = this.st.read.all(this.bridge, this.cursor, READ_BATCH) as (MessageRow & { seq: number })[];
    for (const r of rows) {
      if (this.pendingInserts.has(r.seq)) continue;
      this.ram.push({ seq: r.seq, msg: rowToMessage(r), size: this.sizes[r.seq & this.mask]! });
    }
    // Appends of this tick are not in the file yet; they are the newest seqs.
    if (this.ram.length < READ_BATCH) {
      for (const e of this.pendingInserts.values()) {
        if (e.seq >= this.cursor && (this.ram.length === 0 || e.seq > this.ram[this.ram.length - 1]!.seq)) {
          this.ram.push(e);
          if (this.ram.length >= READ_BATCH) break;
        }
      }
    }
    const last = this.ram[this.ram.length - 1];
    this.ramCoversTail = last === undefined ? this.cursor >= this.tail : last.seq === this.tail - 1;
  }

  /**
   * The next entry to send, in publish order; expired entries (v5 Message-Expiry-Interval or the
   * configured ttl) are dropped on the way.
   */
  takeNext(now: number): LogEntry | null {
    while (this.queued > 0) {
      const e = this.peek();
      if (!e) {
        this.cursor = this.tail;
        this.queued = 0;
        break;
      }
      this.cursor = e.seq + 1;
      this.queued--;
      const ttl = this.limits.ttl;
      if (e.msg.isExpired(now) || (ttl > 0 && now - e.msg.ts >= ttl)) {
        this.remove(e.seq);
        this.onDrop('expired', e);
        continue;
      }
      return e;
    }
    return null;
  }

  /** The remote acknowledged (or refused) an entry: it leaves the log. */
  ack(seq: number): void {
    this.remove(seq);
  }

  private remove(seq: number): void {
    const i = seq & this.mask;
    if (seq < this.head || seq >= this.tail || !(this.flags[i]! & PRESENT)) return;
    if (this.flags[i]! & QOS0) this.qos0Count--;
    this.flags[i] = 0;
    this.count--;
    this.bytes -= this.sizes[i]!;
    if (this.pendingInserts.delete(seq)) {
      // Appended and removed within one tick: nothing reaches the disk.
    } else {
      this.pendingDeletes.push(seq);
      if (!this.joined) {
        this.joined = true;
        this.store.join(this);
      }
    }
    while (this.head < this.cursor && !(this.flags[this.head & this.mask]! & PRESENT)) this.head++;
  }

  writePending(_db: Db): void {
    this.joined = false;
    const name = this.bridge;
    const st = this.st;
    const ins = this.inserts;
    const a = ins.args;
    ins.reset();
    for (const e of this.pendingInserts.values()) {
      const o = ins.next();
      a[o] = name;
      a[o + 1] = e.seq;
      putMessageParams(a, o + 2, e.msg);
      ins.added();
    }
    ins.write();
    ins.release();
    // The remote acknowledges in send order, so a tick's acks are mostly one run of consecutive seqs:
    // one ranged DELETE instead of one per message (bench bridge-egress).
    const d = this.pendingDeletes;
    if (d.length > 1) d.sort(ascending);
    for (let i = 0, n = d.length; i < n; ) {
      const first = d[i]!;
      let j = i + 1;
      while (j < n && d[j] === first + (j - i)) j++;
      if (j - i === 1) st.del.run(name, first);
      else st.delRange.run(name, first, first + (j - i - 1));
      i = j;
    }
  }

  /** Dropped only once the transaction committed: a failed commit is retried with the same writes. */
  committed(): void {
    this.pendingInserts.clear();
    this.pendingDeletes = [];
  }
}

/** Builds the message as it goes upstream: mapped topic/QoS/retain and (optionally) payload, everything else kept. */
export function mappedMessage(m: Message, topic: string, qos: 0 | 1 | 2, retain: boolean, payload: Buffer | null): Message {
  if (payload === null && topic === m.topic && qos === m.qos && retain === m.retain) return m;
  return new Message(m.id, topic, payload ?? m.payload, qos, retain, m.props, m.from, m.fromUsername, m.origin, m.ts, m.expiresAt);
}
