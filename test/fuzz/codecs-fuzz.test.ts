// A short seeded run of scripts/fuzz (issue 15): the same generators and targets as `npm run fuzz`,
// 20,000 inputs per codec in-process and a few thousand against one live daemon with a bystander.
// Failures replay with `node scripts/fuzz/run.mjs --replay CODEC:SEED:INDEX`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without type declarations
import { loadCodecs } from '../../scripts/fuzz/lib/codecs.mjs';
// @ts-expect-error plain ESM script without type declarations
import { runInProcess } from '../../scripts/fuzz/lib/inproc.mjs';
// @ts-expect-error plain ESM script without type declarations
import { runLive } from '../../scripts/fuzz/lib/live.mjs';

const SEED = 20261205;
const PER_CODEC = 20_000;

interface InprocResult {
  inputs: number;
  accepted: number;
  refused: number;
  crashes: number;
  crashSamples: unknown[];
  hangs: number;
  hangSamples: unknown[];
  heapBefore: number;
  heapAfter: number;
  acceptedMalformed: Record<string, { count: number }>;
}

let codecs: unknown;
beforeAll(async () => {
  codecs = await loadCodecs();
});

describe('fuzz: codecs in-process (seeded)', () => {
  for (const codec of ['mqtt', 'coap', 'mqttsn', 'stomp']) {
    it(`${codec}: ${PER_CODEC} mutated inputs, no throw, none slower than 1 s`, () => {
      const r = runInProcess(codecs, { codec, seed: SEED, count: PER_CODEC, hangMs: 1000 }) as InprocResult;
      expect(r.inputs).toBe(PER_CODEC);
      expect(r.crashSamples).toEqual([]);
      expect(r.crashes).toBe(0);
      expect(r.hangSamples).toEqual([]);
      expect(r.hangs).toBe(0);
      // The inputs reach both outcomes: valid ones decode, broken ones are refused.
      expect(r.accepted).toBeGreaterThan(PER_CODEC / 20);
      expect(r.refused).toBeGreaterThan(PER_CODEC / 20);
      // Decoding keeps nothing: the heap after a full GC is within a few MB of where it started.
      expect(r.heapAfter - r.heapBefore).toBeLessThan(16 * 1024 * 1024);
    });
  }
});

describe('fuzz: live daemon with MQTT, CoAP, MQTT-SN and STOMP (seeded)', () => {
  let live: {
    codecs: { codec: string; inputs: number; outcomes?: Record<string, number>; probes?: { sent: number; answered: number } }[];
    daemon: { alive: boolean; fdsBefore: number; fdsAfter: number };
    bystander: { sent: number; answered: number; failed: number; connectedAtEnd: boolean };
  };
  afterAll(() => {
    if (live && live.bystander.failed > 0) console.error(JSON.stringify(live, null, 1));
  });

  it('survives a few thousand mutated inputs per protocol and answers every bystander round trip', async () => {
    live = await runLive(codecs, { seed: SEED, counts: { mqtt: 1500, coap: 2000, mqttsn: 2000, stomp: 1000 } });
    expect(live.daemon.alive).toBe(true);
    const byCodec = Object.fromEntries(live.codecs.map((c) => [c.codec, c]));
    expect(byCodec.mqtt!.inputs).toBe(1500);
    // Every MQTT input's connection ended (answered or closed by the server), none left hanging.
    expect(byCodec.mqtt!.outcomes!.no_answer).toBe(0);
    expect(byCodec.mqtt!.outcomes!.pingresp).toBeGreaterThan(0);
    expect(byCodec.mqtt!.outcomes!.closed).toBeGreaterThan(0);
    // Every STOMP input's connection ended too; some survive the fuzz bytes and answer the receipted probe.
    expect(byCodec.stomp!.inputs).toBe(1000);
    expect(byCodec.stomp!.outcomes!.no_answer).toBe(0);
    expect(byCodec.stomp!.outcomes!.receipt).toBeGreaterThan(0);
    expect(byCodec.stomp!.outcomes!.closed).toBeGreaterThan(0);
    for (const c of ['coap', 'mqttsn']) {
      expect(byCodec[c]!.probes!.sent).toBeGreaterThan(0);
      expect(byCodec[c]!.probes!.answered).toBe(byCodec[c]!.probes!.sent);
    }
    expect(live.bystander.sent).toBeGreaterThan(0);
    expect(live.bystander.failed).toBe(0);
    expect(live.bystander.answered).toBe(live.bystander.sent);
    expect(live.bystander.connectedAtEnd).toBe(true);
    // No descriptor leak: closed fuzz connections are gone (a few for timers/logs may come and go).
    expect(live.daemon.fdsAfter).toBeLessThanOrEqual(live.daemon.fdsBefore + 4);
  }, 60_000);
});
