// Users (and anything else in the auth tables) written into a data dir's store before the daemon
// starts, as the CLI would: cheap hashes so tests stay fast.
import { join } from 'node:path';
import { pino } from 'pino';
import type { Database } from 'better-sqlite3';
import { hashAlgorithmSchema } from '../../src/auth/config.js';
import { AUTH_MIGRATIONS } from '../../src/auth/migrations.js';
import { UserDb } from '../../src/auth/user-db.js';
import { Store } from '../../src/store/store.js';

export async function seedAuth(dataDir: string, seed: (users: UserDb, db: Database) => Promise<void>): Promise<void> {
  const store = Store.open({ path: join(dataDir, 'outpost.db'), synchronous: 'NORMAL', log: pino({ level: 'silent' }) });
  try {
    store.migrate('auth', AUTH_MIGRATIONS);
    const users = new UserDb(store.db, {
      algorithm: hashAlgorithmSchema.parse({ name: 'pbkdf2', iterations: 2000 }),
      importAlgorithm: hashAlgorithmSchema.parse({ name: 'sha256', salt_position: 'suffix' }),
      now: () => Date.now(),
    });
    await seed(users, store.db);
  } finally {
    store.close();
  }
}
