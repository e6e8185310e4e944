import type { ChildProcess } from 'node:child_process';
import type { HistogramJson, LatencyHistogram } from './stats.mjs';

export interface Snapshot {
  t: number;
  sent: number;
  acked: number;
  received: number;
  distinct: number;
  unexpectedCloses: number;
  clients: number;
  hist?: HistogramJson;
}
export class WorkerPool {
  constructor(size: number);
  readonly size: number;
  workers: ChildProcess[];
  call<T = unknown>(i: number, op: string, args?: Record<string, unknown>): Promise<T>;
  all<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T[]>;
  snapshot(latency?: boolean): Promise<Snapshot[]>;
  reset(): Promise<void>;
  close(): void;
}
export function spread(count: number, workers: readonly number[]): Array<{ w: number; n: number; indexBase: number }>;
export function sumRates(before: ReadonlyArray<Record<string, number>>, after: ReadonlyArray<Record<string, number>>, field: string): { rate: number; delta: number };
export function mergeHist(snaps: ReadonlyArray<{ hist?: HistogramJson }>): LatencyHistogram;
