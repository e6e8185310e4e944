import type { BrokerHandle, BrokerOptions } from './brokers.mjs';
import type { WorkerPool } from './lib/pool.mjs';
import type { MetricSpec } from './report.mjs';

export interface RunOptions {
  warmupMs: number;
  durationMs: number;
  window: number;
  payload: number;
  rate?: number;
  idleConns?: number;
  backlog?: number;
  backlogTimeoutMs?: number;
}
export interface Scenario {
  name: string;
  title: string;
  metrics: readonly MetricSpec[];
  quick?: boolean;
  optional?: boolean;
  /** null when the broker can run it, else why not (reported as n/a). */
  supports(broker: string): string | null;
  brokerOptions?(broker: string): BrokerOptions;
  run(ctx: { broker: BrokerHandle; pool: WorkerPool; opts: RunOptions }): Promise<Record<string, number>>;
}
export const SCENARIOS: readonly Scenario[];
export function findScenario(name: string): Scenario | undefined;
