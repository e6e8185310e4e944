// One SQLite file (WAL) holds everything that must survive a restart. Writes are buffered for the
// current tick and committed in one transaction (group commit); whoever must not answer before
// the data is durable (a QoS 1/2 PUBACK) registers a CommitListener and is called after COMMIT.
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { existsSync, renameSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Message } from '../core/message.js';
import type { QoS, SubscriptionOptions } from '../core/types.js';
import { MESSAGE_COLUMNS, MESSAGE_COLUMN_DEFS, messageParams, putMessageParams, rowToMessage, type MessageRow } from './codec.js';
import { QueueRowBatch } from './queue-batch.js';
import { MultiRowInsert } from './multi-row-insert.js';
import { classifyCommitError, isOutOfSpace, primaryCode } from './commit-errors.js';

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL';

export interface StoreOptions {
  /** File path, or ':memory:' for tests. */
  path: string;
  synchronous: Synchronous;
  log: Logger;
  /** Skip the integrity check on open (only for benchmarks of huge files). */
  skipIntegrityCheck?: boolean;
  /**
   * While commits fail for the medium (disk full, I/O error), `writable` turns false once this many
   * operations wait in memory, so fronts refuse new durable work instead of growing without bound.
   */
  maxPendingWhileFailing?: number;
}

/** Default for StoreOptions.maxPendingWhileFailing: ~10k held writes is a few MB, not the box's RAM. */
export const DEFAULT_MAX_PENDING_WHILE_FAILING = 10_000;

/** Something that adds its own buffered writes to the tick's transaction (the bridge log, the user DB). */
export interface CommitParticipant {
  /** Write everything buffered into the open transaction; keep it until committed(). */
  writePending(db: Db): void;
  /** The transaction holding the last writePending() committed: drop what it wrote. */
  committed?(): void;
  /**
   * What the last writePending() wrote failed for its own data (not the disk) and was rolled back on its
   * own; everything else committed. Drop those writes: they can never be stored. A participant without
   * this method is told committed() instead, so it does not offer the same bad writes forever.
   */
  rejected?(err: Error): void;
}

/** The kind of a buffered write, as reported when one is rejected. */
export type StoreOpKind =
  | 'enqueue'
  | 'update'
  | 'dequeue'
  | 'save_session'
  | 'delete_session'
  | 'save_subscription'
  | 'delete_subscription'
  | 'save_retained'
  | 'delete_retained'
  | 'save_delayed'
  | 'delete_delayed'
  | 'save_awaiting_rel'
  | 'delete_awaiting_rel';

/** One write dropped because its own data cannot be stored (see Store.onOpRejected). */
export interface RejectedOp {
  kind: StoreOpKind;
  /** The session the row belongs to; '' for retained and delayed messages. */
  clientId: string;
  /** The client that published the message the write carries ('' when it carries none). */
  publisher: string;
  error: Error;
}

/** What Store.onWriteFailing reports when commits start or stop failing for the medium. */
export interface WriteFailure {
  /** SQLite's code (SQLITE_FULL, SQLITE_IOERR_WRITE, ...) or the error's name. */
  code: string;
  message: string;
  outOfSpace: boolean;
  pendingOps: number;
  since: number;
}

/** Called once after the transaction holding everything queued before it has committed. */
export interface CommitListener {
  committed(): void;
}

export interface StoredSessionMeta {
  clientId: string;
  protocol: string;
  username: string | null;
  /** Session expiry interval in seconds (0xFFFFFFFF = never). */
  expiryInterval: number;
  createdAt: number;
  /** 0 while connected. */
  disconnectedAt: number;
}

export interface StoredQueueEntry {
  seq: number;
  message: Message;
  /** Delivery QoS (subscription QoS applied). */
  qos: QoS;
  pid: number;
  /** 0 queued, 1 sent and awaiting PUBACK/PUBREC, 2 PUBREL sent awaiting PUBCOMP. */
  state: 0 | 1 | 2;
  /** Subscription identifiers of the matching subscriptions, comma-joined, '' for none. */
  subIds: string;
  retainFlag: boolean;
  filter: string;
}

export interface StoredSession extends StoredSessionMeta {
  subscriptions: { filter: string; opts: SubscriptionOptions }[];
  queue: StoredQueueEntry[];
  /** Inbound QoS 2 packet ids awaiting PUBREL, with their arrival time. */
  awaitingRel: { pid: number; ts: number }[];
}

export interface QuarantineInfo {
  movedTo: string;
  reason: string;
  at: number;
}

const enum OpKind {
  Enqueue,
  Update,
  Dequeue,
  SaveSession,
  DeleteSession,
  SaveSub,
  DeleteSub,
  SaveRetained,
  DeleteRetained,
  SaveDelayed,
  DeleteDelayed,
  SaveRel,
  DeleteRel,
}

/** One buffered write. A fixed shape so the hot path allocates one small object per durable step. */
class Op {
  cancelled = false;
  /** Enqueue only: the queue row's own columns (no entry object per message, bench backlog-qos1). */
  dqos = 0;
  subIds = '';
  retainFlag = false;
  filter = '';
  constructor(
    public kind: OpKind,
    public clientId: string,
    public seq: number,
    public pid: number,
    public state: number,
    public message: Message | null,
    public extra: unknown,
  ) {}
}

const OP_KIND_NAMES: readonly StoreOpKind[] = [
  'enqueue',
  'update',
  'dequeue',
  'save_session',
  'delete_session',
  'save_subscription',
  'delete_subscription',
  'save_retained',
  'delete_retained',
  'save_delayed',
  'delete_delayed',
  'save_awaiting_rel',
  'delete_awaiting_rel',
];

const NO_OPS: readonly Op[] = [];
const NO_PARTICIPANTS: readonly CommitParticipant[] = [];

const CORE_MIGRATIONS = [
  `CREATE TABLE sessions (client_id TEXT PRIMARY KEY, protocol TEXT NOT NULL, username TEXT,
     expiry_interval INTEGER NOT NULL, created_at INTEGER NOT NULL, disconnected_at INTEGER NOT NULL);
   CREATE TABLE subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL,
     nl INTEGER NOT NULL, rap INTEGER NOT NULL, rh INTEGER NOT NULL, sub_id INTEGER NOT NULL,
     PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
   CREATE TABLE queue (client_id TEXT NOT NULL, seq INTEGER NOT NULL, dqos INTEGER NOT NULL, pid INTEGER NOT NULL,
     state INTEGER NOT NULL, sub_ids TEXT NOT NULL, retain_flag INTEGER NOT NULL, filter TEXT NOT NULL,
     ${MESSAGE_COLUMN_DEFS}, PRIMARY KEY (client_id, seq)) WITHOUT ROWID;
   CREATE TABLE retained (topic TEXT PRIMARY KEY, ${MESSAGE_COLUMN_DEFS.replace('topic TEXT NOT NULL, ', '')});`,
  // Delayed publishes ($delayed/{s}/topic) are acknowledged, so they must survive a restart.
  `CREATE TABLE delayed (due INTEGER NOT NULL, ${MESSAGE_COLUMN_DEFS}, PRIMARY KEY (msg_id));`,
  // Inbound QoS 2 packet ids awaiting PUBREL: without them a re-sent PUBLISH after a crash is delivered twice.
  `CREATE TABLE awaiting_rel (client_id TEXT NOT NULL, pid INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (client_id, pid)) WITHOUT ROWID;`,
];

export class Store {
  readonly db: Db;
  readonly path: string;
  readonly quarantined: QuarantineInfo | null;
  commits = 0;
  /** Consecutive failed commits (disk full, I/O error); 0 when healthy. */
  failures = 0;
  lastCommitMs = 0;
  maxCommitMs = 0;
  /** Writes dropped because their own data could not be stored (constraint, type, size, bind errors). */
  rejectedOps = 0;
  /** Participants whose tick of writes was dropped for the same reason. */
  rejectedParticipantWrites = 0;
  /** Commits that failed for their data and were redone one operation at a time. */
  isolatedCommits = 0;
  /** Set while commits fail for the medium (the store_write_failing alarm); null when healthy. */
  writeFailure: WriteFailure | null = null;
  /**
   * Told about every write dropped for its own data, before the tick's commit listeners run: the
   * owner closes that client's connection instead of acknowledging (the broker's wiring sets it).
   */
  onOpRejected: ((r: RejectedOp) => void) | null = null;
  /** Told when commits start failing for the medium (with the failure) and when they recover (null). */
  onWriteFailing: ((failure: WriteFailure | null) => void) | null = null;
  private readonly maxPendingWhileFailing: number;
  private backlogFullLogged = false;

  private readonly log: Logger;
  private ops: Op[] = [];
  /**
   * Pending Enqueue ops by client, then seq, so an ack in the same tick cancels the insert instead of
   * writing twice. Two levels rather than a `client + seq` string key: no string built per message.
   */
  private readonly pendingInserts = new Map<string, Map<number, Op>>();
  /** The queue-row updates and deletes of the transaction being written (see QueueRowBatch). */
  private batch!: QueueRowBatch;
  /**
   * The transaction's queue-row inserts, written several to a statement: rows not yet sent of a message
   * without retain, properties, origin or expiry (nearly all of them) bind 11 values, the rest all 19.
   */
  private plainRows!: MultiRowInsert;
  private fullRows!: MultiRowInsert;
  /** What the transaction function writes; set just before it runs. */
  private txOps: readonly Op[] = NO_OPS;
  private txParticipants: readonly CommitParticipant[] = NO_PARTICIPANTS;
  /** Made once: better-sqlite3's db.transaction() builds a new wrapper on every call. */
  private tx!: () => void;
  /** The slow path after a commit failed for its data: every op (and participant) in its own SAVEPOINT. */
  private isolatingTx!: () => void;
  private opSavepoint!: (op: Op) => void;
  private participantSavepoint!: (p: CommitParticipant) => void;
  /** What the slow path dropped, filled while isolatingTx runs. */
  private txRejectedOps: { op: Op; err: Error }[] = [];
  private txRejectedParticipants: { p: CommitParticipant; err: Error }[] = [];
  private participants: CommitParticipant[] = [];
  private listeners: CommitListener[] = [];
  private scheduled = false;
  private closed = false;
  private readonly commitBound = () => this.commit();
  private st!: {
    saveSession: Statement;
    delSession: Statement;
    delSessionSubs: Statement;
    delSessionQueue: Statement;
    saveSub: Statement;
    delSub: Statement;
    saveRetained: Statement;
    delRetained: Statement;
    saveDelayed: Statement;
    delDelayed: Statement;
    saveRel: Statement;
    delRel: Statement;
    delSessionRel: Statement;
    insertOne: Statement;
    updateOne: Statement;
    dequeueOne: Statement;
  };

  static open(opts: StoreOptions): Store {
    return new Store(opts);
  }

  private constructor(opts: StoreOptions) {
    this.log = opts.log;
    this.path = opts.path;
    this.maxPendingWhileFailing = opts.maxPendingWhileFailing ?? DEFAULT_MAX_PENDING_WHILE_FAILING;
    let quarantined: QuarantineInfo | null = null;
    let db: Db;
    try {
      db = this.openChecked(opts);
    } catch (err) {
      if (opts.path === ':memory:') throw err;
      quarantined = this.quarantine(opts.path, (err as Error).message);
      db = this.openChecked(opts);
    }
    this.db = db;
    this.quarantined = quarantined;
    this.prepare();
    this.batch = new QueueRowBatch(db);
    const insertQueue = `INSERT OR REPLACE INTO queue (client_id, seq, dqos, filter, pid, state, sub_ids, retain_flag, ${MESSAGE_COLUMNS}) VALUES `;
    // The shared columns as constants: binding 19 values instead of 11 cost ~0.4 us per row (~12 %).
    this.plainRows = new MultiRowInsert(db, insertQueue, "(?,?,?,?,0,0,'',0,?,?,?,?,0,NULL,?,?,NULL,?,0)", 11);
    this.fullRows = new MultiRowInsert(db, insertQueue, '(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)', 19);
    this.tx = db.transaction(() => this.writeAll());
    // Nested better-sqlite3 transactions are SAVEPOINTs: a failing op rolls back alone.
    this.isolatingTx = db.transaction(() => this.writeEachAlone());
    this.opSavepoint = db.transaction((op: Op) => this.writeOne(op));
    this.participantSavepoint = db.transaction((p: CommitParticipant) => p.writePending(db));
  }

  private openChecked(opts: StoreOptions): Db {
    const db = new Database(opts.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous}`);
      db.pragma('foreign_keys = OFF');
      // Checkpoint in bigger steps: fewer, larger writes are kinder to SD cards.
      db.pragma('wal_autocheckpoint = 4000');
      if (!opts.skipIntegrityCheck && opts.path !== ':memory:') {
        const r = db.pragma('quick_check', { simple: true });
        if (r !== 'ok') throw new Error(`integrity check failed: ${String(r)}`);
      }
      this.runMigrations(db, 'core', CORE_MIGRATIONS);
      return db;
    } catch (err) {
      try {
        db.close();
      } catch {
        /* already unusable */
      }
      throw err;
    }
  }

  /** Move a broken database (and its WAL/SHM) aside, keep it for inspection, and start fresh. */
  private quarantine(path: string, reason: string): QuarantineInfo {
    const at = Date.now();
    const movedTo = `${path}.corrupt-${new Date(at).toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
    }
    this.log.error({ path, movedTo, reason }, 'store_quarantined: database could not be opened; moved aside, starting with a fresh one');
    return { movedTo, reason, at };
  }

  private runMigrations(db: Db, component: string, steps: readonly string[]): void {
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as { version: number } | undefined;
    const have = row?.version ?? 0;
    if (have > steps.length) throw new Error(`store schema for ${component} is version ${have}, newer than this build (${steps.length})`);
    for (let v = have; v < steps.length; v++) {
      db.transaction(() => {
        db.exec(steps[v]!);
        db.prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version').run(component, v + 1);
      })();
    }
  }

  /** Components (auth, bridge, gateways) keep their own tables with their own numbered migrations. */
  migrate(component: string, steps: readonly string[]): void {
    this.runMigrations(this.db, component, steps);
  }

  private prepare(): void {
    const db = this.db;
    this.st = {
      saveSession: db.prepare(
        'INSERT OR REPLACE INTO sessions (client_id, protocol, username, expiry_interval, created_at, disconnected_at) VALUES (?,?,?,?,?,?)',
      ),
      delSession: db.prepare('DELETE FROM sessions WHERE client_id = ?'),
      delSessionSubs: db.prepare('DELETE FROM subscriptions WHERE client_id = ?'),
      delSessionQueue: db.prepare('DELETE FROM queue WHERE client_id = ?'),
      saveSub: db.prepare('INSERT OR REPLACE INTO subscriptions (client_id, filter, qos, nl, rap, rh, sub_id) VALUES (?,?,?,?,?,?,?)'),
      delSub: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
      saveRetained: db.prepare(`INSERT OR REPLACE INTO retained (${MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)`),
      delRetained: db.prepare('DELETE FROM retained WHERE topic = ?'),
      saveDelayed: db.prepare(`INSERT OR REPLACE INTO delayed (due, ${MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`),
      delDelayed: db.prepare('DELETE FROM delayed WHERE msg_id = ?'),
      saveRel: db.prepare('INSERT OR REPLACE INTO awaiting_rel (client_id, pid, ts) VALUES (?,?,?)'),
      delRel: db.prepare('DELETE FROM awaiting_rel WHERE client_id = ? AND pid = ?'),
      delSessionRel: db.prepare('DELETE FROM awaiting_rel WHERE client_id = ?'),
      // Slow path only: one queue row per statement.
      insertOne: db.prepare(
        `INSERT OR REPLACE INTO queue (client_id, seq, dqos, filter, pid, state, sub_ids, retain_flag, ${MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      ),
      updateOne: db.prepare('UPDATE queue SET pid = ?, state = ? WHERE client_id = ? AND seq = ?'),
      dequeueOne: db.prepare('DELETE FROM queue WHERE client_id = ? AND seq = ?'),
    };
  }

  // ---- reads (startup only) ----

  loadSessions(): StoredSession[] {
    const sessions = this.db.prepare('SELECT * FROM sessions').all() as {
      client_id: string;
      protocol: string;
      username: string | null;
      expiry_interval: number;
      created_at: number;
      disconnected_at: number;
    }[];
    const subsStmt = this.db.prepare('SELECT * FROM subscriptions WHERE client_id = ?');
    const queueStmt = this.db.prepare('SELECT * FROM queue WHERE client_id = ? ORDER BY seq');
    const relStmt = this.db.prepare('SELECT pid, ts FROM awaiting_rel WHERE client_id = ?');
    return sessions.map((s) => ({
      clientId: s.client_id,
      protocol: s.protocol,
      username: s.username,
      expiryInterval: s.expiry_interval,
      createdAt: s.created_at,
      disconnectedAt: s.disconnected_at,
      awaitingRel: relStmt.all(s.client_id) as { pid: number; ts: number }[],
      subscriptions: (subsStmt.all(s.client_id) as { filter: string; qos: number; nl: number; rap: number; rh: number; sub_id: number }[]).map((r) => ({
        filter: r.filter,
        opts: { qos: r.qos as QoS, nl: r.nl === 1, rap: r.rap === 1, rh: r.rh as 0 | 1 | 2, subId: r.sub_id },
      })),
      queue: (queueStmt.all(s.client_id) as (MessageRow & { seq: number; dqos: number; pid: number; state: number; sub_ids: string; retain_flag: number; filter: string })[]).map(
        (r) => ({
          seq: r.seq,
          message: rowToMessage(r),
          qos: r.dqos as QoS,
          pid: r.pid,
          state: r.state as 0 | 1 | 2,
          subIds: r.sub_ids,
          retainFlag: r.retain_flag === 1,
          filter: r.filter,
        }),
      ),
    }));
  }

  loadDelayed(): { due: number; message: Message }[] {
    return (this.db.prepare(`SELECT due, ${MESSAGE_COLUMNS} FROM delayed ORDER BY due`).all() as (MessageRow & { due: number })[]).map((r) => ({ due: r.due, message: rowToMessage(r) }));
  }

  loadRetained(): Message[] {
    return (this.db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM retained`).all() as MessageRow[]).map(rowToMessage);
  }

  // ---- buffered writes ----

  private push(op: Op): void {
    this.ops.push(op);
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled && !this.closed) {
      this.scheduled = true;
      setImmediate(this.commitBound);
    }
  }

  private trackInsert(op: Op): void {
    let m = this.pendingInserts.get(op.clientId);
    if (m === undefined) {
      m = new Map();
      this.pendingInserts.set(op.clientId, m);
    }
    m.set(op.seq, op);
  }

  /** The pending (uncommitted) insert of this row, if any. */
  private pendingInsert(clientId: string, seq: number): Op | undefined {
    // A drain has no inserts pending: skip the lookups.
    if (this.pendingInserts.size === 0) return undefined;
    return this.pendingInserts.get(clientId)?.get(seq);
  }

  enqueue(clientId: string, e: StoredQueueEntry): void {
    this.enqueueRow(clientId, e.seq, e.message, e.qos, e.pid, e.state, e.subIds, e.retainFlag, e.filter);
  }

  /** enqueue() with the entry's fields as arguments: what a session calls per queued message. */
  enqueueRow(clientId: string, seq: number, message: Message, qos: QoS, pid: number, state: 0 | 1 | 2, subIds: string, retainFlag: boolean, filter: string): void {
    const op = new Op(OpKind.Enqueue, clientId, seq, pid, state, message, null);
    op.dqos = qos;
    op.subIds = subIds;
    op.retainFlag = retainFlag;
    op.filter = filter;
    this.trackInsert(op);
    this.push(op);
  }

  updateQueued(clientId: string, seq: number, pid: number, state: 0 | 1 | 2): void {
    const pending = this.pendingInsert(clientId, seq);
    if (pending) {
      pending.pid = pid;
      pending.state = state;
      return;
    }
    this.push(new Op(OpKind.Update, clientId, seq, pid, state, null, null));
  }

  dequeue(clientId: string, seq: number): void {
    const pending = this.pendingInsert(clientId, seq);
    if (pending) {
      // Inserted and acknowledged within one tick: nothing ever reaches the disk.
      pending.cancelled = true;
      this.pendingInserts.get(clientId)!.delete(seq);
      return;
    }
    this.push(new Op(OpKind.Dequeue, clientId, seq, 0, 0, null, null));
  }

  saveSession(meta: StoredSessionMeta): void {
    this.push(new Op(OpKind.SaveSession, meta.clientId, 0, 0, 0, null, { ...meta }));
  }

  /** Removes the session with its subscriptions and queue. */
  deleteSession(clientId: string): void {
    const pending = this.pendingInserts.get(clientId);
    if (pending) {
      for (const op of pending.values()) op.cancelled = true;
      this.pendingInserts.delete(clientId);
    }
    this.push(new Op(OpKind.DeleteSession, clientId, 0, 0, 0, null, null));
  }

  saveSubscription(clientId: string, filter: string, opts: SubscriptionOptions): void {
    this.push(new Op(OpKind.SaveSub, clientId, 0, 0, 0, null, { filter, opts }));
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.push(new Op(OpKind.DeleteSub, clientId, 0, 0, 0, null, filter));
  }

  saveRetained(m: Message): void {
    this.push(new Op(OpKind.SaveRetained, '', 0, 0, 0, m, null));
  }

  deleteRetained(topic: string): void {
    this.push(new Op(OpKind.DeleteRetained, '', 0, 0, 0, null, topic));
  }

  saveDelayed(m: Message, due: number): void {
    this.push(new Op(OpKind.SaveDelayed, '', due, 0, 0, m, null));
  }

  deleteDelayed(msgId: number): void {
    this.push(new Op(OpKind.DeleteDelayed, '', msgId, 0, 0, null, null));
  }

  saveAwaitingRel(clientId: string, pid: number, ts: number): void {
    this.push(new Op(OpKind.SaveRel, clientId, ts, pid, 0, null, null));
  }

  deleteAwaitingRel(clientId: string, pid: number): void {
    this.push(new Op(OpKind.DeleteRel, clientId, 0, pid, 0, null, null));
  }

  /** A participant's pending writes go into the next transaction. Call once per tick with work. */
  join(p: CommitParticipant): void {
    if (!this.participants.includes(p)) this.participants.push(p);
    this.schedule();
  }

  /** Call `l.committed()` after everything buffered so far is durable. Registering twice per tick calls once. */
  afterCommit(l: CommitListener): void {
    if (this.ops.length === 0 && this.participants.length === 0 && !this.scheduled) {
      // Nothing pending: answer on the next tick to keep call order uniform.
      this.listeners.push(l);
      this.schedule();
      return;
    }
    if (!this.listeners.includes(l)) this.listeners.push(l);
  }

  get hasPendingWrites(): boolean {
    return this.ops.length > 0 || this.participants.length > 0;
  }

  /** Operations buffered and not yet committed (grows while the disk refuses writes). */
  get pendingOps(): number {
    return this.ops.length;
  }

  /**
   * False while commits fail for the medium and maxPendingWhileFailing writes already wait: fronts
   * should refuse new durable work (QoS 1/2 to durable destinations, new persistent sessions) until it
   * is true again. The store itself never drops a write for this; it only says when to stop adding.
   */
  get writable(): boolean {
    return this.writeFailure === null || this.ops.length < this.maxPendingWhileFailing;
  }

  /** Commit now (synchronously); used on shutdown and by tests. */
  flush(): void {
    this.commit();
  }

  private commit(): void {
    this.scheduled = false;
    if (this.closed) return;
    const ops = this.ops;
    const participants = this.participants;
    const listeners = this.listeners;
    this.ops = [];
    this.participants = [];
    this.listeners = [];
    this.pendingInserts.clear();
    if (ops.length > 0 || participants.length > 0) {
      const t0 = performance.now();
      this.txOps = ops;
      this.txParticipants = participants;
      let failed = this.run(this.tx);
      let isolated = false;
      if (failed !== null) {
        // writeAll() stopped part way: its bind arrays still hold this batch's payloads.
        this.plainRows.release();
        this.fullRows.release();
      }
      if (failed !== null && classifyCommitError(failed) === 'data') {
        // One op's own data (a NaN in a NOT NULL column, a wrong parameter count, ...) failed the
        // batch: retrying it as is would fail forever and hold every later ack. Redo the batch one op
        // at a time, drop what fails, commit the rest.
        this.txRejectedOps = [];
        this.txRejectedParticipants = [];
        failed = this.run(this.isolatingTx);
        isolated = failed === null;
      }
      this.txOps = NO_OPS;
      this.txParticipants = NO_PARTICIPANTS;
      if (failed !== null) {
        this.hold(ops, participants, listeners, failed);
        return;
      }
      if (isolated) {
        this.isolatedCommits++;
        for (const p of participants) if (!this.txRejectedParticipants.some((r) => r.p === p)) p.committed?.();
        this.reportRejections();
      } else for (const p of participants) p.committed?.();
      if (this.failures > 0) {
        this.log.warn({ failures: this.failures }, 'store_commit_recovered: acknowledgements resume');
        this.failures = 0;
      }
      if (this.writeFailure !== null) {
        this.writeFailure = null;
        this.backlogFullLogged = false;
        this.onWriteFailing?.(null);
      }
      const ms = performance.now() - t0;
      this.commits++;
      this.lastCommitMs = ms;
      if (ms > this.maxCommitMs) this.maxCommitMs = ms;
    }
    for (const l of listeners) l.committed();
  }

  /** Runs a transaction function; the error it failed with, or null. */
  private run(tx: () => void): Error | null {
    try {
      tx();
      return null;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /**
   * Disk full or an I/O error: nothing was committed, so nothing is acknowledged. Keep the writes and
   * the held acks, and retry with backoff until the disk takes them again.
   */
  private hold(ops: Op[], participants: CommitParticipant[], listeners: CommitListener[], err: Error): void {
    this.failures++;
    this.ops = ops.concat(this.ops);
    for (const op of ops) if (op.kind === OpKind.Enqueue && !op.cancelled) this.trackInsert(op);
    this.participants = participants.concat(this.participants.filter((x) => !participants.includes(x)));
    this.listeners = listeners.concat(this.listeners);
    const delay = Math.min(5000, 50 * 2 ** Math.min(this.failures, 7));
    const outOfSpace = isOutOfSpace(err);
    if (this.writeFailure === null) {
      this.writeFailure = { code: (err as { code?: string }).code ?? err.name, message: err.message, outOfSpace, pendingOps: this.ops.length, since: Date.now() };
      this.onWriteFailing?.(this.writeFailure);
    } else this.writeFailure.pendingOps = this.ops.length;
    if (this.failures === 1 || this.failures % 20 === 0) {
      this.log.error(
        { err, code: this.writeFailure.code, out_of_space: outOfSpace, pending_ops: this.ops.length, writable: this.writable, retry_ms: delay, failures: this.failures },
        outOfSpace ? 'store_write_failing: disk full, nothing can be stored; acknowledgements are held until space returns' : 'store_write_failing: commit failed; retrying, acknowledgements are held',
      );
    }
    if (!this.writable && !this.backlogFullLogged) {
      this.backlogFullLogged = true;
      this.log.error({ pending_ops: this.ops.length, max: this.maxPendingWhileFailing }, 'store_backlog_full: writable is false; new durable work should be refused until the disk takes writes');
    }
    this.scheduled = true;
    setTimeout(this.commitBound, delay);
  }

  /** The slow path's transaction body: each op, then each participant, in its own SAVEPOINT. */
  private writeEachAlone(): void {
    for (const op of this.txOps) {
      if (op.cancelled) continue;
      try {
        this.opSavepoint(op);
      } catch (err) {
        // The medium failing now fails the whole transaction: held and retried, nothing dropped.
        if (classifyCommitError(err) === 'medium') throw err;
        this.txRejectedOps.push({ op, err: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    for (const p of this.txParticipants) {
      try {
        this.participantSavepoint(p);
      } catch (err) {
        if (classifyCommitError(err) === 'medium') throw err;
        this.txRejectedParticipants.push({ p, err: err instanceof Error ? err : new Error(String(err)) });
      }
    }
  }

  /** One op alone, row by row (no multi-row statements, so a failure names exactly this op). */
  private writeOne(op: Op): void {
    const st = this.st;
    switch (op.kind) {
      case OpKind.Enqueue: {
        const a = new Array<unknown>(19);
        a[0] = op.clientId;
        a[1] = op.seq;
        a[2] = op.dqos;
        a[3] = op.filter;
        a[4] = op.pid;
        a[5] = op.state;
        a[6] = op.subIds;
        a[7] = op.retainFlag ? 1 : 0;
        putMessageParams(a, 8, op.message!);
        st.insertOne.run(a);
        break;
      }
      case OpKind.Update:
        st.updateOne.run(op.pid, op.state, op.clientId, op.seq);
        break;
      case OpKind.Dequeue:
        st.dequeueOne.run(op.clientId, op.seq);
        break;
      default:
        this.apply(op);
    }
  }

  /** After the slow path committed: count, log once, and tell the owners what was dropped. */
  private reportRejections(): void {
    const ops = this.txRejectedOps;
    const parts = this.txRejectedParticipants;
    this.txRejectedOps = [];
    this.txRejectedParticipants = [];
    for (const { op, err } of ops) {
      this.rejectedOps++;
      const r: RejectedOp = { kind: OP_KIND_NAMES[op.kind]!, clientId: op.clientId, publisher: op.message?.from ?? '', error: err };
      this.log.error(
        { clientId: r.clientId, publisher: r.publisher, op: r.kind, code: primaryCode(err) || err.name, err },
        'store_op_rejected: this write cannot be stored (its own data); dropped, the rest of the commit kept',
      );
      try {
        this.onOpRejected?.(r);
      } catch (hookErr) {
        this.log.error({ err: hookErr }, 'store_op_rejected_hook_failed');
      }
    }
    for (const { p, err } of parts) {
      this.rejectedParticipantWrites++;
      this.log.error({ participant: p.constructor.name, code: primaryCode(err) || err.name, err }, 'store_participant_writes_rejected: dropped, the rest of the commit kept');
      if (p.rejected) p.rejected(err);
      else p.committed?.();
    }
  }

  /**
   * The body of the tick's transaction. Queue-row updates and deletes are collected (QueueRowBatch),
   * and so are queue-row inserts (MultiRowInsert); at most one collector holds rows at a time, so
   * every queue row sees its writes in the order they were made.
   */
  private writeAll(): void {
    const batch = this.batch;
    batch.reset();
    this.plainRows.reset();
    this.fullRows.reset();
    for (const op of this.txOps) {
      if (op.cancelled) continue;
      switch (op.kind) {
        case OpKind.Update:
          this.writeInserts();
          batch.update(op.clientId, op.seq, op.pid, op.state);
          break;
        case OpKind.Dequeue:
          this.writeInserts();
          batch.dequeue(op.clientId, op.seq);
          break;
        case OpKind.Enqueue:
          if (batch.size > 0) batch.write();
          this.insertRow(op);
          break;
        case OpKind.DeleteSession:
          // Deletes queue rows too: after everything collected before it.
          if (batch.size > 0) batch.write();
          this.writeInserts();
          this.apply(op);
          break;
        default:
          this.apply(op);
      }
    }
    if (batch.size > 0) batch.write();
    this.writeInserts();
    this.plainRows.release();
    this.fullRows.release();
    for (const p of this.txParticipants) p.writePending(this.db);
  }

  private insertRow(op: Op): void {
    const m = op.message!;
    const plain = op.pid === 0 && op.state === 0 && op.subIds === '' && !op.retainFlag && !m.retain && m.props === null && m.origin === null && m.expiresAt === 0;
    const rows = plain ? this.plainRows : this.fullRows;
    const other = plain ? this.fullRows : this.plainRows;
    if (other.size > 0) other.write();
    const a = rows.args;
    const o = rows.next();
    a[o] = op.clientId;
    a[o + 1] = op.seq;
    a[o + 2] = op.dqos;
    a[o + 3] = op.filter;
    if (plain) {
      // Only the message columns the plain row does not fix.
      a[o + 4] = m.id;
      a[o + 5] = m.topic;
      a[o + 6] = m.payload;
      a[o + 7] = m.qos;
      a[o + 8] = m.from;
      a[o + 9] = m.fromUsername;
      a[o + 10] = m.ts;
    } else {
      a[o + 4] = op.pid;
      a[o + 5] = op.state;
      a[o + 6] = op.subIds;
      a[o + 7] = op.retainFlag ? 1 : 0;
      putMessageParams(a, o + 8, m);
    }
    rows.added();
  }

  private writeInserts(): void {
    if (this.plainRows.size > 0) this.plainRows.write();
    if (this.fullRows.size > 0) this.fullRows.write();
  }

  private apply(op: Op): void {
    const st = this.st;
    switch (op.kind) {
      case OpKind.SaveSession: {
        const m = op.extra as StoredSessionMeta;
        st.saveSession.run(m.clientId, m.protocol, m.username, m.expiryInterval, m.createdAt, m.disconnectedAt);
        break;
      }
      case OpKind.DeleteSession:
        st.delSession.run(op.clientId);
        st.delSessionSubs.run(op.clientId);
        st.delSessionQueue.run(op.clientId);
        st.delSessionRel.run(op.clientId);
        break;
      case OpKind.SaveSub: {
        const { filter, opts } = op.extra as { filter: string; opts: SubscriptionOptions };
        st.saveSub.run(op.clientId, filter, opts.qos, opts.nl ? 1 : 0, opts.rap ? 1 : 0, opts.rh, opts.subId);
        break;
      }
      case OpKind.DeleteSub:
        st.delSub.run(op.clientId, op.extra as string);
        break;
      case OpKind.SaveRetained:
        st.saveRetained.run(...messageParams(op.message!));
        break;
      case OpKind.DeleteRetained:
        st.delRetained.run(op.extra as string);
        break;
      case OpKind.SaveDelayed:
        st.saveDelayed.run(op.seq, ...messageParams(op.message!));
        break;
      case OpKind.DeleteDelayed:
        st.delDelayed.run(op.seq);
        break;
      case OpKind.SaveRel:
        st.saveRel.run(op.clientId, op.pid, op.seq);
        break;
      case OpKind.DeleteRel:
        st.delRel.run(op.clientId, op.pid);
        break;
    }
  }

  sizeBytes(): number {
    if (this.path === ':memory:') return 0;
    let n = 0;
    for (const s of ['', '-wal']) {
      try {
        n += statSync(this.path + s).size;
      } catch {
        /* no WAL yet */
      }
    }
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      this.log.warn({ err }, 'store_checkpoint_failed');
    }
    this.db.close();
  }
}

export type { Db as SqliteDatabase };
