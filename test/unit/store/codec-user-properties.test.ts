import { describe, expect, it } from 'vitest';
import { decodeProps, encodeProps } from '../../../src/store/codec.js';

// [MQTT-3.3.2-17] / [MQTT-3.3.2-18]: user properties are kept as ordered pairs in the store.
describe('store codec: user properties', () => {
  it('round-trips ordered pairs with repeated and interleaved names', () => {
    const up: [string, string][] = [['b', '1'], ['a', 'x'], ['b', '2'], ['7', 'numeric name'], ['a', 'x']];
    const s = encodeProps({ userProperties: up, contentType: 'c' });
    expect(decodeProps(s)).toEqual({ userProperties: up, contentType: 'c' });
  });

  it('reads rows written in the old object form (repeats as arrays) as pairs in key order', () => {
    expect(decodeProps(JSON.stringify({ ct: 'c', up: { k: 'v', m: ['1', '2'] } }))).toEqual({ contentType: 'c', userProperties: [['k', 'v'], ['m', '1'], ['m', '2']] });
  });

  it('drops a damaged user property column but keeps the other properties', () => {
    expect(decodeProps(JSON.stringify({ ct: 'c', up: [['k']] }))).toEqual({ contentType: 'c' });
    expect(decodeProps(JSON.stringify({ ct: 'c', up: { k: 3 } }))).toEqual({ contentType: 'c' });
    expect(decodeProps(JSON.stringify({ ct: 'c', up: 'x' }))).toEqual({ contentType: 'c' });
  });
});
