// Banned clients (emqx-broker-behaviour.md §7): kinds clientid, username, peerhost, clientid_re,
// username_re, peerhost_net (CIDR), each with an optional expiry, stored in SQLite and mirrored in
// memory so the CONNECT check is a few map lookups. The CLI and HTTP API manage bans through this.
import type { Database as Db } from 'better-sqlite3';
import { BlockList } from 'node:net';
import { addCidr, ipInList, normalizeIp } from './acl.js';
import { parseCsvObjects } from './csv.js';
import { AuthError } from './errors.js';

export const BAN_KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'] as const;
export type BanKind = (typeof BAN_KINDS)[number];

/** One ban in EMQX's API shape (times in ms since the epoch; until null = never). */
export interface Ban {
  as: BanKind;
  who: string;
  by: string;
  reason: string;
  at: number;
  until: number | null;
}

interface Compiled {
  ban: Ban;
  re?: RegExp;
  net?: BlockList;
}

export type BanListener = (kind: 'clientid' | 'username' | 'peerhost', who: string) => void;

export class BanList {
  /** Exact kinds keyed `${as}\0${who}`; pattern kinds scanned in order. */
  private readonly exact = new Map<string, Compiled>();
  private readonly patterns = new Map<string, Compiled>();
  private readonly listeners: BanListener[] = [];

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {
    for (const r of db.prepare('SELECT * FROM auth_banned').all() as { as_type: BanKind; who: string; by: string; reason: string; at: number; until: number | null }[]) {
      this.index({ as: r.as_type, who: r.who, by: r.by, reason: r.reason, at: r.at, until: r.until });
    }
  }

  onBan(fn: BanListener): void {
    this.listeners.push(fn);
  }

  private compile(b: Ban): Compiled {
    if (b.as === 'clientid_re' || b.as === 'username_re') {
      try {
        return { ban: b, re: new RegExp(b.who) };
      } catch (err) {
        throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', `bad regex: ${(err as Error).message}`);
      }
    }
    if (b.as === 'peerhost_net') {
      const net = new BlockList();
      if (!addCidr(net, b.who) || !b.who.includes('/')) throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', `bad CIDR ${JSON.stringify(b.who)}`);
      return { ban: b, net };
    }
    return { ban: b };
  }

  private index(b: Ban): void {
    const c = this.compile(b);
    const key = `${b.as}\u0000${b.who}`;
    if (c.re || c.net) this.patterns.set(key, c);
    else this.exact.set(key, c);
  }

  /** Add or replace a ban (EMQX POST /banned). Connected clients it covers are kicked through onBan. */
  add(input: { as: BanKind; who: string; by?: string; reason?: string; at?: number; until?: number | null }): Ban {
    if (!BAN_KINDS.includes(input.as)) throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', `as must be one of ${BAN_KINDS.join(', ')}`);
    if (typeof input.who !== 'string' || input.who === '') throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', 'who must be non-empty');
    const now = this.now();
    const ban: Ban = {
      as: input.as,
      who: input.as === 'peerhost' ? normalizeIp(input.who) : input.who,
      by: input.by ?? 'api',
      reason: input.reason ?? '',
      at: input.at ?? now,
      until: input.until ?? null,
    };
    if (ban.until !== null && ban.until <= now) throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', 'until is in the past');
    this.index(ban);
    this.db
      .prepare('INSERT OR REPLACE INTO auth_banned (as_type, who, by, reason, at, until) VALUES (?,?,?,?,?,?)')
      .run(ban.as, ban.who, ban.by, ban.reason, ban.at, ban.until);
    // Regex and network bans only stop new connections (EMQX).
    if (ban.as === 'clientid' || ban.as === 'username' || ban.as === 'peerhost') for (const fn of this.listeners) fn(ban.as, ban.who);
    return ban;
  }

  /** The live ban for exactly (as, who), or null. */
  get(as: BanKind, who: string): Ban | null {
    const key = `${as}\u0000${as === 'peerhost' ? normalizeIp(who) : who}`;
    return this.live(this.exact.get(key) ?? this.patterns.get(key), this.now());
  }

  remove(as: BanKind, who: string): boolean {
    const w = as === 'peerhost' ? normalizeIp(who) : who;
    const key = `${as}\u0000${w}`;
    const had = this.exact.delete(key) || this.patterns.delete(key);
    this.db.prepare('DELETE FROM auth_banned WHERE as_type = ? AND who = ?').run(as, w);
    return had;
  }

  clear(): void {
    this.exact.clear();
    this.patterns.clear();
    this.db.prepare('DELETE FROM auth_banned').run();
  }

  /** Live bans, oldest first, paged as the API wants. */
  list(page = 1, limit = 100): { data: Ban[]; count: number } {
    this.sweep();
    const all = [...this.exact.values(), ...this.patterns.values()].map((c) => c.ban).sort((a, b) => a.at - b.at);
    const l = Math.max(1, Math.min(limit, 10000));
    const p = Math.max(1, page);
    return { data: all.slice((p - 1) * l, p * l), count: all.length };
  }

  size(): number {
    return this.exact.size + this.patterns.size;
  }

  private live(c: Compiled | undefined, now: number): Ban | null {
    if (!c) return null;
    return c.ban.until === null || c.ban.until > now ? c.ban : null;
  }

  /** The ban that covers this client, or null. */
  find(clientId: string, username: string | null, peerHost: string): Ban | null {
    if (this.exact.size === 0 && this.patterns.size === 0) return null;
    const now = this.now();
    const host = normalizeIp(peerHost);
    const hit =
      this.live(this.exact.get(`clientid\u0000${clientId}`), now) ??
      (username !== null ? this.live(this.exact.get(`username\u0000${username}`), now) : null) ??
      this.live(this.exact.get(`peerhost\u0000${host}`), now);
    if (hit) return hit;
    for (const c of this.patterns.values()) {
      if (!this.live(c, now)) continue;
      const b = c.ban;
      if (b.as === 'clientid_re' && c.re!.test(clientId)) return b;
      if (b.as === 'username_re' && username !== null && c.re!.test(username)) return b;
      if (b.as === 'peerhost_net' && ipInList(c.net!, host)) return b;
    }
    return null;
  }

  /** Drop expired bans from memory and the table; returns how many went. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const m of [this.exact, this.patterns]) {
      for (const [k, c] of m) {
        if (c.ban.until !== null && c.ban.until <= now) {
          m.delete(k);
          n++;
        }
      }
    }
    if (n > 0) this.db.prepare('DELETE FROM auth_banned WHERE until IS NOT NULL AND until <= ?').run(now);
    return n;
  }

  /** Bootstrap CSV `as,who,reason,until[,by]`: until as RFC 3339, epoch seconds, or empty for never. */
  importCsv(text: string): { imported: number; failed: number } {
    let imported = 0;
    let failed = 0;
    for (const r of parseCsvObjects(text)) {
      try {
        const u = r.until ?? '';
        const until = u === '' || u === 'infinity' ? null : /^\d+$/.test(u) ? Number(u) * 1000 : Date.parse(u);
        if (until !== null && Number.isNaN(until)) throw new AuthError('OUTPOST_ERR_AUTH_BAN_INVALID', `bad until ${u}`);
        this.add({ as: r.as as BanKind, who: r.who ?? '', reason: r.reason ?? '', by: r.by || 'bootstrap', until });
        imported++;
      } catch {
        failed++;
      }
    }
    return { imported, failed };
  }
}
