// Why a commit failed decides what the store does with the batch. A failure of the medium (full disk,
// I/O error, a lock held by someone else, no memory) says nothing about the data: nothing committed,
// so nothing is acknowledged, and the same writes are retried once the medium takes them again. Any
// other failure (a NOT NULL or CHECK constraint, a type mismatch, a value too big, a bind that
// better-sqlite3 refuses with RangeError/TypeError) comes from one operation's own data: retrying it
// can never succeed, so that operation is isolated and dropped and the rest committed (issue 15).

/** SQLite result codes (primary, before the extended suffix) that mean the medium failed, not the data. */
const MEDIUM_CODES = new Set([
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_NOMEM',
  // A damaged file is not one operation's fault either: dropping writes one by one would lose them all.
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_PROTOCOL',
]);

export type CommitFailure = 'medium' | 'data';

/** The primary SQLite code of an error ('SQLITE_IOERR' for 'SQLITE_IOERR_WRITE'), or '' for a non-SQLite error. */
export function primaryCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return '';
  const i = code.indexOf('_', 7);
  return i < 0 ? code : code.slice(0, i);
}

export function classifyCommitError(err: unknown): CommitFailure {
  return MEDIUM_CODES.has(primaryCode(err)) ? 'medium' : 'data';
}

/** The medium is out of space: SQLITE_FULL, or an I/O error whose cause was ENOSPC/EFBIG. */
export function isOutOfSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return true;
  const msg = err instanceof Error ? err.message : '';
  return typeof code === 'string' && code.startsWith('SQLITE_IOERR') && /ENOSPC|no space|EFBIG|too large/i.test(msg);
}
