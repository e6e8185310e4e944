// Topic ids of one session: predefined ids from config (global and per client), normal ids
// allocated from 1025 upward for REGISTER and SUBSCRIBE (spec §2), short names need none.
import { FIRST_DYNAMIC_TOPIC_ID, MAX_TOPIC_ID } from './params.js';

export interface PredefinedTopic {
  id: number;
  topic: string;
  clientid?: string | undefined;
}

/** The predefined table as one client sees it: its own entries override global ones with the same id or topic. */
export class PredefinedTopics {
  private readonly global = new Map<number, string>();
  private readonly globalByName = new Map<string, number>();
  private readonly perClient = new Map<string, { byId: Map<number, string>; byName: Map<string, number> }>();
  /** The config's per-client ids, kept apart so setClient can rebuild a client's view from them. */
  private readonly configured = new Map<string, { byId: Map<number, string>; byName: Map<string, number> }>();

  constructor(list: readonly PredefinedTopic[]) {
    for (const p of list) {
      if (p.clientid === undefined) {
        this.global.set(p.id, p.topic);
        this.globalByName.set(p.topic, p.id);
      } else {
        let c = this.perClient.get(p.clientid);
        if (!c) this.perClient.set(p.clientid, (c = { byId: new Map(), byName: new Map() }));
        c.byId.set(p.id, p.topic);
        c.byName.set(p.topic, p.id);
      }
    }
    for (const [k, v] of this.perClient) this.configured.set(k, { byId: new Map(v.byId), byName: new Map(v.byName) });
  }

  /**
   * Replace one client's own ids (those pairing gave it, from the device registry) on each CONNECT,
   * so unpairing or re-pairing takes effect at the device's next connection. Ids from the config
   * for that client stay; the registry's win where both name the same id.
   */
  setClient(clientId: string, list: readonly { id: number; topic: string }[]): void {
    const configured = this.configured.get(clientId);
    if (list.length === 0 && configured === undefined) {
      this.perClient.delete(clientId);
      return;
    }
    const c = { byId: new Map(configured?.byId), byName: new Map(configured?.byName) };
    for (const p of list) {
      c.byId.set(p.id, p.topic);
      c.byName.set(p.topic, p.id);
    }
    this.perClient.set(clientId, c);
  }

  name(id: number, clientId: string | null): string | undefined {
    if (clientId !== null) {
      const t = this.perClient.get(clientId)?.byId.get(id);
      if (t !== undefined) return t;
    }
    return this.global.get(id);
  }

  id(topic: string, clientId: string | null): number | undefined {
    if (clientId !== null) {
      const i = this.perClient.get(clientId)?.byName.get(topic);
      if (i !== undefined) return i;
    }
    return this.globalByName.get(topic);
  }
}

export function hasWildcard(topic: string): boolean {
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */) return true;
  }
  return false;
}

export class TopicRegistry {
  private readonly byId = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  /** Ids the device has acknowledged (REGACK 0) or itself registered; others need a REGISTER first. */
  private readonly known = new Set<number>();
  private next = FIRST_DYNAMIC_TOPIC_ID;

  get size(): number {
    return this.byId.size;
  }

  name(id: number): string | undefined {
    return this.byId.get(id);
  }

  id(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** The id for `name`, allocating one if needed; null when the id space is exhausted. */
  register(name: string): number | null {
    const have = this.byName.get(name);
    if (have !== undefined) return have;
    if (this.next > MAX_TOPIC_ID) return null;
    const id = this.next++;
    this.byId.set(id, name);
    this.byName.set(name, id);
    return id;
  }

  /** The device knows this id (it registered or acknowledged it). */
  confirm(id: number): void {
    if (this.byId.has(id)) this.known.add(id);
  }

  /** The device said it does not know the id (PUBACK 0x02): REGISTER again before the next use. */
  forget(id: number): void {
    this.known.delete(id);
  }

  /** A new session: every id is gone. */
  clear(): void {
    this.byId.clear();
    this.byName.clear();
    this.known.clear();
    this.next = FIRST_DYNAMIC_TOPIC_ID;
  }

  isKnown(id: number): boolean {
    return this.known.has(id);
  }
}
