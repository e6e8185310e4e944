export interface MetricSpec {
  key: string;
  label: string;
  better: 'higher' | 'lower';
}
export interface RunRecord {
  scenario: string;
  broker: string;
  round: number;
  status: 'ok' | 'na' | 'error' | 'skip';
  reason?: string;
  metrics?: Record<string, number>;
}
export interface SummaryRow {
  scenario: string;
  metric: string;
  label: string;
  better: 'higher' | 'lower';
  values: Record<string, number | string>;
  ratios: Record<string, number | null>;
  /** Per broker (not the baseline): [lowest, highest] ratio to the baseline within a round, or null. */
  ranges: Record<string, [number, number] | null>;
}
export function fmt(v: number | string): string;
export function summarize(scenarios: ReadonlyArray<{ name: string; metrics: readonly MetricSpec[] }>, brokers: readonly string[], runs: readonly RunRecord[], baseline: string): SummaryRow[];
export function renderRanges(rows: readonly SummaryRow[], brokers: readonly string[], baseline: string): string;
export function renderTable(rows: readonly SummaryRow[], brokers: readonly string[], baseline: string): string;
