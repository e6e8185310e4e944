// The common queue rows of one transaction (not yet sent, no subscription ids, no retain flag, no v5
// properties, no bridge origin, no expiry), written GROUP rows per INSERT statement. A burst into an
// offline session inserts a tick's window of rows at once; one statement per row cost ~1 us of binding
// and statement overhead per message (store-only replay of 95k rows in 64-row transactions:
// ~5.0 -> ~3.9 us per row).
import type { Database, Statement } from 'better-sqlite3';
import type { Message } from '../broker/message.js';
import { MESSAGE_COLUMNS } from './codec.js';

/** Rows per multi-row statement: past 16 the gain flattens, and the statement's bind array grows. */
const GROUP = 16;
/** Values bound per row, in the order of ROW below. */
const WIDTH = 11;
const ROW = "(?,?,?,0,0,'',0,?,?,?,?,?,0,NULL,?,?,NULL,?,0)";
const INSERT = `INSERT OR REPLACE INTO queue (client_id, seq, dqos, pid, state, sub_ids, retain_flag, filter, ${MESSAGE_COLUMNS}) VALUES `;

export class PlainRowInserts {
  private readonly one: Statement;
  private readonly group: Statement;
  /** Bind values of the rows collected so far, reused across transactions. */
  private readonly args: unknown[] = new Array<unknown>(GROUP * WIDTH);
  private len = 0;
  /** Whether args holds values since the last release(): messages must not outlive their transaction here. */
  private used = false;

  constructor(db: Database) {
    this.one = db.prepare(INSERT + ROW);
    this.group = db.prepare(INSERT + new Array<string>(GROUP).fill(ROW).join(','));
  }

  get size(): number {
    return this.len;
  }

  /** Collect one row; every GROUP rows go out as one statement. */
  add(clientId: string, seq: number, dqos: number, filter: string, m: Message): void {
    const a = this.args;
    const o = this.len * WIDTH;
    a[o] = clientId;
    a[o + 1] = seq;
    a[o + 2] = dqos;
    a[o + 3] = filter;
    a[o + 4] = m.id;
    a[o + 5] = m.topic;
    a[o + 6] = m.payload;
    a[o + 7] = m.qos;
    a[o + 8] = m.from;
    a[o + 9] = m.fromUsername;
    a[o + 10] = m.ts;
    this.used = true;
    if (++this.len === GROUP) {
      this.group.run(a);
      this.len = 0;
    }
  }

  /** Write the rows left over (fewer than GROUP), one statement each, in order. */
  write(): void {
    const a = this.args;
    for (let i = 0; i < this.len; i++) {
      const o = i * WIDTH;
      this.one.run(a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], a[o + 6], a[o + 7], a[o + 8], a[o + 9], a[o + 10]);
    }
    this.len = 0;
  }

  /** Forget what was collected (a transaction that failed is replayed from its ops). */
  reset(): void {
    this.len = 0;
  }

  /** Drop the references to the transaction's messages (payloads can be large). */
  release(): void {
    if (!this.used) return;
    this.args.fill(null);
    this.used = false;
  }
}
