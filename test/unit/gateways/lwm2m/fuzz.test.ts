// Seeded random-input tests: every decoder returns a value (never throws) on arbitrary bytes, in
// bounded time, and whatever it accepts re-encodes to something that decodes to the same resources.

import { describe, expect, it } from 'vitest';
import { decodeTlv, encodeTlv } from '../../../../gateways/lwm2m/tlv.js';
import { decodeText, encodeText, decodeOpaque, encodeOpaque } from '../../../../gateways/lwm2m/text-plain.js';
import { decodeLwm2mJson, encodeLwm2mJson } from '../../../../gateways/lwm2m/lwm2m-json.js';
import { decodeSenmlJson, encodeSenmlJson } from '../../../../gateways/lwm2m/senml-json.js';
import { decodeSenmlCbor, encodeSenmlCbor } from '../../../../gateways/lwm2m/senml-cbor.js';
import { formatLinks, parseLinks } from '../../../../gateways/lwm2m/link-format.js';
import { parseObjectXml } from '../../../../gateways/lwm2m/object-model.js';
import type { Lwm2mResource } from '../../../../gateways/lwm2m/model.js';
import type { Result } from '../../../../gateways/lwm2m/errors.js';
import { compact, DEVICE_3_0, DEVICE_3_0_JSON_PRETTY, DEVICE_3_0_SENML_PRETTY, DEVICE_3_0_TLV, hex, prng, types } from './fixtures.js';

const INPUTS = 20_000;
// Generous for a loaded 2-core machine; a hang or a super-linear path would blow far past it.
const BUDGET_MS = 20_000;

function inputs(seed: number, seeds: readonly Buffer[]): Buffer[] {
  const rnd = prng(seed);
  const byte = () => Math.floor(rnd() * 256);
  const out: Buffer[] = [];
  for (let n = 0; n < INPUTS; n++) {
    if (n % 2 === 0 || seeds.length === 0) {
      out.push(Buffer.from(Array.from({ length: Math.floor(rnd() * 48) }, byte)));
      continue;
    }
    // Mutate a valid vector: flips, inserts, deletes and a truncation reach past the first byte.
    const b = [...seeds[Math.floor(rnd() * seeds.length)]!];
    const edits = 1 + Math.floor(rnd() * 4);
    for (let e = 0; e < edits && b.length > 0; e++) {
      const at = Math.floor(rnd() * b.length);
      const op = rnd();
      if (op < 0.5) b[at] = byte();
      else if (op < 0.7) b.splice(at, 0, byte());
      else if (op < 0.9) b.splice(at, 1);
      else b.length = at;
    }
    out.push(Buffer.from(b));
  }
  return out;
}

/** Order-free comparison key: encoders group by resource, and -0/0 need not survive every format. */
function key(rs: readonly Lwm2mResource[]): string[] {
  return rs
    .map((r) => JSON.stringify({ ...r, value: r.value }, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' && Object.is(v, -0) ? 0 : v)).replace(/"kind":"raw"/g, '"kind":"opaque"'))
    .sort();
}

interface Codec {
  readonly name: string;
  readonly seed: number;
  readonly seeds: Buffer[];
  readonly path: (n: number) => string;
  decode(buf: Buffer, path: string): Result<Lwm2mResource[]>;
  encode(rs: Lwm2mResource[], path: string): Result<Buffer>;
}

const PATHS = ['/3', '/3/0', '/3/0/6', '/3/0/6/1', '/31024', '/31024/0', '/3303/0/5700'];

const codecs: Codec[] = [
  { name: 'TLV', seed: 11542, seeds: [DEVICE_3_0_TLV, hex('08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F'), hex('86 06 41 00 01 41 01 05')], path: (n) => PATHS[n % PATHS.length]!, decode: (b, p) => decodeTlv(b, p, types), encode: encodeTlv },
  { name: 'text/plain', seed: 0, seeds: [Buffer.from('95'), Buffer.from('23.5'), Buffer.from('4:0')], path: (n) => ['/3/0/9', '/3303/0/5700', '/3/0/22/0', '/3311/0/5850', '/6/0/4', '/3/0/0'][n % 6]!, decode: (b, p) => decodeText(b, p, types), encode: (rs) => encodeText(rs) },
  { name: 'opaque', seed: 42, seeds: [], path: () => '/5/0/0', decode: (b, p) => decodeOpaque(b, p), encode: (rs) => encodeOpaque(rs) },
  { name: 'LwM2M JSON', seed: 11543, seeds: [compact(DEVICE_3_0_JSON_PRETTY), Buffer.from('{"bn":"/6/0/","bt":5,"e":[{"n":"4","sv":"AQL/","t":1},{"n":"0","v":1.5}]}')], path: () => '/3/0', decode: (b) => decodeLwm2mJson(b, types), encode: (rs) => encodeLwm2mJson(rs) },
  { name: 'SenML JSON', seed: 110, seeds: [compact(DEVICE_3_0_SENML_PRETTY), Buffer.from('[{"bn":"/3/0/22/","n":"0","vlo":"4:0"},{"bn":"/6/0/4","vd":"AQID"}]')], path: () => '/3/0', decode: (b) => decodeSenmlJson(b, types), encode: (rs) => encodeSenmlJson(rs) },
  {
    name: 'SenML CBOR',
    seed: 112,
    seeds: [(() => { const e = encodeSenmlCbor(DEVICE_3_0, '/3/0'); return e.kind === 'ok' ? e.value : Buffer.alloc(0); })(), hex('81 A2 21 66 2F362F302F34 08 43 010203'), hex('81 A2 21 69 2F332F302F32322F30 63 766C6F 63 343A30')],
    path: () => '/3/0',
    decode: (b) => decodeSenmlCbor(b, types),
    encode: (rs) => encodeSenmlCbor(rs),
  },
];

describe('random inputs never make a codec throw or hang', () => {
  for (const c of codecs) {
    it(`${c.name}: ${INPUTS} seeded inputs (seed ${c.seed})`, () => {
      const all = inputs(c.seed, c.seeds);
      let accepted = 0;
      const start = performance.now();
      for (let n = 0; n < all.length; n++) {
        const path = c.path(n);
        const r = c.decode(all[n]!, path);
        expect(r.kind === 'ok' || r.kind === 'error').toBe(true);
        if (r.kind !== 'ok') continue;
        accepted++;
        const enc = c.encode(r.value, path);
        if (enc.kind !== 'ok') continue;
        const again = c.decode(enc.value, path);
        if (again.kind !== 'ok' || key(again.value).join() !== key(r.value).join()) {
          expect.fail(`${c.name} input ${all[n]!.toString('hex')} at ${path}: re-encoded ${enc.value.toString('hex')} decodes differently`);
        }
      }
      expect(performance.now() - start).toBeLessThan(BUDGET_MS);
      // The mutated vectors must reach the value decoders, not only the first syntax check.
      expect(accepted).toBeGreaterThan(c.name === 'opaque' ? INPUTS - 1 : 50);
    }, 60_000);
  }

  it(`link format: ${INPUTS} seeded inputs, and what parses re-parses the same after formatting`, () => {
    const all = inputs(40, [Buffer.from('</>;rt="oma.lwm2m";ct=11543,</1/0>;ssid=101,</3/0>;ver=1.1,</5>;title="a, b"')]);
    let accepted = 0;
    const start = performance.now();
    for (const b of all) {
      const r = parseLinks(b);
      if (r.kind !== 'ok') continue;
      accepted++;
      expect(parseLinks(formatLinks(r.value))).toEqual(r);
    }
    expect(performance.now() - start).toBeLessThan(BUDGET_MS);
    expect(accepted).toBeGreaterThan(50);
  }, 60_000);

  it('object XML: 2000 mutated definitions never throw', () => {
    const xml = Buffer.from('<LWM2M><Object><Name>T</Name><ObjectID>40000</ObjectID><MultipleInstances>Single</MultipleInstances><Resources><Item ID="0"><Name>a</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Float</Type></Item></Resources></Object></LWM2M>');
    const all = inputs(9000, [xml]).slice(0, 2000);
    let accepted = 0;
    for (const b of all) {
      const r = parseObjectXml(b.toString('latin1'));
      expect(r.kind === 'ok' || r.kind === 'error').toBe(true);
      if (r.kind === 'ok') accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
  }, 60_000);
});
