// Registrations survive a restart: one row per location in the daemon's SQLite file, written in the
// store's group commit. After a restart an Update by location is accepted, requests reach a
// non-queue-mode device at its last address, and a queue-mode device's held commands are sent
// when it next talks (the commands themselves wait in its persistent broker session).
import type { Store } from '../gateway.js';
import type { Registration } from './registration.js';
import type { Address } from './device.js';
import { BOOTSTRAP_MIGRATION } from './bootstrap.js';

export interface StoredRegistration {
  reg: Registration;
  addr: Address;
  /** Wall-clock ms when the lifetime ends. */
  expiresAt: number;
  /** Established observations (token hex, the observe command); absent in rows of older builds. */
  observations?: { token: string; raw: Readonly<Record<string, unknown>>; autoObserve: boolean }[];
}

const MIGRATIONS = ['CREATE TABLE lwm2m_registrations (location TEXT PRIMARY KEY, data TEXT NOT NULL)', BOOTSTRAP_MIGRATION];

type Db = Store['db'];

export class RegistrationStore {
  /** location -> JSON row, or null for a delete; written at the next commit. */
  private pending = new Map<string, string | null>();
  private writing = new Map<string, string | null>();

  constructor(private readonly store: Store) {
    store.migrate('lwm2m', MIGRATIONS);
  }

  load(): StoredRegistration[] {
    const rows = this.store.db.prepare('SELECT data FROM lwm2m_registrations').all() as { data: string }[];
    const out: StoredRegistration[] = [];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.data) as StoredRegistration);
      } catch {
        /* a row this build cannot read is skipped; the device registers again */
      }
    }
    return out;
  }

  save(s: StoredRegistration): void {
    this.pending.set(s.reg.location, JSON.stringify(s));
    this.store.join(this);
  }

  delete(location: string): void {
    this.pending.set(location, null);
    this.store.join(this);
  }

  writePending(db: Db): void {
    for (const [k, v] of this.pending) this.writing.set(k, v);
    this.pending = new Map();
    const put = db.prepare('INSERT OR REPLACE INTO lwm2m_registrations (location, data) VALUES (?, ?)');
    const del = db.prepare('DELETE FROM lwm2m_registrations WHERE location = ?');
    for (const [k, v] of this.writing) {
      if (v === null) del.run(k);
      else put.run(k, v);
    }
  }

  committed(): void {
    this.writing.clear();
  }

  rejected(): void {
    this.writing.clear();
  }
}
