// Per-user authorization rules in the store (EMQX's built_in_database authz source): rules for a
// username, a client id, or everyone, each {topic, permission, action, qos, retain}. Rules are
// kept compiled in memory (an edge box has few) and rebuilt on every change.
import type { Database as Db } from 'better-sqlite3';
import { compileTopic, type AclRule, type AclSubject } from './acl.js';
import { AuthError } from './errors.js';

export type AclWhoType = 'username' | 'clientid' | 'all';

/** One rule in EMQX's API shape (POST /authorization/sources/built_in_database/rules/users). */
export interface StoredAclRule {
  topic: string;
  permission: 'allow' | 'deny';
  action: 'publish' | 'subscribe' | 'all';
  /** Empty = any QoS. */
  qos: (0 | 1 | 2)[];
  retain: boolean | 'all';
}

interface Row {
  id: number;
  who_type: AclWhoType;
  who: string;
  permission: 'allow' | 'deny';
  action: 'publish' | 'subscribe' | 'all';
  topic: string;
  qos: string;
  retain: string;
}

function toStored(r: Row): StoredAclRule {
  return {
    topic: r.topic,
    permission: r.permission,
    action: r.action,
    qos: r.qos === '' ? [] : (r.qos.split(',').map(Number) as (0 | 1 | 2)[]),
    retain: r.retain === 'all' ? 'all' : r.retain === 'true',
  };
}

function validate(rule: StoredAclRule): void {
  if (typeof rule.topic !== 'string' || rule.topic === '') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'rule topic must be a non-empty string');
  if (rule.permission !== 'allow' && rule.permission !== 'deny') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'permission must be allow or deny');
  if (!['publish', 'subscribe', 'all'].includes(rule.action)) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'action must be publish, subscribe or all');
  if (!Array.isArray(rule.qos) || rule.qos.some((q) => q !== 0 && q !== 1 && q !== 2)) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'qos must be a list of 0, 1, 2');
  if (rule.retain !== true && rule.retain !== false && rule.retain !== 'all') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'retain must be true, false or "all"');
  compileTopic(rule.topic);
}

export class AclDb {
  private byUser = new Map<string, AclRule[]>();
  private byClient = new Map<string, AclRule[]>();
  private forAll: AclRule[] = [];
  private readonly changeListeners: (() => void)[] = [];

  constructor(private readonly db: Db) {
    this.rebuild();
  }

  onChange(fn: () => void): void {
    this.changeListeners.push(fn);
  }

  /** Replace the rules of one subject (EMQX PUT semantics); an empty list removes them. */
  set(whoType: AclWhoType, who: string, rules: StoredAclRule[]): void {
    if (whoType !== 'all' && (typeof who !== 'string' || who === '')) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', `${whoType} must be non-empty`);
    rules.forEach(validate);
    const w = whoType === 'all' ? '' : who;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM auth_acl WHERE who_type = ? AND who = ?').run(whoType, w);
      const ins = this.db.prepare('INSERT INTO auth_acl (who_type, who, permission, action, topic, qos, retain) VALUES (?,?,?,?,?,?,?)');
      for (const r of rules) ins.run(whoType, w, r.permission, r.action, r.topic, r.qos.join(','), String(r.retain));
    })();
    this.rebuild();
  }

  /** Append rules after the subject's existing ones. */
  add(whoType: AclWhoType, who: string, rules: StoredAclRule[]): void {
    this.set(whoType, who, [...this.get(whoType, who), ...rules]);
  }

  get(whoType: AclWhoType, who: string): StoredAclRule[] {
    const rows = this.db.prepare('SELECT * FROM auth_acl WHERE who_type = ? AND who = ? ORDER BY id').all(whoType, whoType === 'all' ? '' : who) as Row[];
    return rows.map(toStored);
  }

  /** Subjects with rules, for the API's list endpoints. */
  list(whoType: AclWhoType): { who: string; rules: StoredAclRule[] }[] {
    const rows = this.db.prepare('SELECT * FROM auth_acl WHERE who_type = ? ORDER BY who, id').all(whoType) as Row[];
    const out = new Map<string, StoredAclRule[]>();
    for (const r of rows) {
      let l = out.get(r.who);
      if (!l) out.set(r.who, (l = []));
      l.push(toStored(r));
    }
    return [...out].map(([who, rules]) => ({ who, rules }));
  }

  remove(whoType: AclWhoType, who: string): boolean {
    const n = this.db.prepare('DELETE FROM auth_acl WHERE who_type = ? AND who = ?').run(whoType, whoType === 'all' ? '' : who).changes;
    this.rebuild();
    return n > 0;
  }

  clear(): void {
    this.db.prepare('DELETE FROM auth_acl').run();
    this.rebuild();
  }

  /** Rules that apply to a client, in EMQX's order: its username's, its client id's, then everyone's. */
  rulesFor(s: AclSubject): AclRule[] {
    const u = s.username !== null ? this.byUser.get(s.username) : undefined;
    const c = this.byClient.get(s.clientId);
    if (!u && !c) return this.forAll;
    return [...(u ?? []), ...(c ?? []), ...this.forAll];
  }

  private rebuild(): void {
    const rows = this.db.prepare('SELECT * FROM auth_acl ORDER BY id').all() as Row[];
    const byUser = new Map<string, AclRule[]>();
    const byClient = new Map<string, AclRule[]>();
    const forAll: AclRule[] = [];
    for (const r of rows) {
      const s = toStored(r);
      const rule: AclRule = {
        permission: s.permission,
        who: { k: 'all' },
        action: {
          publish: s.action !== 'subscribe',
          subscribe: s.action !== 'publish',
          qos: s.qos.length ? new Set<number>(s.qos) : null,
          retain: s.retain === 'all' ? null : s.retain,
        },
        topics: [compileTopic(s.topic)],
        origin: `built_in_database:${r.who_type}${r.who ? ':' + r.who : ''}`,
      };
      const target = r.who_type === 'username' ? byUser : r.who_type === 'clientid' ? byClient : null;
      if (!target) {
        forAll.push(rule);
        continue;
      }
      let l = target.get(r.who);
      if (!l) target.set(r.who, (l = []));
      l.push(rule);
    }
    this.byUser = byUser;
    this.byClient = byClient;
    this.forAll = forAll;
    for (const fn of this.changeListeners) fn();
  }
}
