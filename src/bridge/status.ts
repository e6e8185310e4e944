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
}

export function emptyCounters(): BridgeCounters {
  return { matched: 0, success: 0, failed: 0, dropped: 0, retried: 0, received: 0, stalled: 0, reconnects: 0, droppedBy: {} };
}
