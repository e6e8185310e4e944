import { describe, expect, it } from 'vitest';
import { decodeTlv, encodeTlv } from '../../../../gateways/lwm2m/tlv.js';
import type { Lwm2mResource } from '../../../../gateways/lwm2m/model.js';
import type { Lwm2mErrorCode } from '../../../../gateways/lwm2m/errors.js';
import { bool, DEVICE_3_0, DEVICE_3_0_TLV, flt, hex, int, objlnk, raw, str, time, types } from './fixtures.js';

interface Row {
  readonly name: string;
  readonly path: string;
  readonly bytes: Buffer;
  readonly model: Lwm2mResource[];
}

const LONG = 'x'.repeat(300);

const table: Row[] = [
  { name: 'Device /3/0 read (1.0 §6.4.3.1 example)', path: '/3/0', bytes: DEVICE_3_0_TLV, model: DEVICE_3_0 },
  { name: 'single resource /3/0/0 (§6.4.3.1)', path: '/3/0/0', bytes: hex('C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65'), model: [str('/3/0/0', 'Open Mobile Alliance')] },
  { name: 'multiple resource /3/0/6 (§6.4.3.1)', path: '/3/0/6', bytes: hex('86 06 41 00 01 41 01 05'), model: [int('/3/0/6/0', 1), int('/3/0/6/1', 5)] },
  { name: 'resource instance /3/0/6/1', path: '/3/0/6/1', bytes: hex('41 01 05'), model: [int('/3/0/6/1', 5)] },
  {
    name: 'object /2 with two Access Control instances (§6.4.3.3 example)',
    path: '/2',
    bytes: hex('08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F 08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F'),
    model: [int('/2/0/0', 1), int('/2/0/1', 0), int('/2/0/2/127', 7), int('/2/0/3', 127), int('/2/2/0', 3), int('/2/2/1', 0), int('/2/2/2/127', 7), int('/2/2/2/310', 1), int('/2/2/3', 127)],
  },
  { name: 'EMQX read example C.3', path: '/3/0', bytes: hex('C4 00 41 43 4D 45 C1 09 5F'), model: [str('/3/0/0', 'ACME'), int('/3/0/9', 95)] },
  { name: 'EMQX write example C.5 (/1/0/1 = 300)', path: '/1/0/1', bytes: hex('C2 01 01 2C'), model: [int('/1/0/1', 300)] },
  { name: 'EMQX create example C.8 (unknown object passes through raw)', path: '/31024', bytes: hex('04 00 C2 01 68 69'), model: [raw('/31024/0/1', '6869')] },
  { name: 'integer, 1 byte negative', path: '/3/0/9', bytes: hex('C1 09 FF'), model: [int('/3/0/9', -1)] },
  { name: 'integer, 2 bytes', path: '/3/0/9', bytes: hex('C2 09 0E D8'), model: [int('/3/0/9', 3800)] },
  { name: 'integer, 4 bytes', path: '/3/0/10', bytes: hex('C4 0A 12 34 56 78'), model: [int('/3/0/10', 0x12345678)] },
  { name: 'integer, 8 bytes', path: '/3/0/10', bytes: hex('C8 0A 08 7F FF FF FF FF FF FF FF'), model: [int('/3/0/10', 2n ** 63n - 1n)] },
  { name: 'integer, 8 bytes negative', path: '/3/0/10', bytes: hex('C8 0A 08 80 00 00 00 00 00 00 00'), model: [int('/3/0/10', -(2n ** 63n))] },
  { name: 'time', path: '/3/0/13', bytes: hex('C4 0D 51 82 42 8F'), model: [time('/3/0/13', 1367491215)] },
  { name: 'float, 4 bytes', path: '/6/0/0', bytes: hex('C4 00 3F C0 00 00'), model: [flt('/6/0/0', 1.5)] },
  { name: 'float, 8 bytes', path: '/6/0/0', bytes: hex('C8 00 08 3F B9 99 99 99 99 99 9A'), model: [flt('/6/0/0', 0.1)] },
  { name: 'boolean with a 16-bit resource id', path: '/3311/0/5850', bytes: hex('E1 16 DA 01'), model: [bool('/3311/0/5850', true)] },
  { name: 'objlnk in a multiple resource', path: '/3/0/22', bytes: hex('86 16 44 00 00 04 00 00'), model: [objlnk('/3/0/22/0', 4, 0)] },
  { name: 'opaque', path: '/6/0/4', bytes: hex('C3 04 01 02 FF'), model: [{ path: '/6/0/4', value: { kind: 'opaque', value: hex('0102FF') } }] },
  { name: 'empty string', path: '/3/0/14', bytes: hex('C0 0E'), model: [str('/3/0/14', '')] },
  { name: '16-bit length', path: '/3/0/0', bytes: Buffer.concat([hex('D0 00 01 2C'), Buffer.from(LONG)]), model: [str('/3/0/0', LONG)] },
  { name: 'empty payload', path: '/3/0', bytes: Buffer.alloc(0), model: [] },
];

describe('TLV (11542) table [LwM2M 1.0 §6.4.3]', () => {
  for (const row of table) {
    it(`decodes ${row.name}`, () => {
      expect(decodeTlv(row.bytes, row.path, types)).toEqual({ kind: 'ok', value: row.model });
    });
    it(`encodes ${row.name}`, () => {
      expect(encodeTlv(row.model, row.path)).toEqual({ kind: 'ok', value: row.bytes });
    });
    it(`round-trips ${row.name}`, () => {
      const enc = encodeTlv(row.model, row.path);
      expect(enc.kind).toBe('ok');
      if (enc.kind !== 'ok') return;
      expect(decodeTlv(enc.value, row.path, types)).toEqual({ kind: 'ok', value: row.model });
    });
  }

  it('decodes non-minimal integer forms to the same value (4-byte 100)', () => {
    expect(decodeTlv(hex('C4 09 00 00 00 64'), '/3/0', types)).toEqual({ kind: 'ok', value: [int('/3/0/9', 100)] });
  });

  it('decodes an 8-bit length field for a length that fits the type byte', () => {
    expect(decodeTlv(hex('88 16 06 44 00 00 04 00 00'), '/3/0/22', types)).toEqual({ kind: 'ok', value: [objlnk('/3/0/22/0', 4, 0)] });
  });

  it('a read of /3 wraps the instance: object instance 0 around the device resources', () => {
    const enc = encodeTlv(DEVICE_3_0, '/3');
    expect(enc.kind).toBe('ok');
    if (enc.kind !== 'ok') return;
    expect(enc.value.subarray(0, 3)).toEqual(hex(`08 00 ${DEVICE_3_0_TLV.length.toString(16)}`));
    expect(enc.value.subarray(3)).toEqual(DEVICE_3_0_TLV);
    expect(decodeTlv(enc.value, '/3', types)).toEqual({ kind: 'ok', value: DEVICE_3_0 });
  });

  it('groups resource instances that arrive apart into one multiple resource', () => {
    const enc = encodeTlv([int('/3/0/6/0', 1), int('/3/0/9', 100), int('/3/0/6/1', 5)], '/3/0');
    expect(enc).toEqual({ kind: 'ok', value: hex('86 06 41 00 01 41 01 05 C1 09 64') });
  });
});

const errors: { name: string; path: string; bytes: Buffer; code: Lwm2mErrorCode }[] = [
  { name: 'header cut after the type byte', path: '/3/0', bytes: hex('C8'), code: 'OUTPOST_ERR_LWM2M_TRUNCATED' },
  { name: 'value shorter than its length', path: '/3/0', bytes: hex('C4 00 41'), code: 'OUTPOST_ERR_LWM2M_TRUNCATED' },
  { name: '16-bit id cut', path: '/3/0', bytes: hex('E1 16'), code: 'OUTPOST_ERR_LWM2M_TRUNCATED' },
  { name: 'length bits set beside a length field', path: '/3/0', bytes: hex('C9 00 01 41'), code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' },
  { name: 'Integer of 3 bytes', path: '/3/0', bytes: hex('C3 09 00 00 01'), code: 'OUTPOST_ERR_LWM2M_BAD_LENGTH' },
  { name: 'Float of 3 bytes', path: '/6/0', bytes: hex('C3 00 00 00 00'), code: 'OUTPOST_ERR_LWM2M_BAD_LENGTH' },
  { name: 'Boolean byte 2', path: '/3311/0', bytes: hex('E1 16 DA 02'), code: 'OUTPOST_ERR_LWM2M_BAD_VALUE' },
  { name: 'Objlnk of 2 bytes', path: '/3/0/22', bytes: hex('42 00 00 04'), code: 'OUTPOST_ERR_LWM2M_BAD_LENGTH' },
  { name: 'object instance under an instance path', path: '/3/0', bytes: hex('08 00 00'), code: 'OUTPOST_ERR_LWM2M_BAD_STRUCTURE' },
  { name: 'resource inside a multiple resource', path: '/3/0', bytes: hex('82 06 C0 00'), code: 'OUTPOST_ERR_LWM2M_BAD_STRUCTURE' },
  { name: 'other resource in a single-resource read', path: '/3/0/1', bytes: hex('C1 09 64'), code: 'OUTPOST_ERR_LWM2M_BAD_STRUCTURE' },
  { name: 'resource directly under an object path', path: '/3', bytes: hex('C1 09 64'), code: 'OUTPOST_ERR_LWM2M_BAD_STRUCTURE' },
  { name: 'resource instance under an instance path', path: '/3/0', bytes: hex('41 00 01'), code: 'OUTPOST_ERR_LWM2M_BAD_STRUCTURE' },
  { name: 'a base path that is not a path', path: '/3/x', bytes: hex('C1 09 64'), code: 'OUTPOST_ERR_LWM2M_BAD_PATH' },
  { name: 'the root path', path: '/', bytes: hex('C1 09 64'), code: 'OUTPOST_ERR_LWM2M_BAD_PATH' },
];

describe('TLV errors', () => {
  for (const row of errors) {
    it(`rejects ${row.name} with ${row.code}`, () => {
      expect(decodeTlv(row.bytes, row.path, types)).toMatchObject({ kind: 'error', code: row.code });
    });
  }

  it('refuses to encode a resource outside the request path', () => {
    expect(encodeTlv([int('/3/0/9', 1)], '/4/0')).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_NOT_ENCODABLE' });
  });

  it('refuses a path that is both a single and a multiple resource', () => {
    expect(encodeTlv([int('/3/0/6', 1), int('/3/0/6/0', 1)], '/3/0')).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_NOT_ENCODABLE' });
  });

  it('refuses two instances under an instance path', () => {
    expect(encodeTlv([int('/3/0/9', 1), int('/3/1/9', 1)], '/3/0')).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_NOT_ENCODABLE' });
  });
});
