// ACL rules with EMQX acl.conf semantics (emqx-broker-behaviour.md §8): compile the terms into
// rules, then match (client, action, topic) against them, first match wins.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { AuthzAction, QoS } from '../core/types.js';
import { parseTerms, type Term } from './acl-parse.js';
import { AuthError } from './errors.js';

export type Permission = 'allow' | 'deny';

type StrMatch = { eq: string } | { re: RegExp };

export type Who =
  | { k: 'all' }
  | { k: 'username'; m: StrMatch }
  | { k: 'clientid'; m: StrMatch }
  | { k: 'ipaddr'; list: BlockList; text: string }
  | { k: 'and' | 'or'; items: Who[] };

export interface ActionSpec {
  publish: boolean;
  subscribe: boolean;
  /** null = any QoS. */
  qos: ReadonlySet<number> | null;
  /** null = any retain flag (EMQX `{retain, all}`); only checked for publish. */
  retain: boolean | null;
}

/** One topic level of a rule: literal text, a wildcard, or text with placeholders rendered per client. */
type Level = { k: 'lit'; v: string } | { k: '+' } | { k: '#' } | { k: 'tpl'; parts: (string | Placeholder)[] };
type Placeholder = { ph: 'clientid' | 'username' | 'cert_common_name' | 'peerhost' | 'attr' };

export type TopicPattern = { k: 'eq'; v: string } | { k: 'filter'; levels: Level[]; text: string };

export interface AclRule {
  permission: Permission;
  who: Who;
  action: ActionSpec;
  /** null: the special `{allow, all}` / `{deny, all}` rule that matches every action and topic. */
  topics: TopicPattern[] | null;
  /** Where the rule came from, for logs ("acl.conf:12", "db:username:u1"). */
  origin: string;
}

export interface AclSubject {
  clientId: string;
  username: string | null;
  peerHost: string;
  certCommonName?: string | undefined;
}

const ALL_ACTIONS: ActionSpec = { publish: true, subscribe: true, qos: null, retain: null };

function syntax(line: number, msg: string): never {
  throw new AuthError('OUTPOST_ERR_AUTH_ACL_SYNTAX', `line ${line}: ${msg}`);
}

function str(t: Term | undefined, line: number, what: string): string {
  if (t?.t !== 'str') return syntax(t?.line ?? line, `${what} must be a "string"`);
  return t.v;
}

function strMatch(t: Term | undefined, line: number, what: string): StrMatch {
  if (t?.t === 'tuple' && t.items[0]?.t === 'atom' && t.items[0].v === 're' && t.items.length === 2) {
    const src = str(t.items[1], t.line, `${what} regex`);
    try {
      return { re: new RegExp(src) };
    } catch (err) {
      return syntax(t.line, `bad regex ${JSON.stringify(src)}: ${(err as Error).message}`);
    }
  }
  return { eq: str(t, line, what) };
}

/** Strip the IPv4-mapped prefix so 127.0.0.1 rules match dual-stack sockets. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** Add "a.b.c.d", "a.b.c.d/n", an IPv6 address or IPv6 CIDR to a BlockList; false when malformed. */
export function addCidr(list: BlockList, spec: string): boolean {
  const [addr, bits, extra] = spec.trim().split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
  if (!family) return false;
  if (bits === undefined) {
    list.addAddress(addr, family);
    return true;
  }
  const n = Number(bits);
  if (!/^\d+$/.test(bits) || n > (family === 'ipv4' ? 32 : 128)) return false;
  list.addSubnet(addr, n, family);
  return true;
}

export function ipInList(list: BlockList, ip: string): boolean {
  const a = normalizeIp(ip);
  if (isIPv4(a)) return list.check(a, 'ipv4');
  if (isIPv6(a)) return list.check(a, 'ipv6');
  return false;
}

function compileWho(t: Term): Who {
  if (t.t === 'atom' && t.v === 'all') return { k: 'all' };
  if (t.t !== 'tuple' || t.items[0]?.t !== 'atom') return syntax(t.line, 'who must be all or a {kind, value} tuple');
  const kind = t.items[0].v;
  const arg = t.items[1];
  if (kind === 'client_attr') return syntax(t.line, 'client_attr is not supported: Outpost clients carry no attributes');
  if (t.items.length !== 2) return syntax(t.line, `{${kind}, …} takes one value`);
  switch (kind) {
    case 'user':
    case 'username':
      return { k: 'username', m: strMatch(arg, t.line, 'username') };
    case 'client':
    case 'clientid':
      return { k: 'clientid', m: strMatch(arg, t.line, 'clientid') };
    case 'ipaddr':
    case 'ipaddrs': {
      const specs = kind === 'ipaddr' ? [str(arg, t.line, 'ipaddr')] : arg?.t === 'list' ? arg.items.map((i) => str(i, t.line, 'ipaddrs item')) : syntax(t.line, 'ipaddrs takes a list');
      const list = new BlockList();
      for (const s of specs) if (!addCidr(list, s)) syntax(t.line, `bad address or CIDR ${JSON.stringify(s)}`);
      return { k: 'ipaddr', list, text: specs.join(',') };
    }
    case 'and':
    case 'or':
      if (arg?.t !== 'list' || arg.items.length === 0) return syntax(t.line, `{${kind}, [...]} takes a non-empty list`);
      return { k: kind, items: arg.items.map(compileWho) };
    default:
      return syntax(t.line, `unknown who ${JSON.stringify(kind)}`);
  }
}

function compileAction(t: Term): ActionSpec {
  const base = (a: Term | undefined): Pick<ActionSpec, 'publish' | 'subscribe'> => {
    if (a?.t === 'atom' && (a.v === 'publish' || a.v === 'subscribe' || a.v === 'all')) return { publish: a.v !== 'subscribe', subscribe: a.v !== 'publish' };
    return syntax(a?.line ?? t.line, 'action must be publish, subscribe or all');
  };
  if (t.t === 'atom') return { ...base(t), qos: null, retain: null };
  if (t.t !== 'tuple' || t.items.length !== 2 || t.items[1]?.t !== 'list') return syntax(t.line, 'action must be an atom or {Action, [Conditions]}');
  const spec: ActionSpec = { ...base(t.items[0]), qos: null, retain: null };
  for (const c of t.items[1].items) {
    if (c.t !== 'tuple' || c.items.length !== 2 || c.items[0]?.t !== 'atom') syntax(c.line, 'condition must be {qos, …} or {retain, …}');
    const [name, val] = [(c.items[0] as { v: string }).v, c.items[1]!];
    if (name === 'qos') {
      const vals = val.t === 'list' ? val.items : [val];
      const set = new Set<number>();
      for (const q of vals) {
        if (q.t !== 'int' || q.v > 2) syntax(q.line, 'qos must be 0, 1 or 2');
        set.add((q as { v: number }).v);
      }
      spec.qos = set;
    } else if (name === 'retain') {
      if (val.t !== 'atom' || !['true', 'false', 'all'].includes(val.v)) syntax(val.line, 'retain must be true, false or all');
      const v = (val as { v: string }).v;
      spec.retain = v === 'all' ? null : v === 'true';
    } else {
      syntax(c.line, `unknown condition ${JSON.stringify(name)}`);
    }
  }
  return spec;
}

const PH_RE = /\$\{([^}]*)\}/g;

/** Compile one topic filter, with placeholders (EMQX: ${clientid}, ${username}, ${cert_common_name}, ${$}). */
export function compileTopic(text: string, line = 0): TopicPattern {
  const levels: Level[] = text.split('/').map((lv): Level => {
    if (lv === '+') return { k: '+' };
    if (lv === '#') return { k: '#' };
    if (!lv.includes('${')) return { k: 'lit', v: lv };
    const parts: (string | Placeholder)[] = [];
    let last = 0;
    for (const m of lv.matchAll(PH_RE)) {
      if (m.index > last) parts.push(lv.slice(last, m.index));
      const name = m[1]!;
      if (name === '$') parts.push('$');
      else if (name === 'clientid' || name === 'username' || name === 'cert_common_name' || name === 'peerhost') parts.push({ ph: name });
      else if (name.startsWith('client_attrs.')) parts.push({ ph: 'attr' });
      else syntax(line, `unknown placeholder \${${name}} in ${JSON.stringify(text)}`);
      last = m.index + m[0].length;
    }
    if (last < lv.length) parts.push(lv.slice(last));
    return { k: 'tpl', parts };
  });
  const hashAt = levels.findIndex((l) => l.k === '#');
  if (hashAt >= 0 && hashAt !== levels.length - 1) syntax(line, `'#' must be the last level in ${JSON.stringify(text)}`);
  return { k: 'filter', levels, text };
}

function compileTopics(t: Term): TopicPattern[] {
  const items = t.t === 'list' ? t.items : [t];
  return items.map((i) => {
    if (i.t === 'str') return compileTopic(i.v, i.line);
    if (i.t === 'tuple' && i.items.length === 2 && i.items[0]?.t === 'atom' && i.items[0].v === 'eq') return { k: 'eq', v: str(i.items[1], i.line, 'eq topic') };
    return syntax(i.line, 'topic must be a "string" or {eq, "string"}');
  });
}

/** Compile one rule term; `origin` labels the rule in logs. */
export function compileRule(t: Term, origin: string): AclRule {
  if (t.t !== 'tuple' || t.items[0]?.t !== 'atom' || (t.items[0].v !== 'allow' && t.items[0].v !== 'deny')) {
    return syntax(t.line, 'a rule is {allow|deny, Who, Action, Topics} or {allow|deny, all}');
  }
  const permission = t.items[0].v as Permission;
  if (t.items.length === 2) {
    if (t.items[1]?.t !== 'atom' || t.items[1].v !== 'all') return syntax(t.line, `{${permission}, …} with two elements must be {${permission}, all}`);
    return { permission, who: { k: 'all' }, action: ALL_ACTIONS, topics: null, origin };
  }
  if (t.items.length !== 4) return syntax(t.line, 'a rule has 2 or 4 elements');
  return { permission, who: compileWho(t.items[1]!), action: compileAction(t.items[2]!), topics: compileTopics(t.items[3]!), origin };
}

/** Parse an acl.conf text into rules; throws AuthError(OUTPOST_ERR_AUTH_ACL_SYNTAX) naming the line. */
export function parseAcl(text: string, name = 'acl.conf'): AclRule[] {
  return parseTerms(text).map((t) => compileRule(t, `${name}:${t.line}`));
}

/** EMQX 5.8's default acl.conf (apps/emqx_auth/etc/acl.conf). */
export const DEFAULT_ACL = `%% EMQX 5 default authorization rules
{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.
{allow, all}.
`;

function strMatches(m: StrMatch, v: string | null): boolean {
  if (v === null) return false;
  return 'eq' in m ? m.eq === v : m.re.test(v);
}

export function whoMatches(w: Who, s: AclSubject): boolean {
  switch (w.k) {
    case 'all':
      return true;
    case 'username':
      return strMatches(w.m, s.username);
    case 'clientid':
      return strMatches(w.m, s.clientId);
    case 'ipaddr':
      return ipInList(w.list, s.peerHost);
    case 'and':
      return w.items.every((i) => whoMatches(i, s));
    case 'or':
      return w.items.some((i) => whoMatches(i, s));
  }
}

function render(parts: (string | Placeholder)[], s: AclSubject): string | null {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const v = p.ph === 'clientid' ? s.clientId : p.ph === 'username' ? s.username : p.ph === 'cert_common_name' ? s.certCommonName : p.ph === 'peerhost' ? normalizeIp(s.peerHost) : undefined;
    // A placeholder with no value is not rendered: the topic does not match (EMQX).
    if (v === undefined || v === null || v === '') return null;
    out += v;
  }
  return out;
}

/**
 * Does a rule filter match the topic (publish) or the requested filter (subscribe)? The requested
 * filter is taken literally, as EMQX's emqx_topic:match does: rule "a/#" covers a subscription to
 * "a/+/b". Placeholder values are compared literally, so a client id "+" cannot widen a rule.
 */
export function patternMatches(p: TopicPattern, topic: string, s: AclSubject): boolean {
  if (p.k === 'eq') return p.v === topic;
  const words = topic.split('/');
  let w = 0;
  const levels = p.levels;
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i]!;
    if (lv.k === '#') {
      // [MQTT-4.7.2-1] a leading wildcard does not match a $-topic.
      return !(i === 0 && topic.startsWith('$'));
    }
    if (lv.k === '+') {
      if (w >= words.length || (i === 0 && topic.startsWith('$'))) return false;
      w++;
      continue;
    }
    if (lv.k === 'lit') {
      if (words[w] !== lv.v) return false;
      w++;
      continue;
    }
    const r = render(lv.parts, s);
    if (r === null) return false;
    for (const piece of r.split('/')) {
      if (words[w] !== piece) return false;
      w++;
    }
  }
  return w === words.length;
}

export function actionMatches(a: ActionSpec, action: AuthzAction, qos: QoS, retain: boolean): boolean {
  if (action === 'publish' ? !a.publish : !a.subscribe) return false;
  if (a.qos && !a.qos.has(qos)) return false;
  if (action === 'publish' && a.retain !== null && a.retain !== retain) return false;
  return true;
}

/** First matching rule, or null. `$SYS` subscriptions are never matched by a topic-less catch-all rule. */
export function matchRules(rules: readonly AclRule[], s: AclSubject, action: AuthzAction, topic: string, qos: QoS, retain: boolean): AclRule | null {
  for (const r of rules) {
    if (!whoMatches(r.who, s) || !actionMatches(r.action, action, qos, retain)) continue;
    if (r.topics === null) {
      if (action === 'subscribe' && topic.startsWith('$SYS') && r.permission === 'allow') continue;
      return r;
    }
    for (const p of r.topics) if (patternMatches(p, topic, s)) return r;
  }
  return null;
}
