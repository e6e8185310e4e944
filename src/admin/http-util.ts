// Request parsing and the EMQX response conventions shared by every route: `?page&limit` pages as
// `{data, meta:{page, limit, count, hasnext}}`, RFC 3339 timestamps, filters accepting RFC 3339 or
// epoch ms (emqx_mgmt_api.erl).
import type { z } from 'zod';
import { ApiError } from './errors.js';

export interface Page<T> {
  data: T[];
  meta: { page: number; limit: number; count: number; hasnext: boolean };
}

export const MAX_LIMIT = 10000;
export const DEFAULT_LIMIT = 100;

function positiveInt(v: unknown, name: string, dflt: number, max: number): number {
  if (v === undefined || v === '') return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ApiError('BAD_REQUEST', `${name} must be an integer in 1..${max}`);
  return n;
}

export function paginate<T>(items: readonly T[], query: Record<string, unknown>): Page<T> {
  const page = positiveInt(query.page, 'page', 1, Number.MAX_SAFE_INTEGER);
  const limit = positiveInt(query.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
  const start = (page - 1) * limit;
  return {
    data: items.slice(start, start + limit),
    meta: { page, limit, count: items.length, hasnext: start + limit < items.length },
  };
}

/** RFC 3339 in UTC, or null for "never" (0). */
/** A message id as EMQX prints its GUIDs: 32 upper-case hex digits (emqx_guid:to_hexstr). */
export function emqxMsgId(id: number): string {
  return id.toString(16).toUpperCase().padStart(32, '0');
}

export function rfc3339(ms: number): string | null {
  return ms > 0 ? new Date(ms).toISOString() : null;
}

/** A time filter: epoch milliseconds or an RFC 3339 string. */
export function parseTime(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return Number(v);
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  throw new ApiError('BAD_REQUEST', `${name} must be epoch milliseconds or an RFC 3339 time`);
}

export function parseBool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new ApiError('BAD_REQUEST', `${name} must be true or false`);
}

export function parseIntParam(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ApiError('BAD_REQUEST', `${name} must be an integer`);
  return n;
}

/** Validate a JSON body with zod; the first issue becomes the message, naming its path. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const path = i.path.map(String).join('.');
    throw new ApiError('BAD_REQUEST', path ? `${path}: ${i.message}` : i.message);
  }
  return r.data;
}

/** String query parameter (fastify gives string | string[] | undefined for repeated keys). */
export function qstr(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw new ApiError('BAD_REQUEST', `${name} must be given once`);
}
