// OMA LwM2M object definitions (the XML of the OMNA registry, schema LWM2M.xsd): one <Object> with
// ObjectID, Name, MultipleInstances, Mandatory and Resources/Item[@ID] with Name, Operations,
// MultipleInstances, Mandatory, Type, RangeEnumeration and Units.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ResourceType } from './model.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import { isObject } from './senml-records.js';

export type Operations = '' | 'R' | 'W' | 'RW' | 'E';

export interface ResourceDefinition {
  readonly id: number;
  readonly name: string;
  readonly operations: Operations;
  readonly multipleInstances: boolean;
  readonly mandatory: boolean;
  readonly type: ResourceType;
  readonly rangeEnumeration: string;
  readonly units: string;
}

export interface ObjectDefinition {
  readonly id: number;
  readonly name: string;
  /** ObjectVersion, "1.0" when absent (LwM2M 1.1 Core §7.2.2). */
  readonly version: string;
  readonly multipleInstances: boolean;
  readonly mandatory: boolean;
  readonly resources: ReadonlyMap<number, ResourceDefinition>;
}

// The registry spells some types with spaces or other case ("Unsigned Integer", "objlnk").
const TYPES: ReadonlyMap<string, ResourceType> = new Map<string, ResourceType>([
  ['string', 'String'],
  ['integer', 'Integer'],
  ['unsignedinteger', 'UnsignedInteger'],
  ['float', 'Float'],
  ['boolean', 'Boolean'],
  ['opaque', 'Opaque'],
  ['time', 'Time'],
  ['objlnk', 'Objlnk'],
  ['corelnk', 'Corelnk'],
  ['none', 'None'],
  ['', 'None'],
]);

const OPERATIONS: readonly Operations[] = ['', 'R', 'W', 'RW', 'E'];

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'Item' || name === 'Object',
});

function text(x: unknown): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  // An element with attributes but text content parses as {'#text': ...}; an empty one as ''.
  if (isObject(x) && typeof x['#text'] === 'string') return x['#text'];
  return '';
}

function id(x: unknown): number | undefined {
  const s = text(x).trim();
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function multiple(x: unknown): boolean {
  return text(x).trim().toLowerCase() === 'multiple';
}

function mandatory(x: unknown): boolean {
  return text(x).trim().toLowerCase() === 'mandatory';
}

function bad(detail: string) {
  return lwm2mError('OUTPOST_ERR_LWM2M_BAD_OBJECT_XML', detail);
}

/** Parses one object definition file's text. Several <Object>s in one file are all returned. */
export function parseObjectXml(xml: string): Result<ObjectDefinition[]> {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) return bad(`line ${valid.err.line}: ${valid.err.msg}`);
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (e) {
    return bad((e as Error).message);
  }
  const root = isObject(doc) ? doc.LWM2M : undefined;
  const objects = isObject(root) ? root.Object : undefined;
  if (!Array.isArray(objects) || objects.length === 0) return bad('no /LWM2M/Object element');
  const out: ObjectDefinition[] = [];
  for (const o of objects) {
    if (!isObject(o)) return bad('an Object element is empty');
    const objectId = id(o.ObjectID);
    if (objectId === undefined) return bad(`ObjectID ${JSON.stringify(text(o.ObjectID))}`);
    const resources = new Map<number, ResourceDefinition>();
    const items = isObject(o.Resources) ? o.Resources.Item : undefined;
    for (const item of Array.isArray(items) ? items : []) {
      if (!isObject(item)) return bad(`object ${objectId}: an empty resource Item`);
      const rid = id(item['@ID']);
      if (rid === undefined) return bad(`object ${objectId}: Item ID ${JSON.stringify(text(item['@ID']))}`);
      const typeText = text(item.Type).replace(/\s+/g, '').toLowerCase();
      const type = TYPES.get(typeText);
      if (type === undefined) return bad(`object ${objectId} resource ${rid}: Type ${JSON.stringify(text(item.Type))}`);
      const ops = text(item.Operations).trim().toUpperCase();
      const operations = OPERATIONS.find((op) => op === ops);
      if (operations === undefined) return bad(`object ${objectId} resource ${rid}: Operations ${JSON.stringify(ops)}`);
      if (resources.has(rid)) return bad(`object ${objectId}: resource ${rid} defined twice`);
      resources.set(rid, {
        id: rid,
        name: text(item.Name).trim(),
        operations,
        multipleInstances: multiple(item.MultipleInstances),
        mandatory: mandatory(item.Mandatory),
        // An executable resource has no value type (Type is empty in the registry files).
        type: operations === 'E' ? 'None' : type,
        rangeEnumeration: text(item.RangeEnumeration).trim(),
        units: text(item.Units).trim(),
      });
    }
    out.push({
      id: objectId,
      name: text(o.Name).trim(),
      version: text(o.ObjectVersion).trim() || '1.0',
      multipleInstances: multiple(o.MultipleInstances),
      mandatory: mandatory(o.Mandatory),
      resources,
    });
  }
  return ok(out);
}
