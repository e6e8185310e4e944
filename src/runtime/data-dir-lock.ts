// One daemon per data dir. Two daemons on one dir share the SQLite file and each deletes the other's
// local API key on stop, so the second must refuse to start. The lock is an SQLite write lock
// (POSIX fcntl under the hood) held for the life of the process: the kernel drops it when the process
// dies, even by kill -9, so a crash never leaves a stale lock behind. The pid file beside it is only
// for the error message; the lock, not the pid file, decides.
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'outpost.lock';
export const PID_FILE = 'outpost.pid';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    /** The holder's pid from the pid file, or null if it has not written it (yet). */
    readonly holderPid: number | null,
  ) {
    super(`data dir ${dataDir} is in use by another outpost daemon (pid ${holderPid ?? 'unknown'})`);
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Drop the lock (on stop); the process ending drops it too. */
  release(): void;
}

/** Take the data dir's lock or throw DataDirLockedError naming the dir and the holder's pid. */
export function lockDataDir(dataDir: string): DataDirLock {
  const db: Db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the lock after the transaction; BEGIN EXCLUSIVE takes it now.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) throw new DataDirLockedError(dataDir, readPid(dataDir));
    throw err;
  }
  const pidPath = join(dataDir, PID_FILE);
  writeFileSync(pidPath, `${process.pid}\n`);
  let held = true;
  return {
    dataDir,
    release() {
      if (!held) return;
      held = false;
      // The pid file first: once the lock is gone another daemon may write its own.
      if (readPid(dataDir) === process.pid) rmSync(pidPath, { force: true });
      try {
        db.exec('ROLLBACK');
      } catch {
        /* nothing to roll back */
      }
      db.close();
    },
  };
}

function readPid(dataDir: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(join(dataDir, PID_FILE), 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
