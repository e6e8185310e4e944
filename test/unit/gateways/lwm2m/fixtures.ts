// Shared vectors for the LwM2M codec tests: the registry of the shipped object files, value builders,
// and the Device object /3/0 of the LwM2M 1.0 TS examples (§6.4.3.1 TLV, §6.4.4 JSON; 1.1 Core §7.4.4-5 SenML).

import { fileURLToPath } from 'node:url';
import type { Lwm2mResource } from '../../../../gateways/lwm2m/model.js';
import { loadObjectRegistry } from '../../../../gateways/lwm2m/object-registry.js';
import { mulberry32 } from '../../../helpers/prng.js';

export const OBJECTS_DIR = fileURLToPath(new URL('../../../../gateways/lwm2m/objects', import.meta.url));
export const shipped = loadObjectRegistry(OBJECTS_DIR);
export const types = shipped.registry.typeOf;

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

export const str = (path: string, value: string): Lwm2mResource => ({ path, value: { kind: 'string', value } });
export const int = (path: string, value: number | bigint): Lwm2mResource => ({ path, value: { kind: 'integer', value: BigInt(value) } });
export const flt = (path: string, value: number): Lwm2mResource => ({ path, value: { kind: 'float', value } });
export const bool = (path: string, value: boolean): Lwm2mResource => ({ path, value: { kind: 'boolean', value } });
export const time = (path: string, value: number | bigint): Lwm2mResource => ({ path, value: { kind: 'time', value: BigInt(value) } });
export const opaque = (path: string, h: string): Lwm2mResource => ({ path, value: { kind: 'opaque', value: hex(h) } });
export const raw = (path: string, h: string): Lwm2mResource => ({ path, value: { kind: 'raw', value: hex(h) } });
export const objlnk = (path: string, objectId: number, instanceId: number): Lwm2mResource => ({ path, value: { kind: 'objlnk', objectId, instanceId } });

/** The Device object instance of the spec's examples. */
export const DEVICE_3_0: Lwm2mResource[] = [
  str('/3/0/0', 'Open Mobile Alliance'),
  str('/3/0/1', 'Lightweight M2M Client'),
  str('/3/0/2', '345000123'),
  str('/3/0/3', '1.0'),
  int('/3/0/6/0', 1),
  int('/3/0/6/1', 5),
  int('/3/0/7/0', 3800),
  int('/3/0/7/1', 5000),
  int('/3/0/8/0', 125),
  int('/3/0/8/1', 900),
  int('/3/0/9', 100),
  int('/3/0/10', 15),
  int('/3/0/11/0', 0),
  time('/3/0/13', 1367491215),
  str('/3/0/14', '+02:00'),
  str('/3/0/16', 'U'),
];

/** OMA-TS-LightweightM2M-V1_0 §6.4.3.1: TLV of a Read on /3/0. */
export const DEVICE_3_0_TLV = hex(`
  C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
  C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
  C8 02 09 33 34 35 30 30 30 31 32 33
  C3 03 31 2E 30
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0E D8 42 01 13 88
  87 08 41 00 7D 42 01 03 84
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 51 82 42 8F
  C6 0E 2B 30 32 3A 30 30
  C1 10 55`);

/** §6.4.4: the same read as LwM2M JSON (spec layout, whitespace as printed there). */
export const DEVICE_3_0_JSON_PRETTY = `{"bn":"/3/0/",
 "e":[
  {"n":"0","sv":"Open Mobile Alliance"},
  {"n":"1","sv":"Lightweight M2M Client"},
  {"n":"2","sv":"345000123"},
  {"n":"3","sv":"1.0"},
  {"n":"6/0","v":1},
  {"n":"6/1","v":5},
  {"n":"7/0","v":3800},
  {"n":"7/1","v":5000},
  {"n":"8/0","v":125},
  {"n":"8/1","v":900},
  {"n":"9","v":100},
  {"n":"10","v":15},
  {"n":"11/0","v":0},
  {"n":"13","v":1367491215},
  {"n":"14","sv":"+02:00"},
  {"n":"16","sv":"U"}]
}`;

/** 1.1 Core §7.4.4: the same read as SenML JSON. */
export const DEVICE_3_0_SENML_PRETTY = `[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},
 {"n":"1","vs":"Lightweight M2M Client"},
 {"n":"2","vs":"345000123"},
 {"n":"3","vs":"1.0"},
 {"n":"6/0","v":1},
 {"n":"6/1","v":5},
 {"n":"7/0","v":3800},
 {"n":"7/1","v":5000},
 {"n":"8/0","v":125},
 {"n":"8/1","v":900},
 {"n":"9","v":100},
 {"n":"10","v":15},
 {"n":"11/0","v":0},
 {"n":"13","v":1367491215},
 {"n":"14","vs":"+02:00"},
 {"n":"16","vs":"U"}]`;

export function compact(json: string): Buffer {
  return Buffer.from(json.replace(/\n\s*/g, ''), 'utf8');
}

/** Small deterministic PRNG so fuzz failures reproduce from the seed. */
export const prng = mulberry32;

export function sortByPath(rs: readonly Lwm2mResource[]): Lwm2mResource[] {
  return [...rs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
