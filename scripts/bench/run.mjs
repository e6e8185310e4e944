#!/usr/bin/env node
// Benchmark driver: Outpost side by side with mosquitto and aedes on 127.0.0.1. Each scenario runs against
// each broker in alternation (A B C A B C ...) for several rounds, every run on a freshly started broker;
// the table shows medians and each broker's ratio to the baseline (Outpost). See scripts/bench/README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BROKERS, repoRoot, startBroker, unavailable, versions } from './brokers.mjs';
import { WorkerPool } from './lib/pool.mjs';
import { renderRanges, renderTable, summarize } from './report.mjs';
import { SCENARIOS } from './scenarios.mjs';

const USAGE = `usage: node scripts/bench/run.mjs [options]   (npm run bench -- [options])
  --rounds N          rounds per scenario and broker (default 3)
  --duration S        measured window in seconds (default 3)
  --warmup S          warm-up before the window in seconds (default 0.5; latency-qos1 takes at least 3)
  --scenarios a,b     scenarios to run (default: all but optional ones; --list shows them)
  --brokers a,b       brokers, in run order (default outpost,mosquitto,aedes)
  --baseline NAME     broker the ratios divide by (default outpost, else the first broker)
  --quick             1 round, 2 s windows, 0.3 s warm-up, the scenarios marked quick in --list,
                      1,000 idle connections, 5,000-message backlog (under a minute)
  --workers N         load-generator processes (default 3)
  --rate N            offered rate for latency-qos1 in msgs/s (default 2000)
  --idle-conns N      connections for idle-conns (default 10000)
  --backlog N         messages for backlog-qos1 (default 50000)
  --payload N         payload bytes (default 64, at least 12)
  --window N          QoS 1/2 inflight window per publisher (default 64)
  --out FILE          results JSON (default bench-results/<date>.json)
  --tmpdir DIR        where brokers' config and data dirs go (default the OS temp dir); the durable
                      scenarios measure fsync, so put it on the disk you care about, not tmpfs
  --list              list scenarios and exit`;

let parsed;
try {
  parsed = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      scenarios: { type: 'string' },
      brokers: { type: 'string' },
      baseline: { type: 'string' },
      quick: { type: 'boolean', default: false },
      workers: { type: 'string' },
      rate: { type: 'string' },
      'idle-conns': { type: 'string' },
      backlog: { type: 'string' },
      payload: { type: 'string' },
      window: { type: 'string' },
      out: { type: 'string' },
      tmpdir: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
const a = parsed.values;

if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
if (a.list) {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(16)} ${s.title}${s.optional ? '  [optional]' : ''}${s.quick ? '  [quick]' : ''}`);
  process.exit(0);
}

const num = (v, d, name) => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, got ${v}`);
    process.exit(2);
  }
  return n;
};

const quick = a.quick;
const opts = {
  rounds: Math.round(num(a.rounds, quick ? 1 : 3, 'rounds')),
  durationMs: num(a.duration, quick ? 2 : 3, 'duration') * 1000,
  warmupMs: num(a.warmup, quick ? 0.3 : 0.5, 'warmup') * 1000,
  workers: Math.round(num(a.workers, 3, 'workers')),
  rate: num(a.rate, 2000, 'rate'),
  idleConns: Math.round(num(a['idle-conns'], quick ? 1000 : 10_000, 'idle-conns')),
  backlog: Math.round(num(a.backlog, quick ? 5000 : 50_000, 'backlog')),
  payload: Math.max(12, Math.round(num(a.payload, 64, 'payload'))),
  window: Math.round(num(a.window, 64, 'window')),
  backlogTimeoutMs: 120_000,
  tmpRoot: a.tmpdir ?? os.tmpdir(),
};

const brokers = (a.brokers ?? BROKERS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const b of brokers) {
  if (!BROKERS.includes(b)) {
    console.error(`unknown broker ${b}; known: ${BROKERS.join(', ')}`);
    process.exit(2);
  }
}
const defaults = SCENARIOS.filter((s) => !s.optional && (!quick || s.quick));
const names = a.scenarios ? a.scenarios.split(',').map((s) => s.trim()).filter(Boolean) : defaults.map((s) => s.name);
const scenarios = names.map((n) => {
  const s = SCENARIOS.find((x) => x.name === n);
  if (!s) {
    console.error(`unknown scenario ${n}; --list shows them`);
    process.exit(2);
  }
  return s;
});
const baseline = a.baseline ?? (brokers.includes('outpost') ? 'outpost' : brokers[0]);

/** Soft and hard open-file limits of this process, from /proc/self/limits. */
function fdLimits() {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const n = (x) => (x === 'unlimited' ? Infinity : Number(x));
  return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: 1024, hard: 1024 };
}

// The workers inherit our open-file limit and each holds its share of the idle connections. Node cannot raise
// its own limit, so re-run the driver under bash with `ulimit -n` set to the hard limit when the soft one is short.
const needFds = Math.ceil(opts.idleConns / opts.workers) + 1024;
const lim = fdLimits();
if (lim.soft < needFds && lim.hard > lim.soft && !process.env.OUTPOST_BENCH_REEXEC) {
  const r = spawnSync('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'bash', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, OUTPOST_BENCH_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}
if (lim.soft < needFds && scenarios.some((s) => s.name === 'idle-conns')) {
  console.warn(`warning: open-file limit ${lim.soft} is below the ${needFds} each worker may need; idle-conns may fail to connect`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function withTimeout(p, ms, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const skipped = Object.fromEntries(brokers.map((b) => [b, unavailable(b)]));
for (const [b, why] of Object.entries(skipped)) if (why) console.warn(`skipping ${b}: ${why}`);

// statfs(2) f_type of tmpfs: fsync there is free, which would flatter the durable scenarios.
const TMPFS_MAGIC = 0x01021994;
let tmpFs = 'unknown';
try {
  tmpFs = statfsSync(opts.tmpRoot).type === TMPFS_MAGIC ? 'tmpfs' : 'disk';
} catch {
  // statfs unsupported here: leave it unknown.
}
if (tmpFs === 'tmpfs' && scenarios.some((s) => s.name.startsWith('durable-'))) {
  console.warn(`warning: ${opts.tmpRoot} is tmpfs, so fsync costs nothing there; use --tmpdir on a disk for durable-*`);
}

const started = new Date();
const loadBefore = os.loadavg();
// Other work on the machine skews every number; say so up front rather than let it pass as a result.
if (loadBefore[0] > os.cpus().length) {
  console.warn(`warning: load average ${loadBefore[0].toFixed(1)} on ${os.cpus().length} CPUs; results will be noisy`);
}
console.log(
  `bench: ${scenarios.length} scenarios x ${brokers.length} brokers x ${opts.rounds} rounds, ` +
    `${opts.durationMs / 1000} s windows, ${opts.workers} load workers, ${os.cpus().length} CPUs`,
);

const pool = new WorkerPool(opts.workers);
const runs = [];
const t0 = Date.now();
try {
  for (const s of scenarios) {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const b of brokers) {
        const tag = `[${s.name} r${round} ${b}]`;
        if (skipped[b]) {
          runs.push({ scenario: s.name, broker: b, round, status: 'skip', reason: skipped[b] });
          continue;
        }
        const na = s.supports(b);
        if (na) {
          runs.push({ scenario: s.name, broker: b, round, status: 'na', reason: na });
          continue;
        }
        let broker;
        let upstream;
        const began = Date.now();
        let rec;
        let last = began;
        const phases = {};
        const phase = (name) => {
          const now = Date.now();
          phases[name] = now - last;
          last = now;
        };
        try {
          // A scenario with an upstream (bridges) gets its own mosquitto, started first so its port can go
          // into the config of the broker under test; it is not measured.
          if (s.upstream) upstream = await startBroker('mosquitto', { tmpRoot: opts.tmpRoot });
          broker = await startBroker(b, { ...(s.brokerOptions?.(b, { upstreamPort: upstream?.port }) ?? {}), tmpRoot: opts.tmpRoot });
          phase('started');
          const limit = opts.warmupMs + opts.durationMs + (s.name === 'backlog-qos1' ? 2 * opts.backlogTimeoutMs : 90_000);
          const metrics = await withTimeout(s.run({ broker, pool, opts, upstream }), limit, s.name);
          phase('ran');
          rec = { scenario: s.name, broker: b, round, status: 'ok', readyMs: broker.readyMs, metrics };
          console.log(`${tag} ${s.metrics.map((m) => `${m.label} ${fmtShort(metrics[m.key])}`).join(', ')}`);
        } catch (err) {
          const reason = String(err?.message ?? err);
          rec = { scenario: s.name, broker: b, round, status: 'error', reason, logs: broker?.logs().slice(-2000) };
          console.log(`${tag} error: ${reason}`);
        } finally {
          await pool.reset().catch(() => {});
          phase('reset');
          await broker?.stop(process.env.OUTPOST_BENCH_NODE_ARGS ? "SIGTERM" : undefined);
          await upstream?.stop();
          phase('stopped');
        }
        // Wall time of the whole run, broker start and stop included, to budget --duration against.
        rec.wallMs = Date.now() - began;
        rec.phasesMs = phases;
        runs.push(rec);
      }
    }
  }
} finally {
  pool.close();
}

function fmtShort(v) {
  return typeof v === 'number' && Number.isFinite(v) ? Number(v.toPrecision(4)).toLocaleString('en-US') : String(v);
}

const rows = summarize(scenarios, brokers, runs, baseline);
const elapsed = (Date.now() - t0) / 1000;
console.log('');
console.log(`medians over ${opts.rounds} round(s); ratios = broker / ${baseline}; (+) higher is better, (-) lower is better`);
console.log(renderTable(rows, brokers, baseline));
if (opts.rounds > 1) {
  const ranges = renderRanges(rows, brokers, baseline);
  if (ranges) console.log(`\nratio to ${baseline} within single rounds, lowest-highest (first metric of each scenario):\n${ranges}`);
}
for (const s of scenarios) {
  const why = [...new Set(runs.filter((r) => r.scenario === s.name && r.status === 'na').map((r) => `${r.broker}: ${r.reason}`))];
  if (why.length) console.log(`n/a in ${s.name}: ${why.join('; ')}`);
}

const out = a.out ?? join(repoRoot, 'bench-results', `${started.toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      started: started.toISOString(),
      elapsedSeconds: elapsed,
      host: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGiB: os.totalmem() / 2 ** 30,
        kernel: os.release(),
        tmpdir: opts.tmpRoot,
        tmpdirFs: tmpFs,
        loadavgBefore: loadBefore,
        loadavgAfter: os.loadavg(),
      },
      versions: versions(),
      options: { ...opts, brokers, scenarios: names, baseline },
      summary: rows,
      runs,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nresults: ${out} (${elapsed.toFixed(0)} s)`);
const failed = runs.filter((r) => r.status === 'error').length;
if (failed > 0) console.log(`${failed} run(s) failed; see "runs" in the results file`);
