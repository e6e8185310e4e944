// The ground floor: the data plane's shared vocabulary, imported by store, auth, broker and every
// front. It imports nothing above it. Everything here is protocol-agnostic.
import type { Message } from './message.js';

export type QoS = 0 | 1 | 2;

/**
 * v5 user properties: (name, value) pairs in wire order, a name may repeat. Forwarded unaltered and
 * in order [MQTT-3.3.2-17], [MQTT-3.3.2-18]; helpers in user-properties.ts.
 */
export type UserProperties = readonly (readonly [string, string])[];

/** The v5 properties that travel with an application message (MQTT 5 §3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

/** Subscription options (MQTT 5 §3.8.3.1); v3 subscriptions use nl/rap false and rh 0. */
export interface SubscriptionOptions {
  qos: QoS;
  nl: boolean;
  rap: boolean;
  rh: 0 | 1 | 2;
  /** v5 subscription identifier, 0 when absent. */
  subId: number;
}

/** One delivery handed to a session's outlet. pid is 0 for QoS 0. */
export interface Delivery {
  message: Message;
  qos: QoS;
  pid: number;
  dup: boolean;
  /** Retain flag as it goes on the wire (retain-as-published / retained-on-subscribe rules applied). */
  retain: boolean;
  /** Subscription identifiers of every matching subscription of this session (v5). */
  subIds: readonly number[] | null;
  /** The filter of the subscription that matched, without $share/$queue prefix and mountpoint. */
  filter: string;
}

/**
 * Where a session sends deliveries while a connection (MQTT channel or gateway channel) is attached.
 * The broker never touches sockets: it calls these synchronously.
 */
export interface Outlet {
  /** Send one delivery. QoS 1/2 deliveries stay inflight until the session's ack methods are called. */
  deliver(d: Delivery): void;
  /** The broker ends this connection: takeover, kick, session discarded. The outlet closes its transport. */
  kick(reason: DisconnectReason): void;
  /** Resend PUBREL for a QoS 2 delivery the peer already received (session resume). */
  release?(pid: number): void;
  /** Change the keepalive interval of the live connection (API PUT /clients/:id/keepalive); 0 disables it. Absent: not changeable. */
  setKeepalive?(seconds: number): void;
}

/** Why a connection ended; names follow EMQX's disconnected-event reasons. */
export type DisconnectReason =
  | 'normal'
  | 'tcp_closed'
  | 'sock_closed'
  | 'keepalive_timeout'
  | 'idle_timeout'
  | 'kicked'
  | 'discarded'
  | 'takenover'
  | 'protocol_error'
  | 'frame_too_large'
  | 'malformed_packet'
  | 'not_authorized'
  | 'banned'
  | 'quota_exceeded'
  | 'server_shutdown'
  | 'session_expired'
  | 'server_unavailable'
  | 'internal_error';

/** Who a client is, as authentication and authorization see it. */
export interface ClientIdentity {
  clientId: string;
  username: string | null;
  peerHost: string;
  peerPort: number;
  /** 'mqtt' or the gateway name ('coap', 'mqttsn', …). */
  protocol: string;
  /** The listener id, e.g. 'tcp:default' or 'coap:udp:default'. */
  listener: string;
  /** Client certificate common name, when the transport has one. */
  certCommonName?: string;
  superuser: boolean;
}

/**
 * Whoever publishes through Broker.publishFrom: a session (MQTT or gateway), or a device without one
 * (CoAP connectionless mode, MQTT-SN QoS -1). One shape, so every front gets the same checks.
 */
export interface Publisher {
  readonly clientId: string;
  readonly username: string | null;
  readonly superuser: boolean;
  /** Put in front of every topic the publisher names ('' for none): a gateway's mountpoint. */
  readonly mountpoint: string;
  /** Messages received from this publisher (client lists, `recv_msg`). */
  recvMsg: number;
  /** The identity authorization sees; built once per connection, not per publish. */
  authIdentity(): ClientIdentity;
}

/** Result of authorizing one action. 'disconnect' is a deny whose configured deny_action is disconnect. */
export type AuthzDecision = 'allow' | 'deny' | 'disconnect';

export type AuthzAction = 'publish' | 'subscribe';

/**
 * Time and timers for the data plane. Implementations must honour any delay a protocol can express:
 * MQTT 5 intervals go up to 2^32-1 s (~136 years), far beyond what one Node timer can hold.
 */
export interface Clock {
  now(): number;
  /** Fire fn once after ms (any finite non-negative value; Infinity never fires). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(h: TimerHandle): void;
}
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

/**
 * The longest delay one Node timer holds (2^31-1 ms, ~24.8 days). A longer one overflows: Node warns
 * TimeoutOverflowWarning and fires after 1 ms, which is how a 30-day will delay fired at once.
 */
export const MAX_TIMER_STEP_MS = 2 ** 31 - 1;

/**
 * A timer longer than one Node timer can hold: it re-arms in steps of at most MAX_TIMER_STEP_MS
 * until the whole delay has passed. Steps count elapsed time on Node's monotonic timer clock, so a
 * wall-clock jump neither fires it early nor holds it back.
 */
class LongTimer {
  private timer: NodeJS.Timeout | null = null;
  private left: number;
  constructor(
    private readonly fn: () => void,
    ms: number,
    private readonly arm: (fn: () => void, ms: number) => NodeJS.Timeout,
  ) {
    this.left = ms;
    // Infinity never fires: nothing to arm, yet the handle stays cancellable like any other.
    if (ms !== Infinity) this.step();
  }
  private step(): void {
    const step = Math.min(this.left, MAX_TIMER_STEP_MS);
    this.left -= step;
    this.timer = this.arm(() => {
      this.timer = null;
      if (this.left > 0) this.step();
      else this.fn();
    }, step);
  }
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.left = 0;
  }
}

/**
 * setTimeout for any delay: one unref'd Node timer when it fits, a LongTimer when it does not,
 * nothing at all for Infinity. `arm` is the underlying one-step timer (replaceable in tests).
 */
export function longTimeout(fn: () => void, ms: number, arm: (fn: () => void, ms: number) => NodeJS.Timeout = armUnref): TimerHandle {
  const d = ms > 0 ? ms : 0; // NaN and negatives: as soon as possible, as Node does.
  if (d <= MAX_TIMER_STEP_MS) return arm(fn, d);
  return new LongTimer(fn, d, arm) as unknown as TimerHandle;
}

/** clearTimeout for a handle from longTimeout. */
export function clearLongTimeout(h: TimerHandle): void {
  if (h instanceof LongTimer) h.cancel();
  else clearTimeout(h as NodeJS.Timeout);
}

function armUnref(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => longTimeout(fn, ms),
  clearTimeout: (h) => clearLongTimeout(h),
};
