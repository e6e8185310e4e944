// Small statistics helpers for the benchmark driver and load workers. Plain ESM, no build step.

/** Median of a list of numbers (mean of the two middle values for an even count); NaN when empty. */
export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

// Log-spaced buckets, 1% wide, from 1 us up to ~1,000 s. Workers record into their own histogram and send
// the bucket counts over IPC, where the driver adds them: exact merging, fixed size, no per-sample arrays.
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 1;

/** Latency histogram in microseconds with 1% relative resolution. */
export class LatencyHistogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.total = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** Records one sample in microseconds; values below 1 us land in the first bucket. */
  record(us) {
    const v = us < 1 ? 1 : us;
    let i = Math.floor(Math.log(v) / LOG_GROWTH);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i] += 1;
    this.total += 1;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  reset() {
    this.counts.fill(0);
    this.total = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** Value at quantile q (0..1): the upper edge of the bucket holding it, capped by the largest sample. */
  percentile(q) {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(GROWTH ** (i + 1), this.max);
    }
    return this.max;
  }

  mean() {
    return this.total === 0 ? Number.NaN : this.sum / this.total;
  }

  /** Sparse form for IPC: [[bucket, count], ...] plus the totals. */
  toJSON() {
    const sparse = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) sparse.push([i, this.counts[i]]);
    return { sparse, total: this.total, max: this.max, sum: this.sum };
  }

  /** Adds a histogram received as toJSON() output. */
  merge(json) {
    for (const [i, c] of json.sparse) this.counts[i] += c;
    this.total += json.total;
    this.sum += json.sum;
    if (json.max > this.max) this.max = json.max;
    return this;
  }
}

/** Ratio a/b, NaN when either side is missing or b is zero. */
export function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
