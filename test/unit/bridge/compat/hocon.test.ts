import { describe, expect, it } from 'vitest';
import { parseHocon } from '../../../../src/bridge/compat/hocon.js';

describe('HOCON subset', () => {
  it('parses dotted keys, separators, comments, arrays and unquoted values', () => {
    const r = parseHocon(`
# comment
connectors.mqtt.cloud { server = "cloud.example.com:1883", clientid_prefix = "site1" }
a.b = 1
a { c: true, d = null }   // trailing comment
list = [ { x = 1 }, { x = 2 } ]
ka = 160s
tpl = "site1/\${topic}"
multi = """line1
line2"""
`);
    expect(r).toEqual({
      ok: true,
      value: {
        connectors: { mqtt: { cloud: { server: 'cloud.example.com:1883', clientid_prefix: 'site1' } } },
        a: { b: 1, c: true, d: null },
        list: [{ x: 1 }, { x: 2 }],
        ka: '160s',
        tpl: 'site1/${topic}',
        multi: 'line1\nline2',
      },
    });
  });

  it('accepts a braced root and merges repeated objects deeply', () => {
    expect(parseHocon('{ a { x = 1 }\n a { y = 2 } }')).toEqual({ ok: true, value: { a: { x: 1, y: 2 } } });
  });

  it('reports errors with a line number instead of guessing', () => {
    expect(parseHocon('a {\n b = 1\n')).toEqual({ ok: false, error: 'line 3: missing "}"' });
    expect(parseHocon('include "x.conf"')).toMatchObject({ ok: false, error: expect.stringContaining('include is not supported') });
    expect(parseHocon('a = ${b}')).toMatchObject({ ok: false, error: expect.stringContaining('substitutions') });
    expect(parseHocon('a = "open')).toMatchObject({ ok: false, error: expect.stringContaining('unterminated') });
    expect(parseHocon('a b')).toMatchObject({ ok: false });
  });

  it('never throws on arbitrary input', () => {
    const chars = '{}[]=:,"#/\n abc.$';
    for (let n = 0; n < 500; n++) {
      let s = '';
      for (let k = 0; k < 30; k++) s += chars[Math.floor(Math.random() * chars.length)];
      expect(() => parseHocon(s)).not.toThrow();
    }
  });
});
