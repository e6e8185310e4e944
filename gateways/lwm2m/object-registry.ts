// The set of object definitions a gateway decodes with. Built from a directory of *.xml files by a
// plain function, so a reload is "build a new registry and swap it in": no global state. An object
// without a definition is not an error anywhere: its resources pass through untyped ('raw').

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceType, TypeLookup } from './model.js';
import type { Lwm2mError } from './errors.js';
import { lwm2mError } from './errors.js';
import type { ObjectDefinition, ResourceDefinition } from './object-model.js';
import { parseObjectXml } from './object-model.js';

export interface ObjectRegistry {
  readonly objectIds: readonly number[];
  object(objectId: number): ObjectDefinition | undefined;
  resource(objectId: number, resourceId: number): ResourceDefinition | undefined;
  /** For the codecs: undefined for an unknown object or resource. */
  readonly typeOf: TypeLookup;
}

export function createObjectRegistry(definitions: Iterable<ObjectDefinition>): ObjectRegistry {
  const byId = new Map<number, ObjectDefinition>();
  for (const d of definitions) if (!byId.has(d.id)) byId.set(d.id, d);
  const objectIds = [...byId.keys()].sort((a, b) => a - b);
  const resource = (o: number, r: number) => byId.get(o)?.resources.get(r);
  return {
    objectIds,
    object: (o) => byId.get(o),
    resource,
    typeOf: (o: number, r: number): ResourceType | undefined => resource(o, r)?.type,
  };
}

export interface LoadedRegistry {
  readonly registry: ObjectRegistry;
  /** Files that could not be used, each with its reason; the rest still load. */
  readonly errors: readonly (Lwm2mError & { readonly file: string })[];
  readonly files: readonly string[];
}

/**
 * Loads every *.xml in `dir` (sorted by name, so the outcome does not depend on the file system's
 * order). A bad file is reported and skipped; for an id defined twice the first file wins.
 */
export function loadObjectRegistry(dir: string): LoadedRegistry {
  const errors: (Lwm2mError & { file: string })[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.xml')).sort();
  } catch (e) {
    const err = lwm2mError('OUTPOST_ERR_LWM2M_READ_FAILED', `${dir}: ${(e as Error).message}`);
    return { registry: createObjectRegistry([]), errors: [{ ...err, file: dir }], files: [] };
  }
  const definitions: ObjectDefinition[] = [];
  const seen = new Map<number, string>();
  for (const name of names) {
    const file = join(dir, name);
    let xml: string;
    try {
      xml = readFileSync(file, 'utf8');
    } catch (e) {
      errors.push({ ...lwm2mError('OUTPOST_ERR_LWM2M_READ_FAILED', (e as Error).message), file });
      continue;
    }
    const parsed = parseObjectXml(xml);
    if (parsed.kind === 'error') {
      errors.push({ ...parsed, file });
      continue;
    }
    for (const d of parsed.value) {
      const first = seen.get(d.id);
      if (first !== undefined) {
        errors.push({ ...lwm2mError('OUTPOST_ERR_LWM2M_DUPLICATE_OBJECT', `object ${d.id} is already defined by ${first}`), file });
        continue;
      }
      seen.set(d.id, file);
      definitions.push(d);
    }
  }
  return { registry: createObjectRegistry(definitions), errors, files: names.map((n) => join(dir, n)) };
}
