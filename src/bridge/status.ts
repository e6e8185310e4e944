// What a bridge reports: counters (EMQX action metric names, spec §6) and the status object the
// admin API and `outpostctl` show.
import type { BridgeErrorCode } from './errors.js';
import type { DropReason } from './outbound-log.js';

export interface BridgeCounters {
  matched: number;
  success: number;
  failed: number;
  dropped: number;
  retried: number;
  received: number;
  stalled: number;
  reconnects: number;
  /** Messages not forwarded or republished because their outpost-path already named this node. */
  loops: number;
  droppedBy: Partial<Record<DropReason, number>>;
}

export interface BridgeStatus {
  name: string;
  enable: boolean;
  /** EMQX connector status names. */
  status: 'connected' | 'connecting' | 'disconnected' | 'stopped';
  /** Healthy when connected and every in-flight message was acknowledged within stall_timeout. */
  healthy: boolean;
  server: string | null;
  clientId: string;
  /** The most recent failure, kept after recovery (status says whether the link is up now). */
  lastError: string | null;
  /** Stable code of lastError (errors.ts). */
  lastErrorCode: BridgeErrorCode | null;
  connectedAt: number;
  lastAckAt: number;
  queued: number;
  queuedBytes: number;
  inflight: number;
  /** Age (ms) of the next message to send: how far replay is behind live traffic. */
  replayLagMs: number;
  oldestQueuedAgeMs: number;
  counters: BridgeCounters;
  /** Acknowledged messages per second: last second, 5-minute moving average, highest seen. */
  rates: { current: number; last5m: number; max: number };
}

export function emptyRates(): BridgeStatus['rates'] {
  return { current: 0, last5m: 0, max: 0 };
}

export function emptyCounters(): BridgeCounters {
  return { matched: 0, success: 0, failed: 0, dropped: 0, retried: 0, received: 0, stalled: 0, reconnects: 0, loops: 0, droppedBy: {} };
}

/** Success rate sampled on the bridge's tick: per-second value, 5-minute EWMA and maximum. */
export class RateMeter {
  current = 0;
  last5m = 0;
  max = 0;
  private lastCount = 0;
  private lastAt = 0;

  sample(count: number, now: number): void {
    if (this.lastAt === 0) {
      this.lastAt = now;
      this.lastCount = count;
      return;
    }
    const dt = now - this.lastAt;
    if (dt < 1000) return;
    this.current = ((count - this.lastCount) * 1000) / dt;
    const alpha = Math.min(1, dt / 300_000);
    this.last5m += alpha * (this.current - this.last5m);
    if (this.current > this.max) this.max = this.current;
    this.lastAt = now;
    this.lastCount = count;
  }
}

type EmqxMetricSet = Record<string, number>;

/** The shape of EMQX 5's GET /api/v5/actions/{id}/metrics (spec §5.8), for one node. */
export function toEmqxMetrics(s: BridgeStatus, node: string): { metrics: EmqxMetricSet; node_metrics: { node: string; metrics: EmqxMetricSet }[] } {
  const by = s.counters.droppedBy;
  const named = (by.queue_full ?? 0) + (by.expired ?? 0);
  const m: EmqxMetricSet = {
    matched: s.counters.matched,
    success: s.counters.success,
    failed: s.counters.failed,
    dropped: s.counters.dropped,
    'dropped.queue_full': by.queue_full ?? 0,
    'dropped.expired': by.expired ?? 0,
    'dropped.other': s.counters.dropped - named,
    queuing: s.queued,
    inflight: s.inflight,
    retried: s.counters.retried,
    received: s.counters.received,
    rate: round2(s.rates.current),
    rate_last5m: round2(s.rates.last5m),
    rate_max: round2(s.rates.max),
  };
  return { metrics: m, node_metrics: [{ node, metrics: { ...m } }] };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
