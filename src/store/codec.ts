// Row <-> Message conversion for the store. v5 properties are rare and small, so they are kept as
// JSON text; everything on the hot path (topic, payload, flags) has its own column.
import { Message } from '../core/message.js';
import type { MessageProperties, QoS } from '../core/types.js';
import { userPropertiesFromJson } from '../core/user-properties.js';

export interface MessageRow {
  msg_id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  props: string | null;
  from_client: string;
  from_username: string | null;
  origin: string | null;
  ts: number;
  expires_at: number;
}

export function encodeProps(p: MessageProperties | null): string | null {
  if (!p) return null;
  const o: Record<string, unknown> = {};
  if (p.payloadFormatIndicator !== undefined) o.pfi = p.payloadFormatIndicator;
  if (p.contentType !== undefined) o.ct = p.contentType;
  if (p.responseTopic !== undefined) o.rt = p.responseTopic;
  if (p.correlationData !== undefined) o.cd = p.correlationData.toString('base64');
  // Ordered pairs ([[name, value], ...]); rows written before the order was kept hold the object
  // form ({name: value | [values]}), which decodeProps still reads.
  if (p.userProperties !== undefined) o.up = p.userProperties;
  return JSON.stringify(o);
}

export function decodeProps(s: string | null): MessageProperties | null {
  if (!s) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    // A damaged properties column must not stop the box from starting: keep the message itself.
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const o = parsed as { pfi?: boolean; ct?: string; rt?: string; cd?: string; up?: unknown };
  const p: MessageProperties = {};
  if (o.pfi !== undefined) p.payloadFormatIndicator = o.pfi;
  if (o.ct !== undefined) p.contentType = o.ct;
  if (o.rt !== undefined) p.responseTopic = o.rt;
  if (o.cd !== undefined) p.correlationData = Buffer.from(o.cd, 'base64');
  if (o.up !== undefined) {
    const up = userPropertiesFromJson(o.up);
    if (up !== null) p.userProperties = up;
  }
  return p;
}

export function rowToMessage(r: MessageRow): Message {
  return new Message(
    r.msg_id,
    r.topic,
    r.payload,
    r.qos as QoS,
    r.retain === 1,
    decodeProps(r.props),
    r.from_client,
    r.from_username,
    r.origin,
    r.ts,
    r.expires_at,
  );
}

/** Parameters in MessageRow column order, for prepared INSERTs off the hot path. */
export function messageParams(m: Message): unknown[] {
  const a = new Array<unknown>(MESSAGE_COLUMN_COUNT);
  putMessageParams(a, 0, m);
  return a;
}

/** The message's MESSAGE_COLUMNS values written into a bind array from offset o (no array per row). */
export function putMessageParams(a: unknown[], o: number, m: Message): void {
  a[o] = m.id;
  a[o + 1] = m.topic;
  a[o + 2] = m.payload;
  a[o + 3] = m.qos;
  a[o + 4] = m.retain ? 1 : 0;
  a[o + 5] = m.props === null ? null : encodeProps(m.props);
  a[o + 6] = m.from;
  a[o + 7] = m.fromUsername;
  a[o + 8] = m.origin;
  a[o + 9] = m.ts;
  a[o + 10] = m.expiresAt;
}

export const MESSAGE_COLUMNS = 'msg_id, topic, payload, qos, retain, props, from_client, from_username, origin, ts, expires_at';
/** Derived from the list, so a new column cannot leave messageParams() short. */
const MESSAGE_COLUMN_COUNT = MESSAGE_COLUMNS.split(',').length;
export const MESSAGE_COLUMN_DEFS =
  'msg_id INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, ' +
  'props TEXT, from_client TEXT NOT NULL, from_username TEXT, origin TEXT, ts INTEGER NOT NULL, expires_at INTEGER NOT NULL';
