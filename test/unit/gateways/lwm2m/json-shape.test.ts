import { describe, expect, it } from 'vitest';
import {
  codeMsg,
  coapCodeText,
  fromEmqxValue,
  registrationEventData,
  responseData,
  toEmqxContent,
  toEmqxDiscoverContent,
  writeCommandResources,
} from '../../../../gateways/lwm2m/json-shape.js';
import { decodeTlv, encodeTlv } from '../../../../gateways/lwm2m/tlv.js';
import { decodeText } from '../../../../gateways/lwm2m/text-plain.js';
import { parseLinks, registrationLinks } from '../../../../gateways/lwm2m/link-format.js';
import { bool, flt, hex, int, objlnk, opaque, raw, str, time, types } from './fixtures.js';

describe('EMQX content arrays (spec B.4)', () => {
  it('maps the read of example C.3 to the published content', () => {
    const r = decodeTlv(hex('C4 00 41 43 4D 45 C1 09 5F'), '/3/0', types);
    expect(r.kind === 'ok' && toEmqxContent(r.value)).toEqual([
      { path: '/3/0/0', value: 'ACME' },
      { path: '/3/0/9', value: 95 },
    ]);
    const body = { reqID: 1, msgType: 'read', data: responseData('/3/0', '2.05', r.kind === 'ok' ? toEmqxContent(r.value) : []) };
    expect(JSON.parse(JSON.stringify(body))).toEqual({
      reqID: 1,
      msgType: 'read',
      data: { reqPath: '/3/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }, { path: '/3/0/9', value: 95 }] },
    });
  });

  it('types every value kind as EMQX does', () => {
    expect(
      toEmqxContent([
        str('/3/0/0', 'x'),
        int('/3/0/9', 95),
        time('/3/0/13', 1700000000),
        flt('/3303/0/5700', 23.5),
        bool('/3311/0/5850', true),
        opaque('/6/0/4', '0102FF'),
        objlnk('/3/0/22/0', 4, 0),
      ]),
    ).toEqual([
      { path: '/3/0/0', value: 'x' },
      { path: '/3/0/9', value: 95 },
      { path: '/3/0/13', value: 1700000000 },
      { path: '/3303/0/5700', value: 23.5 },
      { path: '/3311/0/5850', value: true },
      { path: '/6/0/4', value: 'AQL/' },
      { path: '/3/0/22/0', value: '4:0' },
    ]);
  });

  it('keeps the digits of an integer beyond 2^53 and passes untyped bytes through as base64', () => {
    expect(toEmqxContent([int('/3/0/10', 2n ** 60n), raw('/31024/0/1', '6869'), flt('/3303/0/5700', NaN)])).toEqual([
      { path: '/3/0/10', value: '1152921504606846976' },
      { path: '/31024/0/1', value: 'aGk=' },
      { path: '/3303/0/5700', value: 'NaN' },
    ]);
  });

  it('maps an observe answer (example C.10) from text/plain', () => {
    const r = decodeText(Buffer.from('94'), '/3/0/9', types);
    expect(r.kind === 'ok' && responseData('/3/0/9', '2.05', toEmqxContent(r.value))).toEqual({ reqPath: '/3/0/9', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/9', value: 94 }] });
  });

  it('gives a discover answer as link strings (example C.4)', () => {
    const links = parseLinks('</3/0>,</3/0/0>,</3/0/9>;pmin=10');
    expect(links.kind === 'ok' && toEmqxDiscoverContent(links.value)).toEqual(['</3/0>', '</3/0/0>', '</3/0/9>;pmin=10']);
  });

  it('names CoAP codes as EMQX codeMsg, dropping the query from reqPath', () => {
    expect(['2.01', '2.02', '2.04', '2.05', '4.00', '4.04', '4.05', '4.06', '4.15', '5.00'].map(codeMsg)).toEqual([
      'created', 'deleted', 'changed', 'content', 'bad_request', 'not_found', 'method_not_allowed', 'not_acceptable', 'unsupported_content_format', 'internal_server_error',
    ]);
    expect(coapCodeText(0x45)).toBe('2.05');
    expect(coapCodeText(0x84)).toBe('4.04');
    expect(responseData('/3/0?foo=bar', '2.04')).toEqual({ reqPath: '/3/0', code: '2.04', codeMsg: 'changed' });
  });
});

describe('EMQX write and create commands (spec B.5)', () => {
  it('example C.5: a single write turns into the TLV EMQX sends', () => {
    const w = writeCommandResources({ path: '/1/0/1', type: 'Integer', value: 300 });
    expect(w).toEqual({ kind: 'ok', value: { basePath: '/1/0/1', resources: [int('/1/0/1', 300)] } });
    expect(w.kind === 'ok' && encodeTlv(w.value.resources, w.value.basePath)).toEqual({ kind: 'ok', value: hex('C2 01 01 2C') });
  });

  it('example C.8: create with basePath /31024 and item path "0/1" is an object instance TLV', () => {
    const w = writeCommandResources({ basePath: '/31024', content: [{ path: '0/1', type: 'String', value: 'hi' }] });
    expect(w.kind === 'ok' && encodeTlv(w.value.resources, w.value.basePath)).toEqual({ kind: 'ok', value: hex('04 00 C2 01 68 69') });
  });

  // A write to /3/0/7 carries the Multiple Resource wrapper, as the read of /3/0/7 does (1.0 §6.4.3.1).
  it('a batch write under /3/0 (partial update) and under a multi-instance resource', () => {
    expect(writeCommandResources({ basePath: '/3/0', content: [{ path: '13', type: 'Time', value: 1700000000 }, { path: '14', type: 'String', value: '+02' }] })).toEqual({
      kind: 'ok',
      value: { basePath: '/3/0', resources: [time('/3/0/13', 1700000000), str('/3/0/14', '+02')] },
    });
    const multi = writeCommandResources({ basePath: '/3/0/7', content: [{ path: '0', type: 'Integer', value: '3800' }, { path: '1', type: 'Integer', value: 5000 }] });
    expect(multi.kind === 'ok' && encodeTlv(multi.value.resources, multi.value.basePath)).toEqual({ kind: 'ok', value: hex('88 07 08 42 00 0E D8 42 01 13 88') });
  });

  it('takes numbers as JSON numbers or numeric strings, Boolean as "true"/"false", Opaque as base64 or hex', () => {
    expect(fromEmqxValue('Float', '23.5')).toEqual({ kind: 'ok', value: { kind: 'float', value: 23.5 } });
    expect(fromEmqxValue('Integer', '-7')).toEqual({ kind: 'ok', value: { kind: 'integer', value: -7n } });
    expect(fromEmqxValue('Boolean', 'false')).toEqual({ kind: 'ok', value: { kind: 'boolean', value: false } });
    expect(fromEmqxValue('Boolean', true)).toEqual({ kind: 'ok', value: { kind: 'boolean', value: true } });
    expect(fromEmqxValue('Opaque', 'AQL/')).toEqual({ kind: 'ok', value: { kind: 'opaque', value: hex('0102FF') } });
    expect(fromEmqxValue('Opaque', '0102ff', 'hex')).toEqual({ kind: 'ok', value: { kind: 'opaque', value: hex('0102FF') } });
    expect(fromEmqxValue('Objlnk', '3:0')).toEqual({ kind: 'ok', value: { kind: 'objlnk', objectId: 3, instanceId: 0 } });
  });

  for (const [name, data] of [
    ['data that is not an object', 'x'],
    ['an unknown type', { path: '/3/0/1', type: 'Decimal', value: 1 }],
    ['a non-numeric Integer', { path: '/3/0/1', type: 'Integer', value: 'ten' }],
    ['a fractional Integer', { path: '/3/0/1', type: 'Integer', value: 1.5 }],
    ['a Boolean "yes"', { path: '/3311/0/5850', type: 'Boolean', value: 'yes' }],
    ['an object value', { path: '/3/0/1', type: 'String', value: { a: 1 } }],
    ['a path that is an instance', { path: '/3/0', type: 'String', value: 'x' }],
    ['an empty batch', { basePath: '/3/0', content: [] }],
    ['a batch item without path', { basePath: '/3/0', content: [{ type: 'String', value: 'x' }] }],
    ['a bad basePath', { basePath: '3//0', content: [{ path: '1', type: 'String', value: 'x' }] }],
  ] as const) {
    it(`rejects ${name}`, () => {
      expect(writeCommandResources(data)).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_BAD_COMMAND' });
    });
  }
});

describe('EMQX register and update event data (spec B.4, example C.1)', () => {
  it('copies the query with lt as a number, adds alternatePath and objectList, and never the password', () => {
    const links = parseLinks('</1/0>,</3/0>,</4/0>');
    const data = registrationEventData(
      { ep: 'dev42', lt: '300', lwm2m: '1.0', b: 'U', imei: '359000001', password: 's3cret' },
      links.kind === 'ok' ? registrationLinks(links.value) : undefined,
    );
    expect(data).toEqual({ ep: 'dev42', lt: 300, lwm2m: '1.0', b: 'U', imei: '359000001', alternatePath: '/', objectList: ['/1/0', '/3/0', '/4/0'] });
    expect(JSON.stringify(data)).not.toContain('s3cret');
  });

  it('leaves out alternatePath and objectList for an update without payload', () => {
    expect(registrationEventData({ ep: 'dev42', lt: '600' }, undefined)).toEqual({ ep: 'dev42', lt: 600 });
  });
});
