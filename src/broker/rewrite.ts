// Topic rewrite rules (EMQX `rewrite`): the first rule whose source filter matches decides; its
// regex must match or the topic stays unchanged (no fall-through). $1..$N, ${clientid}, ${username}.
import { topicMatches } from './topic.js';

export interface RewriteRule {
  action: 'publish' | 'subscribe' | 'all';
  source_topic: string;
  re: string;
  dest_topic: string;
}

interface Compiled {
  publish: boolean;
  subscribe: boolean;
  source: string;
  re: RegExp;
  dest: string;
}

export class TopicRewriter {
  private readonly rules: Compiled[];

  constructor(rules: readonly RewriteRule[]) {
    this.rules = rules.map((r) => ({
      publish: r.action !== 'subscribe',
      subscribe: r.action !== 'publish',
      source: r.source_topic,
      re: new RegExp(r.re),
      dest: r.dest_topic,
    }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  rewrite(kind: 'publish' | 'subscribe', topic: string, clientId: string, username: string | null): string {
    for (const r of this.rules) {
      if (kind === 'publish' ? !r.publish : !r.subscribe) continue;
      if (!topicMatches(r.source, topic)) continue;
      const m = r.re.exec(topic);
      if (!m) return topic;
      return r.dest
        .replace(/\$(\d+)/g, (_s, n: string) => m[Number(n)] ?? '')
        .replace(/\$\{clientid\}/g, clientId)
        .replace(/\$\{username\}/g, username ?? '');
    }
    return topic;
  }
}
