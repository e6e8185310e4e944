#!/usr/bin/env node
// Seeded fuzzing of Outpost's codecs, in-process and against a live daemon. See scripts/fuzz/README.md.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadCodecs } from './lib/codecs.mjs';
import { CODECS, makeInput } from './lib/inputs.mjs';
import { runLive } from './lib/live.mjs';
import { runTarget } from './lib/targets.mjs';

const { values: a } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    count: { type: 'string', default: '1000000' },
    codecs: { type: 'string', default: CODECS.join(',') },
    'hang-ms': { type: 'string', default: '250' },
    'stall-s': { type: 'string', default: '10' },
    live: { type: 'string', default: 'mqtt=100000,coap=200000,mqttsn=200000,stomp=100000' },
    'live-start': { type: 'string', default: '0' },
    'no-live': { type: 'boolean', default: false },
    'no-inproc': { type: 'boolean', default: false },
    replay: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (a.help) {
  console.log(`usage: node scripts/fuzz/run.mjs [--seed N] [--count N] [--codecs mqtt,coap,mqttsn,stomp] [--hang-ms MS]
       [--live mqtt=N,coap=N,mqttsn=N,stomp=N [--live-start N] | --no-live] [--no-inproc] [--out FILE] [--json]
       node scripts/fuzz/run.mjs --replay CODEC:SEED:INDEX`);
  process.exit(0);
}

const codecs = await loadCodecs();

if (a.replay) {
  const [codec, seed, index] = a.replay.split(':');
  const input = makeInput(codecs, codec, Number(seed), Number(index));
  console.log(`input ${codec}:${seed}:${index} (${input.how}${input.v ? `, MQTT level ${input.v}` : ''}${input.malformed ? `, malformed: ${input.malformed}` : ''})`);
  console.log(`hex ${input.bytes.toString('hex')}`);
  const t0 = performance.now();
  try {
    const out = runTarget(codecs, codec, input);
    const packets = out.packets?.map((p) => (p.cmd ? JSON.stringify(p, (k, v) => (v?.type === 'Buffer' ? `<${v.data.length} bytes>` : v)) : JSON.stringify(p)));
    console.log(`${out.accepted ? 'accepted' : 'refused'} in ${(performance.now() - t0).toFixed(2)} ms${out.parserThrew ? `; mqtt-packet threw: ${out.parserThrew.message}` : ''}${out.roundtrip ? `; ${out.roundtrip}` : ''}`);
    for (const p of packets ?? []) console.log(`  ${p.slice(0, 600)}`);
  } catch (e) {
    console.log(`CRASH ${e.where ?? ''}`);
    console.log(e.cause?.stack ?? e.stack);
    process.exitCode = 1;
  }
  process.exit();
}

const seed = Number(a.seed);
const count = Number(a.count);
const hangMs = Number(a['hang-ms']);
const stallMs = Number(a['stall-s']) * 1000;

/** One codec in a worker; a worker stuck for stall-s on one input is a hang: stop it, go on after it. */
async function inproc(codec) {
  const parts = [];
  let start = 0;
  const stalls = [];
  while (start < count) {
    const sab = new SharedArrayBuffer(4);
    const progress = new Int32Array(sab);
    const w = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { codec, seed, count: count - start, start, hangMs, sab } });
    let last = -1;
    let lastChange = Date.now();
    const r = await new Promise((resolve, reject) => {
      const tick = setInterval(() => {
        const p = Atomics.load(progress, 0);
        if (p !== last) {
          last = p;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > stallMs) {
          clearInterval(tick);
          w.terminate();
          resolve({ stalledAt: start + p });
        }
      }, 500);
      w.once('message', (m) => (clearInterval(tick), resolve(m)));
      w.once('error', (e) => (clearInterval(tick), reject(e)));
    });
    if (r.stalledAt !== undefined) {
      stalls.push({ index: r.stalledAt, ms: stallMs });
      start = r.stalledAt + 1;
      continue;
    }
    // Inputs before `start` were run by workers stopped on a stall (their other findings are lost:
    // replay the stalled index, fix it, run again).
    r.inputs += start;
    parts.push(r);
    break;
  }
  const r = parts[0] ?? { codec, seed, inputs: count, crashes: 0, hangs: 0, hangSamples: [], crashSamples: [], acceptedMalformed: {} };
  r.start = 0;
  r.count = count;
  r.hangs += stalls.length;
  r.hangSamples = [...stalls, ...r.hangSamples].slice(0, 10);
  return r;
}

const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
const result = { seed, started: new Date().toISOString(), node: process.version, inproc: [], live: null };

if (!a['no-inproc']) {
  for (const codec of a.codecs.split(',')) {
    const r = await inproc(codec);
    result.inproc.push(r);
    const am = Object.entries(r.acceptedMalformed ?? {}).map(([k, v]) => `${k}: ${v.count} (e.g. ${codec}:${seed}:${v.samples[0]})`);
    console.log(
      `${codec.padEnd(7)} in-process ${r.inputs} inputs in ${r.seconds?.toFixed(1)} s (${r.rate}/s): crashes ${r.crashes}, hangs ${r.hangs} (> ${hangMs} ms; slowest ${r.slowestMs} ms), ` +
        `accepted ${r.accepted}, refused ${r.refused}; RSS ${mb(r.rssBefore)} -> ${mb(r.rssAfter)}, heap ${mb(r.heapBefore)} -> ${mb(r.heapAfter)}` +
        (r.parserThrows ? `; mqtt-packet threw ${r.parserThrows}x (caught by the channel)` : '') +
        (r.roundtripMismatches ? `; round-trip mismatches ${r.roundtripMismatches}` : ''),
    );
    for (const c of r.crashSamples) console.log(`  CRASH ${c.where} at ${codec}:${seed}:${c.index} (${c.how}): ${c.message}`);
    for (const h of r.hangSamples) console.log(`  HANG ${h.ms} ms at ${codec}:${seed}:${h.index}`);
    if (am.length) console.log(`  accepted although malformed: ${am.join('; ')}`);
  }
}

if (!a['no-live']) {
  const counts = Object.fromEntries(a.live.split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  const live = await runLive(codecs, { seed, counts, start: Number(a['live-start']), onProgress: (c, i) => process.stderr.write(`\r live ${c} ${i}   `) });
  process.stderr.write('\n');
  result.live = live;
  for (const r of live.codecs) {
    console.log(
      `${r.codec.padEnd(7)} live ${r.inputs} inputs in ${r.seconds.toFixed(1)} s: ` +
        (r.outcomes ? `${r.codec === 'stomp' ? `RECEIPT after input ${r.outcomes.receipt}` : `PINGRESP after input ${r.outcomes.pingresp}`}, closed by server ${r.outcomes.closed}, no answer in 2 s ${r.outcomes.no_answer}` : `liveness probes answered ${r.probes.answered}/${r.probes.sent} (${r.probes.answeredFirstTry} at the first try)`),
    );
  }
  const b = live.bystander;
  const dm = live.daemon;
  console.log(
    `daemon  pid ${live.pid} ${dm.alive ? 'alive' : 'DEAD'}; RSS ${dm.rssKbBefore} -> ${dm.rssKbAfter} kB (max ${dm.rssKbMax}); fds ${dm.fdsBefore} -> ${dm.fdsAfter}; error log lines ${dm.errorLogLines}`,
  );
  console.log(
    `bystander round trips ${b.answered}/${b.sent} answered, ${b.failed} failed (p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms, slowest ${b.maxMs} ms, ${b.over1s} over 1 s), connected at end: ${b.connectedAtEnd}; driver event-loop stall max ${live.driverLoopDelayMaxMs} ms`,
  );
}

const out = a.out ?? join(tmpdir(), `outpost-fuzz-${result.started.replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify(result, null, 2));
console.log(`JSON: ${out}`);
if (a.json) console.log(JSON.stringify(result));

const bad =
  result.inproc.some((r) => r.crashes > 0 || r.hangs > 0) ||
  (result.live && (!result.live.daemon.alive || result.live.bystander.failed > 0 || !result.live.bystander.connectedAtEnd || result.live.codecs.some((r) => r.probes && r.probes.answered !== r.probes.sent)));
process.exitCode = bad ? 1 : 0;
