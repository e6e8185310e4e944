import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseObjectXml } from '../../../../gateways/lwm2m/object-model.js';
import { createObjectRegistry, loadObjectRegistry } from '../../../../gateways/lwm2m/object-registry.js';
import { decodeTlv } from '../../../../gateways/lwm2m/tlv.js';
import { hex, OBJECTS_DIR, raw, shipped } from './fixtures.js';

const dirs: string[] = [];
function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-lwm2m-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function objectXml(id: number, items: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<LWM2M><Object ObjectType="MODefinition"><Name>Test ${id}</Name><ObjectID>${id}</ObjectID>
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>${items}</Resources></Object></LWM2M>`;
}
const item = (id: number, type: string, ops = 'RW', mi = 'Single') =>
  `<Item ID="${id}"><Name>R${id}</Name><Operations>${ops}</Operations><MultipleInstances>${mi}</MultipleInstances><Mandatory>Optional</Mandatory><Type>${type}</Type><RangeEnumeration/><Units/></Item>`;

describe('shipped object definitions', () => {
  it('load without errors: 0-7 and the IPSO objects', () => {
    expect(shipped.errors).toEqual([]);
    expect(shipped.registry.objectIds).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 3200, 3301, 3303, 3304, 3311]);
  });

  it('describe the Device object as the TS does (1.0 Appendix E.4)', () => {
    const device = shipped.registry.object(3);
    expect(device).toMatchObject({ id: 3, name: 'Device', multipleInstances: false, mandatory: true, version: '1.0' });
    expect(shipped.registry.resource(3, 0)).toMatchObject({ name: 'Manufacturer', operations: 'R', type: 'String', multipleInstances: false });
    expect(shipped.registry.resource(3, 4)).toMatchObject({ name: 'Reboot', operations: 'E', type: 'None' });
    expect(shipped.registry.resource(3, 7)).toMatchObject({ type: 'Integer', multipleInstances: true, units: 'mV' });
    expect(shipped.registry.resource(3, 11)).toMatchObject({ type: 'Integer', multipleInstances: true, mandatory: true });
    expect(shipped.registry.typeOf(3, 13)).toBe('Time');
    expect(shipped.registry.typeOf(3, 22)).toBe('Objlnk');
  });

  it('types the resources the codecs depend on', () => {
    const t = shipped.registry.typeOf;
    expect([t(0, 1), t(0, 3), t(0, 10), t(1, 1), t(1, 7), t(2, 2), t(4, 4), t(5, 0), t(5, 3), t(6, 0), t(6, 5), t(7, 8)]).toEqual([
      'Boolean', 'Opaque', 'Integer', 'Integer', 'String', 'Integer', 'String', 'Opaque', 'Integer', 'Float', 'Time', 'Integer',
    ]);
    // 5518 Timestamp and 5750 Application Type came with version 1.1 of the IPSO sensor objects.
    expect(shipped.registry.object(3303)).toMatchObject({ version: '1.1' });
    expect([t(3303, 5518), t(3303, 5750)]).toEqual(['Time', 'String']);
    expect([t(3303, 5700), t(3304, 5700), t(3301, 5700), t(3200, 5500), t(3311, 5850), t(3311, 5851)]).toEqual(['Float', 'Float', 'Float', 'Boolean', 'Boolean', 'Integer']);
  });

  it('answer an unknown object or resource with undefined, and the codecs pass its bytes through', () => {
    expect(shipped.registry.object(31024)).toBeUndefined();
    expect(shipped.registry.typeOf(31024, 1)).toBeUndefined();
    expect(shipped.registry.typeOf(3, 999)).toBeUndefined();
    expect(decodeTlv(hex('C2 01 68 69'), '/31024/0', shipped.registry.typeOf)).toEqual({ kind: 'ok', value: [raw('/31024/0/1', '6869')] });
  });
});

describe('object XML loader', () => {
  it('parses the registry spellings of types ("Unsigned Integer", lower case) and an empty Type for E', () => {
    const r = parseObjectXml(objectXml(40000, item(0, 'Unsigned Integer', 'R') + item(1, 'objlnk', 'R') + item(2, '', 'E') + item(3, 'Corelnk', 'R', 'Multiple')));
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    const o = r.value[0]!;
    expect(o).toMatchObject({ id: 40000, name: 'Test 40000', multipleInstances: true, mandatory: false });
    expect([...o.resources.values()].map((x) => [x.id, x.type, x.operations, x.multipleInstances])).toEqual([
      [0, 'UnsignedInteger', 'R', false],
      [1, 'Objlnk', 'R', false],
      [2, 'None', 'E', false],
      [3, 'Corelnk', 'R', true],
    ]);
  });

  for (const [name, xml] of [
    ['malformed XML', '<LWM2M><Object>'],
    ['no Object element', '<LWM2M></LWM2M>'],
    ['a non-numeric ObjectID', objectXml(1, '').replace('<ObjectID>1</ObjectID>', '<ObjectID>x</ObjectID>')],
    ['an ObjectID above 65535', objectXml(70000, '')],
    ['an unknown Type', objectXml(40001, item(0, 'Decimal'))],
    ['unknown Operations', objectXml(40002, item(0, 'String', 'RX'))],
    ['a resource defined twice', objectXml(40003, item(0, 'String') + item(0, 'Integer'))],
  ] as const) {
    it(`rejects ${name}`, () => {
      expect(parseObjectXml(xml)).toMatchObject({ kind: 'error', code: 'OUTPOST_ERR_LWM2M_BAD_OBJECT_XML' });
    });
  }
});

describe('object registry from a directory', () => {
  it('loads every *.xml, reports a bad file and a duplicate id, and keeps the rest', () => {
    const dir = tempDir({
      'a-40010.xml': objectXml(40010, item(0, 'Float')),
      'b-bad.xml': '<LWM2M>',
      'c-40010-again.xml': objectXml(40010, item(0, 'String')),
      'notes.txt': 'not xml',
    });
    const loaded = loadObjectRegistry(dir);
    expect(loaded.registry.objectIds).toEqual([40010]);
    expect(loaded.registry.typeOf(40010, 0)).toBe('Float');
    expect(loaded.errors.map((e) => [e.file.slice(dir.length + 1), e.code])).toEqual([
      ['b-bad.xml', 'OUTPOST_ERR_LWM2M_BAD_OBJECT_XML'],
      ['c-40010-again.xml', 'OUTPOST_ERR_LWM2M_DUPLICATE_OBJECT'],
    ]);
    expect(loaded.files).toHaveLength(3);
  });

  it('reloads by building a new registry: a definition added later is seen, the old registry is unchanged', () => {
    const dir = tempDir({ 'one.xml': objectXml(40020, item(1, 'Integer')) });
    const first = loadObjectRegistry(dir).registry;
    writeFileSync(join(dir, 'two.xml'), objectXml(40021, item(1, 'Boolean')));
    const second = loadObjectRegistry(dir).registry;
    expect(first.typeOf(40021, 1)).toBeUndefined();
    expect(second.typeOf(40021, 1)).toBe('Boolean');
    expect(second.typeOf(40020, 1)).toBe('Integer');
  });

  it('reports a missing directory as an error value with an empty registry', () => {
    const loaded = loadObjectRegistry(join(OBJECTS_DIR, 'does-not-exist'));
    expect(loaded.registry.objectIds).toEqual([]);
    expect(loaded.errors[0]).toMatchObject({ code: 'OUTPOST_ERR_LWM2M_READ_FAILED' });
  });

  it('builds from definitions in memory, first definition of an id wins', () => {
    const a = parseObjectXml(objectXml(40030, item(0, 'String')));
    const b = parseObjectXml(objectXml(40030, item(0, 'Integer')));
    if (a.kind !== 'ok' || b.kind !== 'ok') throw new Error('fixtures must parse');
    expect(createObjectRegistry([...a.value, ...b.value]).typeOf(40030, 0)).toBe('String');
  });
});
