// The in-flight window towards the upstream: QoS 1/2 publishes sent and not yet acknowledged,
// keyed by packet id. Packet ids are shared with SUBSCRIBE [MQTT-2.2.1-3], so an unanswered
// SUBSCRIBE keeps its id reserved.
import type { LogEntry } from './outbound-log.js';

export interface Inflight {
  entry: LogEntry;
  pid: number;
  /** 'pub': PUBLISH sent, awaiting PUBACK/PUBREC; 'rel': PUBREL sent, awaiting PUBCOMP. */
  state: 'pub' | 'rel';
  sentAt: number;
}

export class InflightWindow {
  private readonly map = new Map<number, Inflight>();
  private nextPid = 1;
  /** Packet id of an unanswered SUBSCRIBE, 0 when none. */
  reserved = 0;

  get size(): number {
    return this.map.size;
  }

  get(pid: number): Inflight | undefined {
    return this.map.get(pid);
  }

  delete(pid: number): void {
    this.map.delete(pid);
  }

  allocPid(): number {
    for (let n = 0; n < 65535; n++) {
      const pid = this.nextPid;
      this.nextPid = pid === 65535 ? 1 : pid + 1;
      if (!this.map.has(pid) && pid !== this.reserved) return pid;
    }
    throw new Error('no free packet id');
  }

  add(entry: LogEntry, now: number): Inflight {
    const f: Inflight = { entry, pid: this.allocPid(), state: 'pub', sentAt: now };
    this.map.set(f.pid, f);
    return f;
  }

  /** In publish order, for retransmission [MQTT-4.6.0-1]. */
  ordered(): Inflight[] {
    return [...this.map.values()].sort((a, b) => a.entry.seq - b.entry.seq);
  }

  /** Send time of the longest-waiting entry, or 0 when empty. */
  oldestSentAt(): number {
    let oldest = Infinity;
    for (const f of this.map.values()) if (f.sentAt < oldest) oldest = f.sentAt;
    return oldest === Infinity ? 0 : oldest;
  }
}
