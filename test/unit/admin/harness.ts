// Builds the admin app over a FakeBroker and in-memory fakes of the other services, with an API
// key file holding one key per role.
import { afterEach, beforeEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { AdminDeps, BanRecord, BridgeStatus, GatewaySummary, ListenerSummary, UserRecord } from '../../../src/admin/deps.js';
import { buildAdmin, type BuiltAdmin } from '../../../src/admin/server.js';
import type { Config } from '../../../src/config/schema.js';
import { FakeBroker, testConfig } from './fake-broker.js';
import { AlarmRegistry } from '../../../src/broker/alarms.js';
import { parseCsvObjects } from '../../../src/auth/csv.js';

export class FakeUsers {
  readonly users = new Map<string, { password: string; superuser: boolean }>();
  list(): UserRecord[] {
    return [...this.users].map(([userId, u]) => ({ userId, isSuperuser: u.superuser }));
  }
  get(userId: string): UserRecord | null {
    const u = this.users.get(userId);
    return u ? { userId, isSuperuser: u.superuser } : null;
  }
  add(userId: string, password: string, isSuperuser: boolean): boolean {
    if (this.users.has(userId)) return false;
    this.users.set(userId, { password, superuser: isSuperuser });
    return true;
  }
  remove(userId: string): boolean {
    return this.users.delete(userId);
  }
  /** Records each import and adds plain rows, so routes can be checked for what they hand over. */
  readonly imports: { text: string; opts: { format: 'csv' | 'json'; type: 'plain' | 'hash' } }[] = [];
  async importUsers(text: string, opts: { format: 'csv' | 'json'; type: 'plain' | 'hash' }) {
    this.imports.push({ text, opts });
    const rows = opts.format === 'json' ? (JSON.parse(text) as Record<string, string>[]) : parseCsvObjects(text);
    let override = 0;
    for (const r of rows) {
      if (this.users.has(r.user_id!)) override++;
      this.users.set(r.user_id!, { password: r.password ?? r.password_hash ?? '', superuser: String(r.is_superuser) === 'true' });
    }
    return { total: rows.length, success: rows.length, override, skipped: 0, failed: 0 };
  }
  update(userId: string, changes: { password?: string; isSuperuser?: boolean }): boolean {
    const u = this.users.get(userId);
    if (!u) return false;
    if (changes.password !== undefined) u.password = changes.password;
    if (changes.isSuperuser !== undefined) u.superuser = changes.isSuperuser;
    return true;
  }
}

export class FakeBans {
  readonly bans: BanRecord[] = [];
  list(): BanRecord[] {
    return [...this.bans];
  }
  add(b: BanRecord): boolean {
    if (this.bans.some((x) => x.as === b.as && x.who === b.who)) return false;
    this.bans.push(b);
    return true;
  }
  remove(as: string, who: string): boolean {
    const i = this.bans.findIndex((x) => x.as === as && x.who === who);
    if (i < 0) return false;
    this.bans.splice(i, 1);
    return true;
  }
  clear(): void {
    this.bans.length = 0;
  }
}

export interface Harness {
  app: FastifyInstance;
  built: BuiltAdmin;
  broker: FakeBroker;
  users: FakeUsers;
  bans: FakeBans;
  bridges: BridgeStatus[];
  restarted: string[];
  reloads: { ok: boolean; error?: string }[];
  alarms: AlarmRegistry;
  /** What the registry published on $SYS. */
  alarmEvents: { name: string; activate: boolean }[];
  dataDir: string;
  config: Config;
  /** Authorization header for the administrator key. */
  admin: { authorization: string };
  viewer: { authorization: string };
  publisher: { authorization: string };
  close(): Promise<void>;
}

/** A fresh default harness around every test of the calling file, closed after it; `set` receives it. */
export function harnessEachTest(set: (h: Harness) => void): void {
  let current: Harness | undefined;
  beforeEach(async () => {
    current = await harness();
    set(current);
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
}

export function basic(key: string, secret: string): { authorization: string } {
  return { authorization: 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64') };
}

export async function harness(opts: { api?: Record<string, unknown>; bare?: boolean; lifecycle?: AdminDeps['lifecycle'] } = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-admin-'));
  const keyFile = join(dataDir, 'keys');
  writeFileSync(keyFile, '# test keys\nops:ops-secret\nlook:look-secret:viewer\npub:pub-secret:publisher\n');
  const config = testConfig(dataDir, { api_key_bootstrap_file: keyFile, ...opts.api });
  const broker = new FakeBroker();
  const users = new FakeUsers();
  const bans = new FakeBans();
  const restarted: string[] = [];
  const reloads: { ok: boolean; error?: string }[] = [];
  const bridges: BridgeStatus[] = [
    { id: 'mqtt:upstream', name: 'upstream', type: 'mqtt', enable: true, status: 'connected', metrics: { matched: 5, success: 4, failed: 1, dropped: 0, queuing: 2, inflight: 0, received: 3 } },
  ];
  const gateways: GatewaySummary[] = [
    {
      name: 'coap',
      status: 'running',
      createdAt: broker.startedAt,
      startedAt: broker.startedAt,
      maxConnections: 1000,
      listeners: [{ id: 'coap:udp:default', type: 'udp', bind: '127.0.0.1:5683', running: true }],
    },
    { name: 'stomp', status: 'unloaded', createdAt: 0, startedAt: 0, maxConnections: 0, listeners: [] },
  ];
  const listeners: ListenerSummary[] = [{ id: 'tcp:default', type: 'tcp', bind: '127.0.0.1:1883', running: true, currentConnections: 2, maxConnections: 0 }];
  const alarmEvents: { name: string; activate: boolean }[] = [];
  const alarms = new AlarmRegistry({ publish: (name, activate) => alarmEvents.push({ name, activate }), log: () => {} }, () => broker.clock.now(), { sizeLimit: 1000, validityPeriod: 86_400_000, actions: ['log', 'publish'] });
  const deps: AdminDeps = opts.bare
    ? { broker, log: pino({ level: 'silent' }) }
    : {
        broker,
        log: pino({ level: 'silent' }),
        users,
        bans,
        bridges: {
          list: () => bridges,
          restart: async (id) => {
            restarted.push(id);
            return bridges.some((b) => b.id === id);
          },
        },
        gateways: { list: () => gateways },
        listeners: () => listeners,
        reload: async () => reloads.shift() ?? { ok: true },
        alarms,
        ...(opts.lifecycle && { lifecycle: opts.lifecycle }),
      };
  const built = buildAdmin(deps, config);
  await built.app.ready();
  return {
    app: built.app,
    built,
    broker,
    users,
    bans,
    bridges,
    restarted,
    reloads,
    alarms,
    alarmEvents,
    dataDir,
    config,
    admin: basic('ops', 'ops-secret'),
    viewer: basic('look', 'look-secret'),
    publisher: basic('pub', 'pub-secret'),
    async close() {
      await built.app.close();
      await built.trace.close();
      broker.store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
