// Seeded random resource lists, typed as the shipped object definitions say, survive encode then
// decode in every multi-value format.

import { describe, expect, it } from 'vitest';
import { decodeContent, encodeContent } from '../../../../gateways/lwm2m/content-format.js';
import type { Lwm2mResource, Lwm2mValue } from '../../../../gateways/lwm2m/model.js';
import { prng, sortByPath, types } from './fixtures.js';

const MODELS = 2_000;

type Gen = (r: () => number, jsonSafe: boolean) => Lwm2mValue;

const int64 = (r: () => number): bigint => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) - 2n ** 63n + BigInt(Math.floor(r() * 2 ** 32));
const safe = (r: () => number): bigint => BigInt(Math.floor((r() - 0.5) * 2 * Number.MAX_SAFE_INTEGER));
const integer: Gen = (r, j) => ({ kind: 'integer', value: r() < 0.5 ? BigInt(Math.floor((r() - 0.5) * 70000)) : j ? safe(r) : int64(r) });
const float: Gen = (r) => ({ kind: 'float', value: r() < 0.3 ? Math.fround((r() - 0.5) * 100) : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20) });
const text: Gen = (r) => ({ kind: 'string', value: Array.from({ length: Math.floor(r() * 12) }, () => String.fromCodePoint(32 + Math.floor(r() * (r() < 0.9 ? 95 : 2000)))).join('') });
const bytes: Gen = (r) => ({ kind: 'opaque', value: Buffer.from(Array.from({ length: Math.floor(r() * 20) }, () => Math.floor(r() * 256))) });

/** Resources of object 3 instance 0 and their generators, multi-instance ones with an instance id. */
const DEVICE: [string, Gen][] = [
  ['/3/0/0', text],
  ['/3/0/9', integer],
  ['/3/0/10', integer],
  ['/3/0/13', (r, j) => ({ kind: 'time', value: j ? safe(r) : int64(r) })],
  ['/3/0/14', text],
  ['/3/0/7/0', integer],
  ['/3/0/7/3', integer],
  ['/3/0/22/1', (r) => ({ kind: 'objlnk', objectId: Math.floor(r() * 65536), instanceId: Math.floor(r() * 65536) })],
];

function model(r: () => number, jsonSafe: boolean): Lwm2mResource[] {
  const out: Lwm2mResource[] = DEVICE.filter(() => r() < 0.6).map(([path, g]) => ({ path, value: g(r, jsonSafe) }));
  // Resources of other objects, for the formats that name full paths.
  if (jsonSafe) {
    if (r() < 0.5) out.push({ path: '/3303/1/5700', value: float(r, true) });
    if (r() < 0.5) out.push({ path: '/3311/0/5850', value: { kind: 'boolean', value: r() < 0.5 } });
    if (r() < 0.5) out.push({ path: '/6/0/4', value: bytes(r, true) });
  }
  return out;
}

describe('random typed models round-trip', () => {
  for (const [cf, name] of [
    [11542, 'TLV'],
    [11543, 'LwM2M JSON'],
    [110, 'SenML JSON'],
    [112, 'SenML CBOR'],
  ] as const) {
    it(`${name}: ${MODELS} seeded models`, () => {
      const r = prng(cf);
      // TLV carries only ids below the request path, so its models stay inside /3/0.
      const jsonSafe = cf !== 11542;
      for (let n = 0; n < MODELS; n++) {
        const m = model(r, jsonSafe);
        const path = cf === 11542 ? '/3/0' : '/';
        const enc = encodeContent(cf, m, path);
        expect(enc.kind).toBe('ok');
        if (enc.kind !== 'ok') continue;
        const dec = decodeContent(cf, enc.value, path, types);
        expect(dec.kind === 'ok' && sortByPath(dec.value), `model ${n}: ${enc.value.toString('hex')}`).toEqual(sortByPath(m));
      }
    }, 60_000);
  }
});
