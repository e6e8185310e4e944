// Rows of one transaction written several to an INSERT statement. A burst into an offline session or
// a bridge's log inserts a tick's worth of rows at once, and one statement per row cost ~1 us of
// binding and statement overhead per row (store-only replay of 95k queue rows in 64-row transactions:
// ~5.0 -> ~3.9 us per row). Callers fill each row's values straight into `args` (no array per row).
import type { Database, Statement } from 'better-sqlite3';

/** Rows per full statement: past 16 the gain flattens, and the bind array grows. */
const GROUP = 16;

export class MultiRowInsert {
  /** Bind values of the rows collected so far, reused across transactions; fill from next(). */
  readonly args: unknown[];
  private len = 0;
  /** Whether args holds values since the last release(): rows must not outlive their transaction here. */
  private used = false;
  /** The statement for n rows at index n, prepared on first use. */
  private readonly byRows: (Statement | undefined)[] = [];

  /**
   * head: `INSERT ... (columns) VALUES `; row: one row's `(?, ...)` with `width` parameters (constants
   * may stand in for columns every such row shares).
   */
  constructor(
    private readonly db: Database,
    private readonly head: string,
    private readonly row: string,
    private readonly width: number,
  ) {
    this.args = new Array<unknown>(GROUP * width);
  }

  get size(): number {
    return this.len;
  }

  /** Offset in args of a new row's first value: set its `width` values, then call added(). */
  next(): number {
    this.used = true;
    return this.len * this.width;
  }

  /** The row from next() is filled in; every GROUP rows go out as one statement. */
  added(): void {
    if (++this.len === GROUP) {
      this.statement(GROUP).run(this.args);
      this.len = 0;
    }
  }

  /** Write the rows collected since the last full statement, as one statement. */
  write(): void {
    if (this.len === 0) return;
    this.statement(this.len).run(this.args.slice(0, this.len * this.width));
    this.len = 0;
  }

  /** Forget what was collected (a transaction that failed is replayed from its source). */
  reset(): void {
    this.len = 0;
  }

  /** Drop the references to the transaction's values (payloads can be large). */
  release(): void {
    if (!this.used) return;
    this.args.fill(null);
    this.used = false;
  }

  private statement(rows: number): Statement {
    return (this.byRows[rows] ??= this.db.prepare(this.head + new Array<string>(rows).fill(this.row).join(',')));
  }
}
