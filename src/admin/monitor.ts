// The dashboard's metric samples (emqx_dashboard_monitor.erl): every 10 s a sample of the gauges
// (connections, subscriptions, topics, ...) and of what the counters grew by since the previous
// sample (received, sent, dropped, ...), kept in a ring buffer in memory. Six hours of samples:
// the dashboard's charts, not a time-series store (EMQX keeps 7 days, downsampled, in mnesia).
import type { BrokerApi } from '../broker/api.js';

export const SAMPLE_INTERVAL_MS = 10_000;
export const SAMPLE_CAPACITY = 2160;

/** EMQX ?GAUGE_SAMPLER_LIST. */
const GAUGES = ['disconnected_durable_sessions', 'subscriptions_durable', 'subscriptions', 'topics', 'connections', 'live_connections'] as const;
/** EMQX ?DELTA_SAMPLER_LIST, with the Outpost counter each one reads (none: always 0 here). */
const DELTAS = {
  received: 'messages.received',
  sent: 'messages.sent',
  validation_succeeded: null,
  validation_failed: null,
  transformation_succeeded: null,
  transformation_failed: null,
  dropped: 'messages.dropped',
  persisted: null,
  rules_matched: null,
  actions_executed: null,
  actions_messages: null,
} as const;
/** EMQX ?DELTA_SAMPLER_RATE_MAP. */
const RATE_NAME: Record<keyof typeof DELTAS, string> = {
  received: 'received_msg_rate',
  sent: 'sent_msg_rate',
  validation_succeeded: 'validation_succeeded_rate',
  validation_failed: 'validation_failed_rate',
  transformation_succeeded: 'transformation_succeeded_rate',
  transformation_failed: 'transformation_failed_rate',
  dropped: 'dropped_msg_rate',
  persisted: 'persisted_rate',
  rules_matched: 'rules_matched_rate',
  actions_executed: 'actions_executed_rate',
  actions_messages: 'actions_messages_rate',
};

export type Sample = Record<string, number> & { time_stamp: number };

const COLUMNS = ['time_stamp', ...GAUGES, ...Object.keys(DELTAS)] as const;

/** What the routes need; the runtime starts one at boot so the history does not wait for the first request. */
export interface MonitorSource {
  samples(latestSeconds?: number): Sample[];
  current(): Record<string, number>;
  clear(): void;
}

export class MonitorSampler implements MonitorSource {
  /** Samples as rows of numbers in one typed array: about 300 KB when full, whatever the traffic. */
  private readonly ring: Float64Array;
  private head = 0;
  private size = 0;
  private last: Record<string, number> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly broker: BrokerApi,
    private readonly intervalMs = SAMPLE_INTERVAL_MS,
    private readonly capacity = SAMPLE_CAPACITY,
  ) {
    this.ring = new Float64Array(capacity * COLUMNS.length);
  }

  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private counters(): Record<string, number> {
    const c = this.broker.metrics.snapshot();
    const out: Record<string, number> = {};
    for (const [k, src] of Object.entries(DELTAS)) out[k] = src === null ? 0 : (c[src] ?? 0);
    return out;
  }

  private gauges(): Record<(typeof GAUGES)[number], number> {
    const s = this.broker.stats();
    return {
      disconnected_durable_sessions: Math.max(0, s['sessions.count'] - s['live_connections.count']),
      subscriptions_durable: 0,
      subscriptions: s['subscriptions.count'],
      topics: s['topics.count'],
      connections: s['connections.count'],
      live_connections: s['live_connections.count'],
    };
  }

  private row(i: number): Sample {
    const base = ((this.head - this.size + i + this.capacity) % this.capacity) * COLUMNS.length;
    const out: Record<string, number> = {};
    COLUMNS.forEach((c, j) => (out[c] = this.ring[base + j]!));
    return out as Sample;
  }

  /** Take one sample now (the timer's job; tests call it directly). */
  sample(): Sample {
    const counters = this.counters();
    const prev = this.last ?? counters;
    const s: Sample = { time_stamp: this.broker.clock.now(), ...this.gauges() } as Sample;
    for (const k of Object.keys(DELTAS)) s[k] = Math.max(0, counters[k]! - prev[k]!);
    this.last = counters;
    const base = this.head * COLUMNS.length;
    COLUMNS.forEach((c, j) => (this.ring[base + j] = s[c]!));
    this.head = (this.head + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    return s;
  }

  /** GET /monitor?latest=seconds: samples of the last `latest` seconds, oldest first. */
  samples(latestSeconds?: number): Sample[] {
    const since = latestSeconds === undefined ? -Infinity : this.broker.clock.now() - latestSeconds * 1000;
    const out: Sample[] = [];
    for (let i = 0; i < this.size; i++) {
      const r = this.row(i);
      if (r.time_stamp >= since) out.push(r);
    }
    return out;
  }

  clear(): void {
    this.size = 0;
  }

  /** GET /monitor_current: the gauges now and the counters' rates per second over the last interval. */
  current(): Record<string, number> {
    const s = this.broker.stats();
    const out: Record<string, number> = { ...this.gauges() };
    const latest = this.size > 0 ? this.row(this.size - 1) : undefined;
    const secs = this.intervalMs / 1000;
    // EMQX gives rates as integers.
    for (const [k, rate] of Object.entries(RATE_NAME)) out[rate] = latest ? Math.round(latest[k]! / secs) : 0;
    out.retained_msg_count = s['retained.count'];
    out.shared_subscriptions = s['subscriptions.shared.count'];
    out.cluster_sessions = s['sessions.count'];
    return out;
  }
}
