import { describe, expect, it } from 'vitest';
import { formatLinks, parseLinks, registrationLinks } from '../../../../gateways/lwm2m/link-format.js';
import type { Link } from '../../../../gateways/lwm2m/link-format.js';

const table: { name: string; text: string; links: Link[] }[] = [
  {
    name: 'a 1.0 registration with root ct (1.0 §5.3.1)',
    text: '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</4/0>,</5>',
    links: [
      { target: '/', attributes: [{ name: 'rt', value: 'oma.lwm2m', quoted: true }, { name: 'ct', value: '11543' }] },
      { target: '/1/0', attributes: [] },
      { target: '/3/0', attributes: [] },
      { target: '/4/0', attributes: [] },
      { target: '/5', attributes: [] },
    ],
  },
  {
    name: 'bootstrap discover with ssid and lwm2m version (1.1 Core §5.2.7.3)',
    text: '</>;lwm2m=1.1,</0/0>;ssid=101,</1/0>;ssid=101,</3/0>',
    links: [
      { target: '/', attributes: [{ name: 'lwm2m', value: '1.1' }] },
      { target: '/0/0', attributes: [{ name: 'ssid', value: '101' }] },
      { target: '/1/0', attributes: [{ name: 'ssid', value: '101' }] },
      { target: '/3/0', attributes: [] },
    ],
  },
  {
    name: 'a discover answer with attributes and a bare flag (EMQX example C.4)',
    text: '</3/0>,</3/0/0>,</3/0/9>;pmin=10,</3/0/7>;dim=2;obs',
    links: [
      { target: '/3/0', attributes: [] },
      { target: '/3/0/0', attributes: [] },
      { target: '/3/0/9', attributes: [{ name: 'pmin', value: '10' }] },
      { target: '/3/0/7', attributes: [{ name: 'dim', value: '2' }, { name: 'obs' }] },
    ],
  },
  { name: 'a versioned object', text: '</1>;ver=1.1,</3303/0>;ver=1.1', links: [{ target: '/1', attributes: [{ name: 'ver', value: '1.1' }] }, { target: '/3303/0', attributes: [{ name: 'ver', value: '1.1' }] }] },
  { name: 'a quoted value holding a comma, a semicolon and an escaped quote', text: '</a>;title="x, y; \\"z\\"",</b>', links: [{ target: '/a', attributes: [{ name: 'title', value: 'x, y; "z"', quoted: true }] }, { target: '/b', attributes: [] }] },
  { name: 'an empty payload', text: '', links: [] },
];

describe('CoRE link format (40) table [RFC 6690 §2]', () => {
  for (const row of table) {
    it(`parses ${row.name}`, () => {
      expect(parseLinks(Buffer.from(row.text))).toEqual({ kind: 'ok', value: row.links });
    });
    it(`produces ${row.name}`, () => {
      expect(formatLinks(row.links).toString()).toBe(row.text);
    });
  }

  it('tolerates whitespace between links', () => {
    expect(parseLinks('</1/0> ,\n </3/0> ; ct=40')).toEqual({ kind: 'ok', value: [{ target: '/1/0', attributes: [] }, { target: '/3/0', attributes: [{ name: 'ct', value: '40' }] }] });
  });

  for (const [name, text] of [
    ['no "<"', '3/0'],
    ['an unclosed "<"', '</3/0'],
    ['an empty attribute name', '</a>;="x"'],
    ['an unclosed quoted-string', '</a>;rt="oops'],
    ['two links without a comma', '</a> </b>'],
    ['a trailing comma', '</a>,'],
  ] as const) {
    it(`rejects ${name}`, () => {
      expect(parseLinks(text)).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_BAD_SYNTAX' });
    });
  }
});

describe('registration object list', () => {
  it('reads objects, root and content formats (EMQX objectList shape)', () => {
    const p = parseLinks('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</4/0>,</5>');
    expect(p.kind === 'ok' && registrationLinks(p.value)).toEqual({
      alternatePath: '/',
      contentFormats: [11543],
      objects: [
        { path: '/1/0', objectId: 1, instanceId: 0 },
        { path: '/3/0', objectId: 3, instanceId: 0 },
        { path: '/4/0', objectId: 4, instanceId: 0 },
        { path: '/5', objectId: 5 },
      ],
    });
  });

  it('strips an alternate path and keeps ver (spec checklist 5)', () => {
    const p = parseLinks('</lwm2m>;rt="oma.lwm2m";ct="60 110 112",</lwm2m/1/0>,</lwm2m/3303/0>;ver=1.1,</other/3/0>');
    expect(p.kind === 'ok' && registrationLinks(p.value)).toEqual({
      alternatePath: '/lwm2m',
      contentFormats: [60, 110, 112],
      objects: [
        { path: '/1/0', objectId: 1, instanceId: 0 },
        { path: '/3303/0', objectId: 3303, instanceId: 0, version: '1.1' },
      ],
    });
  });

  it('defaults to root "/" without an rt="oma.lwm2m" link and skips what is not /O or /O/I', () => {
    const p = parseLinks('</1/0>,</3/0/1>,</x>,</3/0>');
    expect(p.kind === 'ok' && registrationLinks(p.value)).toEqual({
      alternatePath: '/',
      contentFormats: [],
      objects: [
        { path: '/1/0', objectId: 1, instanceId: 0 },
        { path: '/3/0', objectId: 3, instanceId: 0 },
      ],
    });
  });
});
