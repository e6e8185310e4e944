// The driver's side of the load generators: forks worker.mjs processes and talks to them over IPC.
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './stats.mjs';

const workerPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'worker.mjs');

export class WorkerPool {
  /** Forks `size` load-generator processes. */
  constructor(size) {
    this.size = size;
    this.nextId = 1;
    this.pending = new Map();
    this.workers = Array.from({ length: size }, (_, i) => this.spawn(i));
  }

  spawn(i) {
    const w = fork(workerPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    w.on('message', (msg) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`worker ${i}: ${msg.error}`));
    });
    w.on('exit', (code, signal) => {
      for (const [id, p] of this.pending) {
        if (p.worker === i) {
          this.pending.delete(id);
          p.reject(new Error(`worker ${i} exited (${code ?? signal})`));
        }
      }
    });
    return w;
  }

  call(i, op, args = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const w = this.workers[i];
      if (!w.connected) {
        reject(new Error(`worker ${i} is gone`));
        return;
      }
      this.pending.set(id, { resolve, reject, worker: i });
      w.send({ id, op, args });
    });
  }

  all(op, args = {}) {
    return Promise.all(this.workers.map((_, i) => this.call(i, op, args)));
  }

  /** Counters of every worker, each with its own timestamp (rates are computed per worker, then added). */
  snapshot(latency = false) {
    return this.all('snapshot', { latency });
  }

  /** Drops every client and zeroes the counters, so a scenario starts clean; replaces a worker that died. */
  async reset() {
    this.workers.forEach((w, i) => {
      if (w.exitCode !== null || w.signalCode !== null) this.workers[i] = this.spawn(i);
    });
    await Promise.all(
      this.workers.map(async (_, i) => {
        for (const group of ['sub', 'pub', 'idle']) await this.call(i, 'disconnect', { group, hard: true });
        await this.call(i, 'resetCounters');
      }),
    );
  }

  close() {
    for (const w of this.workers) if (w.connected) w.disconnect();
  }
}

/**
 * Splits `count` clients over the given workers as evenly as possible: [{ w, n, indexBase }]. indexBase keeps
 * client indexes (and so client ids and topics) unique across workers.
 */
export function spread(count, workers) {
  const out = [];
  let base = 0;
  workers.forEach((w, k) => {
    const n = Math.floor(count / workers.length) + (k < count % workers.length ? 1 : 0);
    if (n > 0) out.push({ w, n, indexBase: base });
    base += n;
  });
  return out;
}

/** Adds per-worker rates between two snapshots: field delta / elapsed seconds, summed over workers. */
export function sumRates(before, after, field) {
  let rate = 0;
  let delta = 0;
  before.forEach((b, i) => {
    const a = after[i];
    const d = a[field] - b[field];
    const secs = (a.t - b.t) / 1e6;
    delta += d;
    if (secs > 0) rate += d / secs;
  });
  return { rate, delta };
}

/** Merges the latency histograms carried by snapshots. */
export function mergeHist(snaps) {
  const h = new LatencyHistogram();
  for (const s of snaps) if (s.hist) h.merge(s.hist);
  return h;
}
