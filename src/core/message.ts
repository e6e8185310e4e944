// An application message: immutable once accepted. Its wire form is cached per protocol family,
// QoS and retain flag so a fan-out encodes once (see src/mqtt/publish-encoder.ts).
import type { MessageProperties, QoS } from './types.js';

let lastId = 0;
/** Process-unique, increasing ids: milliseconds * 1000 + a counter, so they also sort by publish time across restarts. */
export function nextMessageId(now: number): number {
  const base = now * 1000;
  lastId = base > lastId ? base : lastId + 1;
  return lastId;
}

export class Message {
  readonly id: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly props: MessageProperties | null;
  /** Publishing client id ('' for the broker itself, e.g. $SYS). */
  readonly from: string;
  readonly fromUsername: string | null;
  /** Name of the bridge this message arrived through, null when local: used for loop prevention. */
  readonly origin: string | null;
  /** Accept time, ms since epoch. */
  readonly ts: number;
  /** Absolute expiry in ms since epoch, 0 for never (v5 Message-Expiry-Interval). */
  readonly expiresAt: number;
  /** Cached encodings, filled lazily by the MQTT encoder; index chosen there. */
  wire: (Buffer | undefined)[] | null;

  constructor(
    id: number,
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    props: MessageProperties | null,
    from: string,
    fromUsername: string | null,
    origin: string | null,
    ts: number,
    expiresAt: number,
  ) {
    this.id = id;
    this.topic = topic;
    this.payload = payload;
    this.qos = qos;
    this.retain = retain;
    this.props = props;
    this.from = from;
    this.fromUsername = fromUsername;
    this.origin = origin;
    this.ts = ts;
    this.expiresAt = expiresAt;
    this.wire = null;
  }

  /** Seconds left before expiry for the v5 Message-Expiry-Interval on delivery, or -1 when none [MQTT-3.3.2-6]. */
  remainingExpiry(now: number): number {
    if (this.expiresAt === 0) return -1;
    const left = Math.ceil((this.expiresAt - now) / 1000);
    return left > 0 ? left : 0;
  }

  isExpired(now: number): boolean {
    return this.expiresAt !== 0 && now >= this.expiresAt;
  }

  /** A copy with another topic/retain/qos (rewrite, delayed publish, retained copies); the id is kept. */
  with(changes: { topic?: string; retain?: boolean; qos?: QoS; origin?: string | null }): Message {
    return new Message(
      this.id,
      changes.topic ?? this.topic,
      this.payload,
      changes.qos ?? this.qos,
      changes.retain ?? this.retain,
      this.props,
      this.from,
      this.fromUsername,
      changes.origin !== undefined ? changes.origin : this.origin,
      this.ts,
      this.expiresAt,
    );
  }
}

export interface NewMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  props?: MessageProperties | null;
  from?: string;
  fromUsername?: string | null;
  origin?: string | null;
  /** Seconds (v5 Message-Expiry-Interval); undefined or 0 means no expiry. */
  expiryInterval?: number;
  now: number;
}

export function createMessage(m: NewMessage): Message {
  return new Message(
    nextMessageId(m.now),
    m.topic,
    m.payload,
    m.qos,
    m.retain,
    m.props ?? null,
    m.from ?? '',
    m.fromUsername ?? null,
    m.origin ?? null,
    m.now,
    m.expiryInterval ? m.now + m.expiryInterval * 1000 : 0,
  );
}
