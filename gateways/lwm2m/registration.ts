// The registration interface's parameters (LwM2M 1.0 §5.3, 1.1 Transport §6.2; spec A.2): parse and
// check a Register/Update query and object list. Pure.
import { parseLinks, registrationLinks, type RegistrationLinks } from './link-format.js';

/** What a valid Register carries, merged with later Updates. */
export interface Registration {
  /** The second Location-Path segment (EMQX: the endpoint name). */
  location: string;
  endpoint: string;
  clientId: string;
  /** EMQX's `imei` extension, used as username. */
  imei: string | null;
  /** Every query parameter as sent (secrets included: never published, see registrationEventData). */
  query: Record<string, string>;
  /** The object list, undefined when no payload was sent. */
  links: RegistrationLinks | undefined;
  /** Lifetime in seconds. */
  lifetime: number;
  /** "1.0" or "1.1" as served; a 1.2 client is served as 1.1. */
  version: '1.0' | '1.1';
  /** The version the client said. */
  clientVersion: string;
  binding: string;
  queueMode: boolean;
}

export type RegisterCheck = { ok: true; reg: Registration } | { ok: false; code: number; message: string };

const BAD_REQUEST = 128;

/** "ep=x" / "Q" query options to a map; a flag without "=" maps to "". */
export function queryMap(parts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) out[p] = '';
    else out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** 1.0: the Q letter in the binding (UQ, SQ, UQS); 1.1: the `Q` parameter (spec A.6). */
export function isQueueMode(binding: string, query: Readonly<Record<string, string>>): boolean {
  return binding.includes('Q') || 'Q' in query;
}

export interface RegisterRules {
  lifetimeMax: number;
  requireLt: boolean;
  refuse12: boolean;
}

function lifetime(lt: string | undefined, rules: RegisterRules): number | undefined {
  if (lt === undefined) return rules.requireLt ? undefined : 86400;
  if (!/^\d{1,10}$/.test(lt)) return undefined;
  const n = Number(lt);
  return n === 0 ? rules.lifetimeMax : n;
}

/** Register (POST /rd): checks ep, lt, lwm2m and the object list; answers are EMQX's texts (A.2). */
export function checkRegister(queryParts: readonly string[], payload: Buffer, rules: RegisterRules): RegisterCheck {
  const query = queryMap(queryParts);
  const ep = query.ep;
  const lt = lifetime(query.lt, rules);
  if (ep === undefined || ep === '' || lt === undefined) return { ok: false, code: BAD_REQUEST, message: 'Login Failed: invalid queries' };
  const v = query.lwm2m ?? '1.0';
  let version: '1.0' | '1.1';
  if (v === '1.0' || v === '1' || v === '1.0.2') version = '1.0';
  else if (v === '1.1' || (v === '1.2' && !rules.refuse12)) version = '1.1';
  else return { ok: false, code: BAD_REQUEST, message: 'Login Failed: invalid lwm2m version' };
  let links: RegistrationLinks | undefined;
  if (payload.length > 0) {
    const parsed = parseLinks(payload);
    if (parsed.kind === 'error') return { ok: false, code: BAD_REQUEST, message: 'Login Failed: invalid object list' };
    links = registrationLinks(parsed.value);
  }
  const binding = query.b ?? 'U';
  return {
    ok: true,
    reg: {
      location: ep,
      endpoint: ep,
      clientId: query.device_id !== undefined && query.device_id !== '' ? query.device_id : ep,
      imei: query.imei !== undefined && query.imei !== '' ? query.imei : null,
      query,
      links,
      lifetime: lt,
      version,
      clientVersion: v,
      binding,
      queueMode: isQueueMode(binding, query),
    },
  };
}

/** Update (POST /rd/{loc}): merges lt, b, sms, Q and a new object list into the registration. */
export function applyUpdate(reg: Registration, queryParts: readonly string[], payload: Buffer, rules: RegisterRules): { ok: true; reg: Registration } | { ok: false; code: number; message: string } {
  const q = queryMap(queryParts);
  const query = { ...reg.query, ...q };
  let lt = reg.lifetime;
  if (q.lt !== undefined) {
    const n = lifetime(q.lt, rules);
    if (n === undefined) return { ok: false, code: BAD_REQUEST, message: 'invalid lt' };
    lt = n;
  }
  let links = reg.links;
  if (payload.length > 0) {
    const parsed = parseLinks(payload);
    if (parsed.kind === 'error') return { ok: false, code: BAD_REQUEST, message: 'invalid object list' };
    links = registrationLinks(parsed.value);
  }
  const binding = q.b ?? reg.binding;
  return { ok: true, reg: { ...reg, query, lifetime: lt, links, binding, queueMode: isQueueMode(binding, query) } };
}
