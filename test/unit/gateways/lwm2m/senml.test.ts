import { describe, expect, it } from 'vitest';
import { decodeSenmlJson, encodeSenmlJson } from '../../../../gateways/lwm2m/senml-json.js';
import { decodeSenmlCbor, encodeSenmlCbor } from '../../../../gateways/lwm2m/senml-cbor.js';
import type { Lwm2mResource } from '../../../../gateways/lwm2m/model.js';
import type { Lwm2mErrorCode } from '../../../../gateways/lwm2m/errors.js';
import { bool, compact, DEVICE_3_0, DEVICE_3_0_SENML_PRETTY, flt, hex, int, objlnk, opaque, str, types } from './fixtures.js';

const jsonTable: { name: string; path: string; bytes: Buffer; model: Lwm2mResource[] }[] = [
  { name: 'Device /3/0 read (1.1 Core §7.4.4 example)', path: '/3/0', bytes: compact(DEVICE_3_0_SENML_PRETTY), model: DEVICE_3_0 },
  { name: 'single resource', path: '/3/0/0', bytes: Buffer.from('[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]'), model: [str('/3/0/0', 'Open Mobile Alliance')] },
  { name: 'opaque as base64url in vd (RFC 8428 §5)', path: '/6/0/4', bytes: Buffer.from('[{"bn":"/6/0/4","vd":"AQID_w"}]'), model: [opaque('/6/0/4', '010203FF')] },
  { name: 'objlnk in vlo', path: '/3/0/22', bytes: Buffer.from('[{"bn":"/3/0/22/","n":"0","vlo":"4:0"}]'), model: [objlnk('/3/0/22/0', 4, 0)] },
  { name: 'boolean', path: '/3311/0/5850', bytes: Buffer.from('[{"bn":"/3311/0/5850","vb":false}]'), model: [bool('/3311/0/5850', false)] },
  { name: 'float with a time', path: '/3303/0/5700', bytes: Buffer.from('[{"bn":"/3303/0/5700","v":23.5,"t":1700000000}]'), model: [{ ...flt('/3303/0/5700', 23.5), time: 1700000000 }] },
  { name: 'two instances', path: '/3303', bytes: Buffer.from('[{"bn":"/3303/","n":"0/5700","v":21.5},{"n":"1/5700","v":-3.5}]'), model: [flt('/3303/0/5700', 21.5), flt('/3303/1/5700', -3.5)] },
];

describe('SenML JSON (110) table [LwM2M 1.1 Core §7.4.4, RFC 8428]', () => {
  for (const row of jsonTable) {
    it(`decodes ${row.name}`, () => {
      expect(decodeSenmlJson(row.bytes, types)).toEqual({ kind: 'ok', value: row.model });
    });
    it(`encodes ${row.name}`, () => {
      expect(encodeSenmlJson(row.model, row.path)).toEqual({ kind: 'ok', value: row.bytes });
    });
    it(`round-trips ${row.name}`, () => {
      const enc = encodeSenmlJson(row.model, row.path);
      expect(enc.kind === 'ok' && decodeSenmlJson(enc.value, types)).toEqual({ kind: 'ok', value: row.model });
    });
  }

  it('decodes the example as printed in the spec', () => {
    expect(decodeSenmlJson(Buffer.from(DEVICE_3_0_SENML_PRETTY), types)).toEqual({ kind: 'ok', value: DEVICE_3_0 });
  });

  it('carries bn and bt forward until a record changes them (RFC 8428 §4.5)', () => {
    const r = decodeSenmlJson(Buffer.from('[{"bn":"/3303/0/","bt":1000,"n":"5700","v":21},{"n":"5700","v":22,"t":60},{"bn":"/3304/0/","n":"5700","v":40}]'), types);
    expect(r).toEqual({
      kind: 'ok',
      value: [
        { ...flt('/3303/0/5700', 21), time: 1000 },
        { ...flt('/3303/0/5700', 22), time: 1060 },
        { ...flt('/3304/0/5700', 40), time: 1000 },
      ],
    });
  });

  it('accepts padded standard base64 in vd', () => {
    expect(decodeSenmlJson(Buffer.from('[{"bn":"/6/0/4","vd":"AQL/"}]'), types)).toEqual({ kind: 'ok', value: [opaque('/6/0/4', '0102FF')] });
  });

  const errors: { name: string; json: string; code: Lwm2mErrorCode }[] = [
    { name: 'not JSON', json: '[{', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'an object instead of an array', json: '{"bn":"/3/0/0"}', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'a record that is not an object', json: '["x"]', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'v as a string', json: '[{"bn":"/3/0/9","v":"1"}]', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'no value', json: '[{"bn":"/3/0/9"}]', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'two values', json: '[{"bn":"/3/0/9","v":1,"vb":true}]', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'vd that is not base64', json: '[{"bn":"/6/0/4","vd":"!!"}]', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'a name that is an instance', json: '[{"bn":"/3/0","v":1}]', code: 'OUTPOST_ERR_LWM2M_BAD_PATH' },
  ];
  for (const row of errors) {
    it(`rejects ${row.name} with ${row.code}`, () => {
      expect(decodeSenmlJson(Buffer.from(row.json), types)).toMatchObject({ kind: 'error', code: row.code });
    });
  }
});

// CBOR bytes built by hand from RFC 8949 and RFC 8428 Table 4 (bn -2 = 0x21, n 0, v 2, vs 3, vb 4, vd 8).
const cborTable: { name: string; path: string; bytes: Buffer; model: Lwm2mResource[] }[] = [
  { name: 'single string', path: '/3/0/0', bytes: hex('81 A2 21 66 2F332F302F30 03 64 41434D45'), model: [str('/3/0/0', 'ACME')] },
  {
    name: 'two records with a base name (EMQX example C.3 as SenML)',
    path: '/3/0',
    bytes: hex('82 A3 21 65 2F332F302F 00 61 30 03 64 41434D45 A2 00 61 39 02 18 5F'),
    model: [str('/3/0/0', 'ACME'), int('/3/0/9', 95)],
  },
  { name: 'float64', path: '/3303/0/5700', bytes: hex('81 A2 21 6C 2F333330332F302F35373030 02 FB 4037800000000000'), model: [flt('/3303/0/5700', 23.5)] },
  { name: 'boolean', path: '/3311/0/5850', bytes: hex('81 A2 21 6C 2F333331312F302F35383530 04 F5'), model: [bool('/3311/0/5850', true)] },
  { name: 'byte string', path: '/6/0/4', bytes: hex('81 A2 21 66 2F362F302F34 08 43 010203'), model: [opaque('/6/0/4', '010203')] },
  { name: 'objlnk under the text label vlo', path: '/3/0/22/0', bytes: hex('81 A2 21 69 2F332F302F32322F30 63 766C6F 63 343A30'), model: [objlnk('/3/0/22/0', 4, 0)] },
  { name: 'negative integer', path: '/3/0/7/0', bytes: hex('81 A2 21 68 2F332F302F372F30 02 24'), model: [int('/3/0/7/0', -5)] },
  { name: '64-bit integer beyond 2^53', path: '/3/0/10', bytes: hex('81 A2 21 67 2F332F302F3130 02 1B 0020000000000001'), model: [int('/3/0/10', 2n ** 53n + 1n)] },
];

describe('SenML CBOR (112) table [LwM2M 1.1 Core §7.4.5, RFC 8428 §6]', () => {
  for (const row of cborTable) {
    it(`decodes ${row.name}`, () => {
      expect(decodeSenmlCbor(row.bytes, types)).toEqual({ kind: 'ok', value: row.model });
    });
    it(`encodes ${row.name}`, () => {
      expect(encodeSenmlCbor(row.model, row.path)).toEqual({ kind: 'ok', value: row.bytes });
    });
    it(`round-trips ${row.name}`, () => {
      const enc = encodeSenmlCbor(row.model, row.path);
      expect(enc.kind === 'ok' && decodeSenmlCbor(enc.value, types)).toEqual({ kind: 'ok', value: row.model });
    });
  }

  it('leaves the input Buffer as it was (cbor-x caches a DataView on what it reads)', () => {
    const input = hex('81 A2 21 66 2F332F302F30 03 64 41434D45');
    decodeSenmlCbor(input, types);
    expect(Object.keys(input).filter((k) => !/^\d+$/.test(k))).toEqual([]);
  });

  it('round-trips the Device /3/0 example', () => {
    const enc = encodeSenmlCbor(DEVICE_3_0, '/3/0');
    expect(enc.kind === 'ok' && decodeSenmlCbor(enc.value, types)).toEqual({ kind: 'ok', value: DEVICE_3_0 });
  });

  it('decodes a half-precision float and ignores labels it does not use (bver -1)', () => {
    expect(decodeSenmlCbor(hex('81 A3 20 0A 21 6C 2F333330332F302F35373030 02 F9 4DE0'), types)).toEqual({ kind: 'ok', value: [flt('/3303/0/5700', 23.5)] });
  });

  const errors: { name: string; bytes: string; code: Lwm2mErrorCode }[] = [
    { name: 'a break byte alone', bytes: 'FF', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'a map instead of an array', bytes: 'A0', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'a record that is not a map', bytes: '81 01', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'a name that is an integer', bytes: '81 A1 00 01', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'no value', bytes: '81 A1 21 66 2F332F302F30', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'truncated input', bytes: '81 A2 21', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
    { name: 'an empty input', bytes: '', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  ];
  for (const row of errors) {
    it(`rejects ${row.name} with ${row.code}`, () => {
      expect(decodeSenmlCbor(hex(row.bytes), types)).toMatchObject({ kind: 'error', code: row.code });
    });
  }
});
