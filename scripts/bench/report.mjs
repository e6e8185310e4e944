// Turns raw run results into medians, ratios to the baseline broker, and a plain-text table.
import { median, ratio } from './lib/stats.mjs';

/** Formats a number for the table: integers with separators from 1,000 up, 3 significant digits below. */
export function fmt(v) {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return 'n/a';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v === 0) return '0';
  return Number(v.toPrecision(3)).toString();
}

/**
 * One row per (scenario, metric): the median over rounds per broker, or a marker when it did not run
 * ('n/a' unsupported, 'err' every round failed, 'skip' broker unavailable), and each broker's ratio to the
 * baseline (broker value / baseline value).
 * @param {Array<{ name: string, metrics: Array<{ key, label, better }> }>} scenarios
 * @param {string[]} brokers
 * @param {Array<{ scenario, broker, round, status: 'ok'|'na'|'error'|'skip', metrics?: object }>} runs
 * @param {string} baseline
 */
export function summarize(scenarios, brokers, runs, baseline) {
  const rows = [];
  for (const s of scenarios) {
    for (const m of s.metrics) {
      const values = {};
      for (const b of brokers) {
        const mine = runs.filter((r) => r.scenario === s.name && r.broker === b);
        const ok = mine.filter((r) => r.status === 'ok').map((r) => r.metrics[m.key]);
        if (ok.length > 0) values[b] = median(ok);
        else if (mine.some((r) => r.status === 'na')) values[b] = 'n/a';
        else if (mine.some((r) => r.status === 'skip')) values[b] = 'skip';
        else if (mine.length > 0) values[b] = 'err';
        else values[b] = 'n/a';
      }
      const ratios = {};
      const ranges = {};
      for (const b of brokers) {
        if (b === baseline) continue;
        const r = ratio(values[b], values[baseline]);
        ratios[b] = Number.isFinite(r) ? r : null;
        ranges[b] = roundRatioRange(runs, s.name, m.key, b, baseline);
      }
      rows.push({ scenario: s.name, metric: m.key, label: m.label, better: m.better, values, ratios, ranges });
    }
  }
  return rows;
}

/**
 * The lowest and highest ratio of broker to baseline within one round (both ran it), over all rounds; null
 * when no round has both. On shared cores the ratio of medians hides how far single rounds stray.
 */
function roundRatioRange(runs, scenario, key, broker, baseline) {
  const base = new Map();
  for (const r of runs) if (r.scenario === scenario && r.broker === baseline && r.status === 'ok') base.set(r.round, r.metrics[key]);
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of runs) {
    if (r.scenario !== scenario || r.broker !== broker || r.status !== 'ok' || !base.has(r.round)) continue;
    const q = ratio(r.metrics[key], base.get(r.round));
    if (!Number.isFinite(q)) continue;
    if (q < lo) lo = q;
    if (q > hi) hi = q;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** One line per scenario (its first metric): the per-round ratio range of each broker, when rounds > 1. */
export function renderRanges(rows, brokers, baseline) {
  const others = brokers.filter((b) => b !== baseline);
  const out = [];
  const seen = new Set();
  for (const r of rows) {
    if (seen.has(r.scenario)) continue;
    seen.add(r.scenario);
    const parts = others.filter((b) => r.ranges?.[b]).map((b) => `${b} ${fmt(r.ranges[b][0])}-${fmt(r.ranges[b][1])}x`);
    if (parts.length > 0) out.push(`${r.scenario} ${r.label}: ${parts.join(', ')}`);
  }
  return out.join('\n');
}

/** Renders summary rows as an aligned text table (plus a header naming the baseline). */
export function renderTable(rows, brokers, baseline) {
  const others = brokers.filter((b) => b !== baseline);
  const header = ['scenario', 'metric', ...brokers, ...others.map((b) => `${b}/${baseline}`)];
  const body = rows.map((r) => [
    r.scenario,
    `${r.label} ${r.better === 'higher' ? '(+)' : '(-)'}`,
    ...brokers.map((b) => fmt(r.values[b])),
    ...others.map((b) => (r.ratios[b] === null ? '-' : `${fmt(r.ratios[b])}x`)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  let prev = '';
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of body) {
    const shown = row[0] === prev ? ['', ...row.slice(1)] : row;
    prev = row[0];
    out.push(line(shown));
  }
  return out.join('\n');
}
