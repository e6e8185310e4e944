import { describe, expect, it } from 'vitest';
import { formatPath, joinName, parsePath, sameValue } from '../../../../gateways/lwm2m/model.js';
import { LWM2M_CODEC_ERRORS } from '../../../../gateways/lwm2m/errors.js';

describe('LwM2M paths', () => {
  for (const [text, ids] of [
    ['/', []],
    ['/3', [3]],
    ['/3/0', [3, 0]],
    ['/3/0/7/1', [3, 0, 7, 1]],
    ['3/0/', [3, 0]],
    ['/65535/65535', [65535, 65535]],
  ] as const) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parsePath(text)).toEqual(ids);
    });
  }
  for (const text of ['', '//', '/3//0', '/3/x', '/65536', '/1/2/3/4/5', '/-1', '/3/0 ']) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(parsePath(text)).toBeUndefined();
    });
  }

  it('formats ids back to a path', () => {
    expect(formatPath([3, 0, 7, 1])).toBe('/3/0/7/1');
    expect(formatPath([])).toBe('/');
  });

  it('joins SenML names with or without the slash at the seam', () => {
    expect(joinName('/3/0/', '1')).toBe('/3/0/1');
    expect(joinName('/3/0', '1')).toBe('/3/0/1');
    expect(joinName('/3/0/', '/1')).toBe('/3/0/1');
    expect(joinName('', '/3/0/1')).toBe('/3/0/1');
    expect(joinName('/3/0/1', '')).toBe('/3/0/1');
  });

  it('compares values by kind and content', () => {
    expect(sameValue({ kind: 'opaque', value: Buffer.from([1]) }, { kind: 'raw', value: Buffer.from([1]) })).toBe(true);
    expect(sameValue({ kind: 'float', value: NaN }, { kind: 'float', value: NaN })).toBe(true);
    expect(sameValue({ kind: 'integer', value: 1n }, { kind: 'time', value: 1n })).toBe(false);
    expect(sameValue({ kind: 'objlnk', objectId: 3, instanceId: 0 }, { kind: 'objlnk', objectId: 3, instanceId: 1 })).toBe(false);
  });
});

describe('LwM2M error catalogue', () => {
  it('has unique, prefixed codes, each with a message', () => {
    const codes = Object.keys(LWM2M_CODEC_ERRORS);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [code, message] of Object.entries(LWM2M_CODEC_ERRORS)) {
      expect(code).toMatch(/^OUTPOST_ERR_LWM2M_[A-Z_]+$/);
      expect(message.length).toBeGreaterThan(0);
    }
  });
});
