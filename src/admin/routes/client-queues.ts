// A client's queued and unacknowledged deliveries, paged by position (EMQX 5:
// GET /clients/{clientid}/mqueue_messages and /inflight_messages, emqx_mgmt_api_clients.erl with
// emqx_mqueue:query/2 and emqx_session_mem's inflight query).
//
// EMQX's position is the insertion key of the last message returned: `<insert_ts>_<priority>` for
// the mqueue, `<insert_ts>` for inflight, with `inserted_at` carrying that same key so
// `meta.position` equals the last item's key and `meta.start` the first queued one's. Outpost keys
// by the session's delivery sequence number instead of a nanosecond clock: it is unique, increases
// with insertion and survives restarts. Outpost has no mqueue priorities, so every message has
// EMQX's default priority 0.
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import type { BrokerApi, DeliverySummary } from '../../broker/api.js';
import { ApiError } from '../errors.js';
import { DEFAULT_LIMIT, emqxMsgId, MAX_LIMIT, qstr } from '../http-util.js';

export type QueueKind = 'mqueue' | 'inflight';
type PayloadFormat = 'base64' | 'plain' | 'none';

/** EMQX's default `max_payload_bytes` (1MB). */
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

export interface QueuePageQuery {
  limit: number;
  /** Sequence number to continue after; null for the first page. */
  after: number | null;
  payload: PayloadFormat;
  maxPayloadBytes: number;
}

export interface QueuePage {
  data: Record<string, unknown>[];
  meta: { start: string; position: string };
}

/** `limit` of the cursor APIs as EMQX's schema checks it (1..10000, default 100); a violation is BAD_REQUEST. */
export function parseLimit(v: unknown): number {
  if (v === undefined || v === '') return DEFAULT_LIMIT;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw new ApiError('BAD_REQUEST', `limit must be an integer in 1..${MAX_LIMIT}`);
  return n;
}

/** A byte size as EMQX's `bytesize` type: `1024`, `64KB`, `1MB`, `1GB` (case-insensitive); must be > 0. */
export function parseByteSize(v: string): number | null {
  const m = /^(\d+)(b|kb|mb|gb)?$/i.exec(v.trim());
  if (!m) return null;
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b' | 'kb' | 'mb' | 'gb'];
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * The position a page continues after. `none` (or absent) is the first page. An unparsable one is
 * EMQX's 400 INVALID_PARAMETER `position_limit_invalid`; the mqueue priority part must be an
 * integer or `infinity` as in EMQX, and is otherwise ignored (everything here is priority 0).
 */
export function parsePosition(v: string | undefined, kind: QueueKind): number | null {
  if (v === undefined || v === 'none') return null;
  const int = /^[+-]?\d+$/;
  let key = v;
  if (kind === 'mqueue') {
    const sep = v.indexOf('_');
    const prio = sep < 0 ? '' : v.slice(sep + 1);
    if (sep < 0 || !(int.test(prio) || prio === 'infinity')) throw new ApiError('INVALID_PARAMETER', 'position_limit_invalid');
    key = v.slice(0, sep);
  }
  if (!int.test(key) || !Number.isSafeInteger(Number(key))) throw new ApiError('INVALID_PARAMETER', 'position_limit_invalid');
  return Number(key);
}

export function parseQueueQuery(query: Record<string, unknown>, kind: QueueKind): QueuePageQuery {
  const limit = parseLimit(qstr(query, 'limit'));
  const payload = qstr(query, 'payload') ?? 'base64';
  if (payload !== 'base64' && payload !== 'plain' && payload !== 'none') throw new ApiError('BAD_REQUEST', 'payload must be none, base64 or plain');
  const maxRaw = qstr(query, 'max_payload_bytes');
  const maxPayloadBytes = maxRaw === undefined ? DEFAULT_MAX_PAYLOAD_BYTES : parseByteSize(maxRaw);
  if (maxPayloadBytes === null) throw new ApiError('BAD_REQUEST', 'max_payload_bytes must be a byte size higher than 0 (e.g. 1024, 64KB, 1MB)');
  return { limit, after: parsePosition(qstr(query, 'position'), kind), payload, maxPayloadBytes };
}

function posKey(seq: number, kind: QueueKind): string {
  return kind === 'mqueue' ? `${seq}_0` : String(seq);
}

/** Hex message id, as the publish API reports it. */
/** Index of the first delivery after `after`. */
function startIndex(list: readonly DeliverySummary[], after: number | null): number {
  if (after === null) return 0;
  // Continue right after the keyed message while it is still queued. The queue is in delivery
  // order, which follows the sequence except after a gateway hands messages back to its head, so
  // the exact match comes first and the first larger key is the fallback (EMQX skips keys <= it).
  for (let i = 0; i < list.length; i++) if (list[i]!.seq === after) return i + 1;
  for (let i = 0; i < list.length; i++) if (list[i]!.seq > after) return i;
  return list.length;
}

/**
 * One page. `max_payload_bytes` caps the payload bytes of a page (as encoded), but the first
 * message is always included; `meta.position` is the last message actually returned, so the next
 * page starts at the first one cut off (emqx/emqx#18509; before it EMQX skipped those).
 */
export function queuePage(list: readonly DeliverySummary[], kind: QueueKind, q: QueuePageQuery): QueuePage {
  const from = startIndex(list, q.after);
  const end = Math.min(list.length, from + q.limit);
  const data: Record<string, unknown>[] = [];
  let bytes = 0;
  let last = -1;
  for (let i = from; i < end; i++) {
    const d = list[i]!;
    const m = d.message;
    const item: Record<string, unknown> = {
      msgid: emqxMsgId(d.message.id),
      topic: m.topic,
      qos: d.qos,
      // EMQX reports the message's publish time here as epoch milliseconds (not RFC 3339).
      publish_at: m.ts,
      from_clientid: m.from,
      from_username: m.fromUsername ?? '',
      inserted_at: String(d.seq),
    };
    if (kind === 'mqueue') item.mqueue_priority = 0;
    // Counted as encoded: base64 characters, raw bytes for plain (EMQX's byte_size / iolist_size).
    const size = q.payload === 'base64' ? Math.ceil(m.payload.length / 3) * 4 : q.payload === 'plain' ? m.payload.length : 0;
    if (data.length > 0 && bytes + size > q.maxPayloadBytes) break;
    if (q.payload === 'base64') item.payload = m.payload.toString('base64');
    else if (q.payload === 'plain') {
      // EMQX answers 400 when a returned payload cannot be carried as a JSON string.
      if (!isUtf8(m.payload)) throw new ApiError('INVALID_PARAMETER', 'Some message payloads are not JSON serializable');
      item.payload = m.payload.toString('utf8');
    }
    bytes += size;
    data.push(item);
    last = i;
  }
  const start = list.length > 0 ? posKey(list[0]!.seq, kind) : 'none';
  // With nothing returned the position stays where the caller was, as EMQX echoes it.
  const position = last >= 0 ? posKey(list[last]!.seq, kind) : q.after === null ? 'none' : posKey(q.after, kind);
  return { data, meta: { start, position } };
}

export function registerClientQueueRoutes(app: FastifyInstance, broker: BrokerApi): void {
  for (const kind of ['mqueue', 'inflight'] as const) {
    app.get<{ Params: { clientid: string } }>(`/api/v5/clients/:clientid/${kind}_messages`, async (req) => {
      const q = parseQueueQuery(req.query as Record<string, unknown>, kind);
      const list = broker.deliveries(req.params.clientid, kind);
      if (list === null) throw new ApiError('CLIENTID_NOT_FOUND');
      return queuePage(list, kind, q);
    });
  }
}
