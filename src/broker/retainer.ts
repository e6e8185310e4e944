// Retained messages: one per topic, kept in memory for lookup on subscribe and in the store so
// they survive a restart. Lookup by filter scans topics only when the filter has wildcards.
import { Message } from '../core/message.js';
import { hasWildcard, topicMatches } from './topic.js';
import type { Store } from '../store/store.js';

export interface RetainerLimits {
  enable: boolean;
  maxPayloadSize: number;
  maxRetainedMessages: number;
  /** Seconds; 0 = never. */
  msgExpiryInterval: number;
}

export type RetainOutcome = 'stored' | 'deleted' | 'too_large' | 'table_full' | 'disabled';

export class Retainer {
  private readonly byTopic = new Map<string, Message>();
  /** Retained $SYS entries, which do not count against max_retained_messages. */
  private sysCount = 0;

  constructor(
    private readonly store: Store,
    private limits: RetainerLimits,
  ) {}

  setLimits(l: RetainerLimits): void {
    this.limits = l;
  }

  load(msgs: Message[], now: number): void {
    for (const m of msgs) {
      if (m.isExpired(now)) this.store.deleteRetained(m.topic);
      else this.put(m);
    }
  }

  private put(m: Message): void {
    if (!this.byTopic.has(m.topic) && m.topic.startsWith('$SYS/')) this.sysCount++;
    this.byTopic.set(m.topic, m);
  }

  private remove(topic: string): boolean {
    if (!this.byTopic.delete(topic)) return false;
    if (topic.startsWith('$SYS/')) this.sysCount--;
    return true;
  }

  /** A PUBLISH with the retain flag: store, replace, or delete on empty payload [MQTT-3.3.1-6, -10]. */
  retain(msg: Message): RetainOutcome {
    if (!this.limits.enable) return 'disabled';
    if (msg.payload.length === 0) {
      if (this.remove(msg.topic)) this.store.deleteRetained(msg.topic);
      return 'deleted';
    }
    if (this.limits.maxPayloadSize > 0 && msg.payload.length > this.limits.maxPayloadSize) return 'too_large';
    // The broker's own $SYS entries do not count against the user's limit.
    if (this.limits.maxRetainedMessages > 0 && !msg.topic.startsWith('$SYS/') && !this.byTopic.has(msg.topic) && this.byTopic.size - this.sysCount >= this.limits.maxRetainedMessages) return 'table_full';
    let m = msg;
    if (m.expiresAt === 0 && this.limits.msgExpiryInterval > 0) {
      m = new Message(
        msg.id, msg.topic, msg.payload, msg.qos, true, msg.props, msg.from, msg.fromUsername, msg.origin, msg.ts, msg.ts + this.limits.msgExpiryInterval * 1000,
      );
    }
    this.put(m);
    this.store.saveRetained(m);
    return 'stored';
  }

  /** Retained messages matching a subscription filter, expired ones purged on the way. */
  match(filter: string, now: number): Message[] {
    if (!hasWildcard(filter)) {
      const m = this.byTopic.get(filter);
      if (!m) return [];
      if (m.isExpired(now)) {
        this.delete(m.topic);
        return [];
      }
      return [m];
    }
    const out: Message[] = [];
    for (const m of this.byTopic.values()) {
      if (!topicMatches(filter, m.topic)) continue;
      if (m.isExpired(now)) {
        this.delete(m.topic);
        continue;
      }
      out.push(m);
    }
    return out;
  }

  get(topic: string): Message | null {
    return this.byTopic.get(topic) ?? null;
  }

  delete(topic: string): boolean {
    if (!this.remove(topic)) return false;
    this.store.deleteRetained(topic);
    return true;
  }

  list(filter?: string): Message[] {
    if (!filter) return [...this.byTopic.values()];
    return [...this.byTopic.values()].filter((m) => topicMatches(filter, m.topic));
  }

  count(): number {
    return this.byTopic.size;
  }
}
