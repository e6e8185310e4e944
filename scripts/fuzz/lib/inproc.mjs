// The in-process loop: `count` inputs of one codec from `start`, timed one by one.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeInput } from './inputs.mjs';
import { CodecCrash, runTarget } from './targets.mjs';

const SAMPLES = 10;

// A full GC before each memory reading, so growth means retained memory (workers take no --expose-gc).
setFlagsFromString('--expose-gc');
const fullGc = globalThis.gc ?? runInNewContext('gc');

function gc() {
  fullGc();
  fullGc();
}

function mem() {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

/**
 * opts: { codec, seed, count, start = 0, hangMs = 250, progress?: Int32Array (slot 0 = index done) }.
 * Never throws for a codec fault: crashes and hangs are counted with the index that replays them.
 */
export function runInProcess(codecs, opts) {
  const { codec, seed, count, start = 0, hangMs = 250, progress = null } = opts;
  gc();
  const before = mem();
  const t0 = performance.now();
  const r = {
    codec, seed, start, count, inputs: 0, accepted: 0, refused: 0,
    crashes: 0, crashSamples: [], hangs: 0, hangSamples: [], slowestMs: 0, slowestIndex: -1,
    parserThrows: 0, parserThrowSamples: [], roundtripMismatches: 0, roundtripSamples: [],
    acceptedMalformed: {}, mutations: {},
  };
  for (let i = start; i < start + count; i++) {
    const input = makeInput(codecs, codec, seed, i);
    const kind = input.how.split(/[:+]/)[0] === 'struct' ? input.how.split(/[:+]/)[1] : input.how.split(':')[0];
    r.mutations[kind] = (r.mutations[kind] ?? 0) + 1;
    const s = performance.now();
    let out = null;
    try {
      out = runTarget(codecs, codec, input);
    } catch (e) {
      r.crashes++;
      if (r.crashSamples.length < SAMPLES) r.crashSamples.push({ index: i, where: e instanceof CodecCrash ? e.where : 'driver', message: String(e?.cause?.stack ?? e?.stack ?? e).split('\n').slice(0, 4).join(' | '), how: input.how, hex: input.bytes.subarray(0, 256).toString('hex') });
    }
    const ms = performance.now() - s;
    if (ms > r.slowestMs) {
      r.slowestMs = ms;
      r.slowestIndex = i;
    }
    if (ms > hangMs) {
      r.hangs++;
      if (r.hangSamples.length < SAMPLES) r.hangSamples.push({ index: i, ms: Math.round(ms), how: input.how });
    }
    r.inputs++;
    if (progress) Atomics.store(progress, 0, r.inputs);
    if (out === null) continue;
    if (out.accepted) r.accepted++;
    else r.refused++;
    if (out.parserThrew) {
      r.parserThrows++;
      if (r.parserThrowSamples.length < SAMPLES) r.parserThrowSamples.push({ index: i, message: String(out.parserThrew.message), how: input.how });
    }
    if (out.roundtrip) {
      r.roundtripMismatches++;
      if (r.roundtripSamples.length < SAMPLES) r.roundtripSamples.push({ index: i, what: out.roundtrip, how: input.how });
    }
    if (out.complete && input.malformed) {
      const a = (r.acceptedMalformed[input.malformed] ??= { count: 0, samples: [] });
      a.count++;
      if (a.samples.length < 3) a.samples.push(i);
    }
  }
  r.seconds = (performance.now() - t0) / 1000;
  r.rate = Math.round(r.inputs / r.seconds);
  gc();
  const after = mem();
  r.rssBefore = before.rss;
  r.rssAfter = after.rss;
  r.heapBefore = before.heapUsed;
  r.heapAfter = after.heapUsed;
  r.slowestMs = Math.round(r.slowestMs * 100) / 100;
  return r;
}
