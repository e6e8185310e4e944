import { describe, expect, it } from 'vitest';
import { decodeLwm2mJson, encodeLwm2mJson } from '../../../../gateways/lwm2m/lwm2m-json.js';
import type { Lwm2mResource } from '../../../../gateways/lwm2m/model.js';
import type { Lwm2mErrorCode } from '../../../../gateways/lwm2m/errors.js';
import { bool, compact, DEVICE_3_0, DEVICE_3_0_JSON_PRETTY, flt, int, objlnk, opaque, str, types } from './fixtures.js';

const table: { name: string; path: string; bytes: Buffer; model: Lwm2mResource[] }[] = [
  { name: 'Device /3/0 read (1.0 §6.4.4 example)', path: '/3/0', bytes: compact(DEVICE_3_0_JSON_PRETTY), model: DEVICE_3_0 },
  { name: 'single resource', path: '/3/0/0', bytes: Buffer.from('{"bn":"/3/0/0","e":[{"sv":"Open Mobile Alliance"}]}'), model: [str('/3/0/0', 'Open Mobile Alliance')] },
  { name: 'boolean and integer', path: '/3311/0', bytes: Buffer.from('{"bn":"/3311/0/","e":[{"n":"5850","bv":true},{"n":"5851","v":50}]}'), model: [bool('/3311/0/5850', true), int('/3311/0/5851', 50)] },
  { name: 'float', path: '/3303/0/5700', bytes: Buffer.from('{"bn":"/3303/0/5700","e":[{"v":23.5}]}'), model: [flt('/3303/0/5700', 23.5)] },
  { name: 'opaque as base64 in sv (Table 21)', path: '/6/0/4', bytes: Buffer.from('{"bn":"/6/0/4","e":[{"sv":"AQL/"}]}'), model: [opaque('/6/0/4', '0102FF')] },
  { name: 'objlnk in ov', path: '/3/0/22', bytes: Buffer.from('{"bn":"/3/0/22/","e":[{"n":"0","ov":"4:0"}]}'), model: [objlnk('/3/0/22/0', 4, 0)] },
  { name: 'two instances of object 2', path: '/2', bytes: Buffer.from('{"bn":"/2/","e":[{"n":"0/0","v":1},{"n":"1/0","v":3}]}'), model: [int('/2/0/0', 1), int('/2/1/0', 3)] },
  { name: 'a timestamped value', path: '/3303/0/5700', bytes: Buffer.from('{"bn":"/3303/0/5700","e":[{"v":-4.25,"t":1700000000}]}'), model: [{ ...flt('/3303/0/5700', -4.25), time: 1700000000 }] },
  { name: 'a 64-bit integer keeps its digits', path: '/3/0/10', bytes: Buffer.from('{"bn":"/3/0/10","e":[{"v":9007199254740993}]}'), model: [int('/3/0/10', 9007199254740993n)] },
];

describe('LwM2M JSON (11543) table [LwM2M 1.0 §6.4.4]', () => {
  for (const row of table) {
    // JSON.parse rounds beyond 2^53, so that row only encodes (the model->JSON direction is exact).
    const exactOnParse = !row.name.includes('64-bit');
    if (exactOnParse) {
      it(`decodes ${row.name}`, () => {
        expect(decodeLwm2mJson(row.bytes, types)).toEqual({ kind: 'ok', value: row.model });
      });
      it(`round-trips ${row.name}`, () => {
        const enc = encodeLwm2mJson(row.model, row.path);
        expect(enc.kind === 'ok' && decodeLwm2mJson(enc.value, types)).toEqual({ kind: 'ok', value: row.model });
      });
    }
    it(`encodes ${row.name}`, () => {
      expect(encodeLwm2mJson(row.model, row.path)).toEqual({ kind: 'ok', value: row.bytes });
    });
  }

  it('decodes the example as printed in the spec (with whitespace)', () => {
    expect(decodeLwm2mJson(Buffer.from(DEVICE_3_0_JSON_PRETTY), types)).toEqual({ kind: 'ok', value: DEVICE_3_0 });
  });

  it('joins a base name without its trailing slash', () => {
    expect(decodeLwm2mJson(Buffer.from('{"bn":"/3/0","e":[{"n":"9","v":95}]}'), types)).toEqual({ kind: 'ok', value: [int('/3/0/9', 95)] });
  });

  it('adds bt to each t', () => {
    const r = decodeLwm2mJson(Buffer.from('{"bn":"/3303/0/5700","bt":1000,"e":[{"v":1.5,"t":5},{"v":2.5}]}'), types);
    expect(r).toEqual({ kind: 'ok', value: [{ ...flt('/3303/0/5700', 1.5), time: 1005 }, { ...flt('/3303/0/5700', 2.5), time: 1000 }] });
  });

  it('keeps the values of an unknown object with the kind the JSON gives them', () => {
    const r = decodeLwm2mJson(Buffer.from('{"bn":"/31024/0/","e":[{"n":"1","v":5},{"n":"2","v":0.5},{"n":"3","sv":"hi"},{"n":"4","bv":false}]}'), types);
    expect(r).toEqual({ kind: 'ok', value: [int('/31024/0/1', 5), flt('/31024/0/2', 0.5), str('/31024/0/3', 'hi'), bool('/31024/0/4', false)] });
  });

  it('omits bn when no base path is given', () => {
    expect(encodeLwm2mJson([int('/3/0/9', 1)])).toEqual({ kind: 'ok', value: Buffer.from('{"e":[{"n":"/3/0/9","v":1}]}') });
  });
});

const errors: { name: string; json: string; code: Lwm2mErrorCode }[] = [
  { name: 'not JSON', json: '{"bn":', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  { name: 'no e array', json: '{"bn":"/3/0/"}', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  { name: 'a top-level array', json: '[]', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  { name: 'bn not a string', json: '{"bn":3,"e":[]}', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  { name: 'an entry that is not an object', json: '{"e":[1]}', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  { name: 'v as a string', json: '{"bn":"/3/0/","e":[{"n":"9","v":"95"}]}', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  { name: 'two values in one entry', json: '{"bn":"/3/0/","e":[{"n":"9","v":95,"sv":"x"}]}', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  { name: 'no value', json: '{"bn":"/3/0/","e":[{"n":"9"}]}', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  { name: 'a fraction for an Integer resource', json: '{"bn":"/3/0/","e":[{"n":"9","v":1.5}]}', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  { name: 'a bad objlnk', json: '{"bn":"/3/0/","e":[{"n":"22/0","ov":"4-0"}]}', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  { name: 'a name that is not a resource path', json: '{"bn":"/3/","e":[{"n":"0","v":1}]}', code: 'OUTPOST_ERR_LWM2M_BAD_PATH' },
  { name: 'an id above 65535', json: '{"bn":"/3/0/","e":[{"n":"65536","v":1}]}', code: 'OUTPOST_ERR_LWM2M_BAD_PATH' },
];

describe('LwM2M JSON errors', () => {
  for (const row of errors) {
    it(`rejects ${row.name} with ${row.code}`, () => {
      expect(decodeLwm2mJson(Buffer.from(row.json), types)).toMatchObject({ kind: 'error', code: row.code });
    });
  }

  it('refuses to encode NaN (JSON has no such number)', () => {
    expect(encodeLwm2mJson([flt('/3303/0/5700', NaN)], '/3303/0/5700')).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_NOT_ENCODABLE' });
  });
});
