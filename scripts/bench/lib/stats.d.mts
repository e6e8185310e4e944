export function median(values: readonly unknown[]): number;
export interface HistogramJson {
  sparse: Array<[number, number]>;
  total: number;
  max: number;
  sum: number;
}
export class LatencyHistogram {
  counts: Float64Array;
  total: number;
  max: number;
  sum: number;
  record(us: number): void;
  reset(): void;
  percentile(q: number): number;
  mean(): number;
  toJSON(): HistogramJson;
  merge(json: HistogramJson): this;
}
export function ratio(a: unknown, b: unknown): number;
