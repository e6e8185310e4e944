// Subscription routing: a hash map for filters without wildcards (the common case: one lookup per
// publish) and a trie for wildcard filters, walked only when any exist. Shared subscriptions are
// kept per (filter, group) and resolved to one member at publish time.
import type { SharedStrategy } from '../config/schema.js';
import type { Message } from '../core/message.js';
import { hasWildcard } from './topic.js';
import type { SubscriptionOptions } from '../core/types.js';

/** What the router needs to know about a subscriber (a broker Session). */
export interface Subscriber {
  readonly clientId: string;
  /** Connected sessions are preferred when picking a shared-group member. */
  isConnected(): boolean;
}

export class Subscription<S extends Subscriber = Subscriber> {
  constructor(
    readonly session: S,
    /** As subscribed, e.g. '$share/g/a/+'. */
    readonly raw: string,
    /** Matched against topics, e.g. 'a/+'. */
    readonly filter: string,
    readonly group: string | null,
    public opts: SubscriptionOptions,
  ) {}
}

export class SharedGroup<S extends Subscriber = Subscriber> {
  readonly members: Subscription<S>[] = [];
  private rr = 0;
  private sticky: Subscription<S> | null = null;

  constructor(
    readonly name: string,
    readonly filter: string,
    public strategy: SharedStrategy,
  ) {}

  /** One member for this message, preferring connected sessions; `exclude` skips a member (re-dispatch). */
  pick(msg: Message, exclude: S | null = null): Subscription<S> | null {
    const all = this.members;
    if (all.length === 0) return null;
    let candidates = all;
    let connected = 0;
    for (const m of all) if (m.session.isConnected() && m.session !== exclude) connected++;
    if (connected > 0 && (connected < all.length || exclude)) {
      candidates = all.filter((m) => m.session.isConnected() && m.session !== exclude);
    } else if (exclude) {
      candidates = all.filter((m) => m.session !== exclude);
      if (candidates.length === 0) return null;
    }
    switch (this.strategy) {
      case 'random':
      case 'local':
        return candidates[Math.floor(Math.random() * candidates.length)]!;
      case 'round_robin':
      case 'round_robin_per_group': {
        const m = candidates[this.rr % candidates.length]!;
        this.rr = (this.rr + 1) % 1_000_000_007;
        return m;
      }
      case 'sticky': {
        if (this.sticky && candidates.includes(this.sticky)) return this.sticky;
        this.sticky = candidates[Math.floor(Math.random() * candidates.length)]!;
        return this.sticky;
      }
      case 'hash_clientid':
        return candidates[hash(msg.from) % candidates.length]!;
      case 'hash_topic':
        return candidates[hash(msg.topic) % candidates.length]!;
    }
  }

  remove(sub: Subscription<S>): void {
    const i = this.members.indexOf(sub);
    if (i >= 0) this.members.splice(i, 1);
    if (this.sticky === sub) this.sticky = null;
  }
}

/** FNV-1a: cheap and stable across restarts, so hash strategies keep their mapping. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Entry<S extends Subscriber> {
  subs: Subscription<S>[] = [];
  groups: Map<string, SharedGroup<S>> | null = null;
  isEmpty(): boolean {
    return this.subs.length === 0 && (this.groups === null || this.groups.size === 0);
  }
}

class TrieNode<S extends Subscriber> {
  children: Map<string, TrieNode<S>> | null = null;
  entry: Entry<S> | null = null;
}

export interface RouteVisitor<S extends Subscriber> {
  visitSub(sub: Subscription<S>): void;
  visitGroup(group: SharedGroup<S>): void;
}

export class Router<S extends Subscriber = Subscriber> {
  private readonly exact = new Map<string, Entry<S>>();
  private readonly root = new TrieNode<S>();
  private wildcardFilters = 0;
  private subscriptionCount = 0;
  private sharedCount = 0;

  constructor(private readonly strategyFor: (group: string) => SharedStrategy) {}

  get size(): number {
    return this.subscriptionCount;
  }
  get sharedSize(): number {
    return this.sharedCount;
  }

  add(sub: Subscription<S>): void {
    const entry = this.entryFor(sub.filter, true)!;
    if (sub.group === null) entry.subs.push(sub);
    else {
      entry.groups ??= new Map();
      let g = entry.groups.get(sub.group);
      if (!g) {
        g = new SharedGroup<S>(sub.group, sub.filter, this.strategyFor(sub.group));
        entry.groups.set(sub.group, g);
      }
      g.members.push(sub);
      this.sharedCount++;
    }
    this.subscriptionCount++;
  }

  remove(sub: Subscription<S>): void {
    const entry = this.entryFor(sub.filter, false);
    if (!entry) return;
    if (sub.group === null) {
      const i = entry.subs.indexOf(sub);
      if (i < 0) return;
      entry.subs.splice(i, 1);
    } else {
      const g = entry.groups?.get(sub.group);
      if (!g || !g.members.includes(sub)) return;
      g.remove(sub);
      if (g.members.length === 0) entry.groups!.delete(sub.group);
      this.sharedCount--;
    }
    this.subscriptionCount--;
    if (entry.isEmpty()) this.dropEntry(sub.filter);
  }

  /** The shared group for (filter, group), for re-dispatch. */
  group(filter: string, group: string): SharedGroup<S> | null {
    return this.entryFor(filter, false)?.groups?.get(group) ?? null;
  }

  /** Calls the visitor for every non-shared subscription and every shared group matching `topic`. */
  match(topic: string, v: RouteVisitor<S>): void {
    const e = this.exact.get(topic);
    if (e) visitEntry(e, v);
    if (this.wildcardFilters > 0) this.walk(this.root, topic, 0, v, true);
  }

  /** Every filter with at least one subscription. */
  filters(): string[] {
    const out = [...this.exact.keys()];
    const rec = (n: TrieNode<S>, prefix: string | null) => {
      if (n.entry && prefix !== null) out.push(prefix);
      if (n.children) for (const [k, c] of n.children) rec(c, prefix === null ? k : `${prefix}/${k}`);
    };
    rec(this.root, null);
    return out;
  }

  private walk(node: TrieNode<S>, topic: string, start: number, v: RouteVisitor<S>, atRoot: boolean): void {
    const children = node.children;
    if (!children) return;
    // [MQTT-4.7.2-1] a leading wildcard does not match '$' topics
    const dollar = atRoot && topic.charCodeAt(0) === 36;
    if (!dollar) {
      const hashNode = children.get('#');
      if (hashNode?.entry) visitEntry(hashNode.entry, v);
    }
    if (start > topic.length) return;
    let end = topic.indexOf('/', start);
    if (end < 0) end = topic.length;
    const level = topic.slice(start, end);
    const last = end === topic.length;
    const lit = children.get(level);
    if (lit) this.step(lit, topic, end, last, v);
    if (!dollar) {
      const plus = children.get('+');
      if (plus) this.step(plus, topic, end, last, v);
    }
  }

  private step(n: TrieNode<S>, topic: string, end: number, last: boolean, v: RouteVisitor<S>): void {
    if (last) {
      if (n.entry) visitEntry(n.entry, v);
      // 'a/#' also matches 'a' [MQTT-4.7.1-2]
      const h = n.children?.get('#');
      if (h?.entry) visitEntry(h.entry, v);
    } else {
      this.walk(n, topic, end + 1, v, false);
    }
  }

  private entryFor(filter: string, create: boolean): Entry<S> | null {
    if (!hasWildcard(filter)) {
      let e = this.exact.get(filter);
      if (!e && create) {
        e = new Entry<S>();
        this.exact.set(filter, e);
      }
      return e ?? null;
    }
    let node = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end < 0) end = filter.length;
      const level = filter.slice(start, end);
      let next = node.children?.get(level);
      if (!next) {
        if (!create) return null;
        node.children ??= new Map();
        next = new TrieNode<S>();
        node.children.set(level, next);
      }
      node = next;
      if (end === filter.length) break;
      start = end + 1;
    }
    if (!node.entry && create) {
      node.entry = new Entry<S>();
      this.wildcardFilters++;
    }
    return node.entry;
  }

  private dropEntry(filter: string): void {
    if (!hasWildcard(filter)) {
      this.exact.delete(filter);
      return;
    }
    const path: [TrieNode<S>, string][] = [];
    let node = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end < 0) end = filter.length;
      const level = filter.slice(start, end);
      const next = node.children?.get(level);
      if (!next) return;
      path.push([node, level]);
      node = next;
      if (end === filter.length) break;
      start = end + 1;
    }
    node.entry = null;
    this.wildcardFilters--;
    // prune empty branches
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i]!;
      const child = parent.children!.get(level)!;
      if (child.entry || (child.children && child.children.size > 0)) break;
      parent.children!.delete(level);
    }
  }
}

function visitEntry<S extends Subscriber>(e: Entry<S>, v: RouteVisitor<S>): void {
  const subs = e.subs;
  for (let i = 0; i < subs.length; i++) v.visitSub(subs[i]!);
  if (e.groups) for (const g of e.groups.values()) v.visitGroup(g);
}
