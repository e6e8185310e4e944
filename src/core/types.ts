// The ground floor: the data plane's shared vocabulary, imported by store, auth, broker and every
// front. It imports nothing above it. Everything here is protocol-agnostic.
import type { Message } from './message.js';

export type QoS = 0 | 1 | 2;

/** v5 user properties as mqtt-packet represents them (a repeated key becomes an array). */
export type UserProperties = Record<string, string | string[]>;

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
  | 'internal_error';

/** Who a client is, as authentication and authorization see it. */
export interface ClientIdentity {
  clientId: string;
  username: string | null;
  peerHost: string;
  peerPort: number;
  /** 'mqtt' or the gateway name ('coap', 'mqttsn', …). */
  protocol: string;
  /** The listener id, e.g. 'tcp:default' or 'coap:udp'. */
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

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(h: TimerHandle): void;
}
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
