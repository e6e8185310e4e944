import { describe, expect, it } from 'vitest';
import { decodeOpaque, decodeText, encodeOpaque, encodeText } from '../../../../gateways/lwm2m/text-plain.js';
import { decodeContent, encodeContent, isValueContentFormat } from '../../../../gateways/lwm2m/content-format.js';
import type { Lwm2mResource } from '../../../../gateways/lwm2m/model.js';
import type { Lwm2mErrorCode } from '../../../../gateways/lwm2m/errors.js';
import { bool, DEVICE_3_0, flt, hex, int, objlnk, opaque, str, time, types } from './fixtures.js';

const table: { name: string; path: string; text: string; model: Lwm2mResource[] }[] = [
  { name: 'String', path: '/3/0/0', text: 'ACME', model: [str('/3/0/0', 'ACME')] },
  { name: 'Integer (EMQX example C.10)', path: '/3/0/9', text: '95', model: [int('/3/0/9', 95)] },
  { name: 'negative Integer', path: '/3/0/7/0', text: '-12', model: [int('/3/0/7/0', -12)] },
  { name: 'Float', path: '/3303/0/5700', text: '23.5', model: [flt('/3303/0/5700', 23.5)] },
  { name: 'Boolean (1.0 §6.4.1: "1")', path: '/3311/0/5850', text: '1', model: [bool('/3311/0/5850', true)] },
  { name: 'Time', path: '/3/0/13', text: '1367491215', model: [time('/3/0/13', 1367491215)] },
  { name: 'Objlnk', path: '/3/0/22/0', text: '4:0', model: [objlnk('/3/0/22/0', 4, 0)] },
  { name: 'Opaque as base64 (1.1 Core §7.3.1)', path: '/6/0/4', text: 'AQL/', model: [opaque('/6/0/4', '0102FF')] },
  { name: 'an unknown object as a string', path: '/31024/0/1', text: 'hi', model: [str('/31024/0/1', 'hi')] },
];

describe('text/plain (0) table [LwM2M 1.0 §6.4.1]', () => {
  for (const row of table) {
    it(`decodes ${row.name}`, () => {
      expect(decodeText(Buffer.from(row.text), row.path, types)).toEqual({ kind: 'ok', value: row.model });
    });
    it(`encodes ${row.name}`, () => {
      expect(encodeText(row.model)).toEqual({ kind: 'ok', value: Buffer.from(row.text) });
    });
    it(`round-trips ${row.name}`, () => {
      const enc = encodeText(row.model);
      expect(enc.kind === 'ok' && decodeText(enc.value, row.path, types)).toEqual({ kind: 'ok', value: row.model });
    });
  }

  it('accepts "true"/"false" for a Boolean, as EMQX writes send them', () => {
    expect(decodeText(Buffer.from('false'), '/3311/0/5850', types)).toEqual({ kind: 'ok', value: [bool('/3311/0/5850', false)] });
  });

  const errors: { name: string; path: string; text: string; code: Lwm2mErrorCode }[] = [
    { name: 'an instance path', path: '/3/0', text: 'x', code: 'OUTPOST_ERR_LWM2M_BAD_PATH' },
    { name: 'letters for an Integer', path: '/3/0/9', text: 'abc', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'an Integer beyond int64', path: '/3/0/9', text: '9223372036854775808', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'Boolean "2"', path: '/3311/0/5850', text: '2', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'a Float with two points', path: '/3303/0/5700', text: '1.2.3', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
    { name: 'an Objlnk id above 65535', path: '/3/0/22/0', text: '70000:0', code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  ];
  for (const row of errors) {
    it(`rejects ${row.name} with ${row.code}`, () => {
      expect(decodeText(Buffer.from(row.text), row.path, types)).toMatchObject({ kind: 'error', code: row.code });
    });
  }

  it('refuses to encode two values', () => {
    expect(encodeText([int('/3/0/9', 1), int('/3/0/10', 2)])).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_NOT_ENCODABLE' });
  });
});

describe('opaque (42) [LwM2M 1.0 §6.4.2]', () => {
  it('decodes, encodes and round-trips a firmware chunk', () => {
    const bytes = hex('00 FF 10 20');
    const model = [opaque('/5/0/0', '00FF1020')];
    expect(decodeOpaque(bytes, '/5/0/0')).toEqual({ kind: 'ok', value: model });
    expect(encodeOpaque(model)).toEqual({ kind: 'ok', value: bytes });
  });

  it('rejects an object path and a non-opaque value', () => {
    expect(decodeOpaque(hex('00'), '/5')).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_BAD_PATH' });
    expect(encodeOpaque([str('/3/0/0', 'x')])).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_NOT_ENCODABLE' });
  });
});

describe('content-format dispatch', () => {
  it('decodes and encodes the Device object in every multi-value format', () => {
    for (const cf of [11542, 11543, 110, 112]) {
      const enc = encodeContent(cf, DEVICE_3_0, '/3/0');
      expect(enc.kind, `cf ${cf}`).toBe('ok');
      if (enc.kind !== 'ok') continue;
      expect(decodeContent(cf, enc.value, '/3/0', types), `cf ${cf}`).toEqual({ kind: 'ok', value: DEVICE_3_0 });
    }
  });

  it('answers an unknown format with an error value', () => {
    expect(isValueContentFormat(50)).toBe(false);
    expect(isValueContentFormat(11542)).toBe(true);
    expect(decodeContent(50, Buffer.from('{}'), '/3/0', types)).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_UNSUPPORTED_FORMAT' });
    expect(encodeContent(11544, DEVICE_3_0, '/3/0')).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_UNSUPPORTED_FORMAT' });
  });
});
