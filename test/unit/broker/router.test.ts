import { describe, expect, it } from 'vitest';
import { Router, Subscription, type SharedGroup, type Subscriber } from '../../../src/broker/router.js';
import { createMessage } from '../../../src/core/message.js';
import { parseFilter, topicMatches } from '../../../src/broker/topic.js';

class Sess implements Subscriber {
  constructor(
    readonly clientId: string,
    public connected = true,
  ) {}
  isConnected() {
    return this.connected;
  }
}
const opts = { qos: 0 as const, nl: false, rap: false, rh: 0 as const, subId: 0 };

function sub(s: Sess, raw: string) {
  const p = parseFilter(raw)!;
  return new Subscription(s, raw, p.filter, p.group, { ...opts });
}

function matched(r: Router<Sess>, topic: string) {
  const subs: string[] = [];
  const groups: SharedGroup<Sess>[] = [];
  r.match(topic, { visitSub: (x) => subs.push(`${x.session.clientId}:${x.raw}`), visitGroup: (g) => groups.push(g) });
  return { subs: subs.sort(), groups };
}

describe('router', () => {
  it('matches exact and wildcard filters like topicMatches does', () => {
    const r = new Router<Sess>(() => 'round_robin');
    const filters = ['a/b', 'a/+', 'a/#', '#', '+/+', '+', '$SYS/#', '+/b/#', 'a/b/c', '/+', 'x/+/z'];
    const a = new Sess('a');
    for (const f of filters) r.add(sub(a, f));
    const topics = ['a/b', 'a', 'a/b/c', '$SYS/x', 'b', '/x', 'x/y/z', 'q/b', 'q/b/r', 'a/', ''];
    for (const t of topics) {
      const expected = filters.filter((f) => topicMatches(f, t)).map((f) => `a:${f}`).sort();
      expect(matched(r, t).subs, t).toEqual(expected);
    }
  });

  it('removes subscriptions and prunes', () => {
    const r = new Router<Sess>(() => 'round_robin');
    const a = new Sess('a');
    const s1 = sub(a, 'a/+/c');
    r.add(s1);
    expect(r.size).toBe(1);
    r.remove(s1);
    expect(r.size).toBe(0);
    expect(matched(r, 'a/b/c').subs).toEqual([]);
    expect(r.filters()).toEqual([]);
  });

  it('round-robins a shared group and prefers connected members', () => {
    const r = new Router<Sess>(() => 'round_robin');
    const a = new Sess('a');
    const b = new Sess('b');
    const c = new Sess('c', false);
    for (const s of [a, b, c]) r.add(sub(s, '$share/g/t/+'));
    const m = createMessage({ topic: 't/1', payload: Buffer.alloc(0), qos: 1, retain: false, now: 1 });
    const { groups } = matched(r, 't/1');
    expect(groups).toHaveLength(1);
    const picks = Array.from({ length: 4 }, () => groups[0]!.pick(m)!.session.clientId);
    expect(picks).toEqual(['a', 'b', 'a', 'b']);
    expect(groups[0]!.pick(m, a)!.session.clientId).toBe('b');
  });

  it('hash strategies are stable', () => {
    const r = new Router<Sess>(() => 'hash_topic');
    for (const id of ['a', 'b', 'c']) r.add(sub(new Sess(id), '$queue/t/#'));
    const m = createMessage({ topic: 't/x', payload: Buffer.alloc(0), qos: 0, retain: false, now: 1 });
    const g = matched(r, 't/x').groups[0]!;
    const first = g.pick(m)!.session.clientId;
    for (let i = 0; i < 5; i++) expect(g.pick(m)!.session.clientId).toBe(first);
  });
});
