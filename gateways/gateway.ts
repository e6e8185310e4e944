// The only door from a gateway into the broker. A gateway module imports this file and its own
// folder, nothing else; the broker side (src/runtime/gateway-host.ts) implements GatewayContext.
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Message } from '../src/core/message.js';
import type { AuthRequest } from '../src/core/hooks.js';
import type { Clock, Delivery, DisconnectReason, MessageProperties, QoS, SubscriptionOptions } from '../src/core/types.js';
import type { Store } from '../src/store/store.js';

export type { Clock, Delivery, DisconnectReason, Message, MessageProperties, QoS, SubscriptionOptions, Store };
// TLS options and client-certificate fields are protocol-free; gateway transports reach them through this door.
export { certFields, hasPeerCert, secureContextOptions } from '../src/core/tls-options.js';
export { bytesFrom, infinityAsZero, millisecondsFrom, parseBind, parseBytes, parseDurationMs, secondsFrom, splitListenerBind, type BindAddress } from '../src/core/units.js';

/**
 * openSession refuses a session the broker cannot keep: a persistent one (clean start false or an
 * expiry interval) while the store is failing, since whatever it acknowledged would be lost. The
 * gateway answers the device as its protocol says for "server unavailable".
 */
export class SessionRefusedError extends Error {
  readonly reason = 'server_unavailable' as const;
}

/** What a gateway knows about a device when it asks to open a session. */
export interface DeviceInfo {
  clientId: string;
  username: string | null;
  peerHost: string;
  peerPort: number;
  /** Listener id, e.g. 'udp:default'. */
  listener: string;
  /** Local port of that listener (the real one after a bind to port 0): EMQX's `sockport` in $SYS events. */
  sockPort?: number;
  /** Extra placeholders for the mountpoint (`${endpoint_name}` for LwM2M). */
  endpointName?: string;
  /** proto_name for client lists and $SYS events; defaults to EMQX's spelling for the gateway ('CoAP', 'MQTT-SN'). */
  protoName?: string;
  /** Name in $SYS client event topics when it is the device's, not the gateway's (ExProto: the handler's proto_name). */
  sysName?: string;
  /** Protocol version string for client lists ('1.2' for MQTT-SN, '1.0' for CoAP …). */
  protoVer?: string;
  keepalive?: number;
  /** From a successful AuthOutcome: a superuser passes every authorization check (as for MQTT). */
  superuser?: boolean;
}

/** A device that publishes without a session (CoAP connectionless, MQTT-SN QoS -1), after ctx.authenticate said yes. */
export type SessionlessDevice = Omit<DeviceInfo, 'keepalive' | 'superuser'> & { superuser: boolean };

export type AuthOutcome =
  | { ok: true; superuser: boolean; username: string | null }
  | { ok: false; reason: 'bad_username_or_password' | 'not_authorized' | 'banned' | 'server_unavailable' };

export interface OpenSessionOptions {
  /** false resumes an existing session of this client id (subscriptions and queued messages kept). */
  cleanStart: boolean;
  /** Seconds the session outlives its connection; 0 ends it with the connection. */
  expiryInterval: number;
  will?: WillMessage | null;
  /** Max unacknowledged QoS 1/2 deliveries in flight to the device (default: the broker's max_inflight). */
  inflightWindow?: number;
}

export interface WillMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  props?: MessageProperties | null;
  delayInterval?: number;
}

/** Where the broker sends a device's deliveries while it is attached. */
export interface DeliverySink {
  /** One delivery. QoS 1/2 deliveries stay inflight until acknowledged through the session. */
  deliver(d: Delivery): void;
  /** The broker ends this device's connection: kicked, taken over, banned, session discarded. */
  kick(reason: DisconnectReason): void;
}

export type PublishOutcome =
  /** Accepted. `durable` true means wait for `whenDurable` before acknowledging the device. */
  | { ok: true; durable: boolean; matched: number }
  | { ok: false; reason: 'not_authorized' | 'topic_invalid' | 'quota_exceeded' | 'packet_too_large' | 'qos_not_supported' };

export type SubscribeOutcome = { ok: true; qos: QoS } | { ok: false; reason: 'not_authorized' | 'topic_filter_invalid' | 'quota_exceeded' };

/** A device's session in the broker: first-class, listed, kickable, ACL-checked like any MQTT client. */
export interface GatewaySession {
  readonly clientId: string;
  readonly username: string | null;
  /** true when CONNECT resumed a stored session (session present). */
  readonly resumed: boolean;
  /** Publish with the gateway's mountpoint applied; authorization, rewrite and limits as for MQTT. */
  /** `expiryInterval`: v5 Message-Expiry-Interval in seconds (CoAP ?expiry=). */
  publish(topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; props?: MessageProperties | null; expiryInterval?: number }): PublishOutcome;
  subscribe(filter: string, opts: Partial<SubscriptionOptions> & { qos: QoS }): SubscribeOutcome;
  unsubscribe(filter: string): boolean;
  /** Current subscriptions (filters without mountpoint). */
  subscriptions(): { filter: string; opts: SubscriptionOptions }[];
  /** QoS 1 delivery acknowledged by the device (PUBACK). */
  ack(pid: number): void;
  /** QoS 2 delivery: device sent PUBREC; the broker keeps the pid until complete(). */
  received(pid: number): void;
  /** QoS 2 delivery: device sent PUBCOMP. */
  complete(pid: number): void;
  /** The device refused or could not take a delivery; the broker re-queues or re-dispatches it. */
  reject(pid: number): void;
  setWill(will: WillMessage | null): void;
  setInflightWindow(n: number): void;
  /** Messages buffered for the device and not yet handed to deliver() (inflight ones excluded). */
  queuedCount(): number;
  /** QoS 1/2 deliveries handed to deliver() and not yet acknowledged. */
  inflightCount(): number;
  /** Keepalive seen (for client lists); gateways run their own keepalive timers. */
  touch(): void;
  /**
   * Detach the device but keep the session (sleep): deliveries, QoS 0 included, queue up until
   * attach() (durably when the session has an expiry interval). The will is not sent.
   */
  detach(): void;
  /** Re-attach after detach(); queued and inflight messages are delivered again (inflight with dup). */
  attach(sink: DeliverySink): void;
  /**
   * End the connection. `sendWill` publishes the will (abnormal end). The session itself lives on
   * for its expiry interval, or ends now when it is 0.
   */
  close(reason: DisconnectReason, opts?: { sendWill?: boolean }): void;
}

export interface GatewayMetrics {
  inc(name: string, by?: number): void;
}

/**
 * Pre-shared keys for DTLS listeners ([psk_authentication] init_file and the keys pairing handed
 * out). Structurally the DTLS engine's PskSource: `key` runs during a handshake, synchronously.
 */
export interface PskLookup {
  key(identity: string): Buffer | undefined;
  /** Told when an identity's key is withdrawn (unpair, init_file reload): end its DTLS sessions. */
  onRevoked(listener: (identity: string) => void): void;
}

/** The broker, as a gateway sees it. */
export interface GatewayContext {
  /** Gateway name as in config and $SYS topics: 'coap', 'mqttsn', … */
  readonly name: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** The node name used in $SYS topics. */
  readonly node: string;
  /** For gateways with durable state of their own (registrations, predefined topic ids). */
  readonly store: Store;
  /**
   * Same user database, client certificates, HTTP auth, bans and `allow_anonymous` rule as MQTT
   * clients (a request without username and password is anonymous). Every refusal is counted
   * (`gateway.{name}.auth.refused`) and logged once per peer address.
   */
  /** Synchronous when the answer is local (built-in database, bans), a promise only for remote backends. */
  authenticate(req: Omit<AuthRequest, 'protocol'>): AuthOutcome | Promise<AuthOutcome>;
  /**
   * Whether a ban covers this client id, user name or address, for requests that carry no
   * credentials to authenticate with but must still obey bans (LwM2M Bootstrap-Request). Counted
   * and logged as a refusal when true, like authenticate's.
   */
  isBanned(req: { clientId: string; username: string | null; peerHost: string; peerPort: number; listener: string }): boolean;
  /** Predefined topic ids a paired device was given (MQTT-SN pairing), from the device registry; [] when none. */
  predefinedTopics(clientId: string): readonly { id: number; topic: string }[];
  /** PSK identities and keys for DTLS listeners; absent where the host has none (unit tests). */
  readonly psk?: PskLookup;
  /**
   * Open or resume the session of `device.clientId`, taking over any other connection with that
   * id. Emits the connected event ($SYS/brokers/{node}/gateway/{name}/clients/{id}/connected).
   * Throws SessionRefusedError for a persistent session while the store is failing.
   */
  openSession(device: DeviceInfo, opts: OpenSessionOptions, sink: DeliverySink): GatewaySession;
  /**
   * The one publish entry point for a device without a session (CoAP connectionless, MQTT-SN
   * QoS -1), after ctx.authenticate accepted it: mountpoint, limits, topic checks, authorization
   * (as `device.clientId`/`username`) and rewrite exactly as for a session's publish.
   */
  /** `noMountpoint`: the topic is used as given (ExProto RawPublish). */
  publishSessionless(device: SessionlessDevice, topic: string, payload: Buffer, opts: { qos: QoS; retain: boolean; expiryInterval?: number; noMountpoint?: boolean }): PublishOutcome;
  /**
   * Run `fn` once everything accepted so far is durable (group commit). Gateways acknowledge
   * QoS 1/2 publishes whose outcome says `durable: true` from here.
   */
  whenDurable(fn: () => void): void;
  metrics: GatewayMetrics;
}

export interface ListenerInfo {
  id: string;
  type: 'udp' | 'dtls' | 'tcp' | 'ssl' | 'ws' | 'wss' | 'serial';
  bind: string;
  running: boolean;
  /** A running dtls listener's engine counters (sessions, handshakes, failures, alerts...), for metrics. */
  dtls?: Readonly<Record<string, number>>;
}

/** A running gateway. */
export interface Gateway {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Apply new settings live where possible; throw to keep the old ones. */
  reload?(config: unknown): Promise<void>;
  listeners(): ListenerInfo[];
  /**
   * Send a request to a connected device on behalf of the HTTP API (EMQX's device-request API,
   * e.g. CoAP). Returns the HTTP status and JSON body to answer with.
   */
  deviceRequest?(clientId: string, body: unknown): Promise<{ status: number; body: unknown }>;
}

/** What a gateway folder exports from its index.ts. */
export interface GatewayModule<S extends z.ZodType = z.ZodType> {
  name: string;
  /** proto_name in client lists and $SYS client events, spelled as EMQX does ('CoAP', 'MQTT-SN'). */
  protoName: string;
  /** The gateway's name in EMQX's $SYS gateway topics ('coap', 'mqtt-sn', 'lwm2m', 'stomp', 'exproto'). */
  sysName: string;
  /** The gateway's config schema, loaded on demand: zod stays out of the daemon's start path. */
  loadConfigSchema(): Promise<S>;
  create(ctx: GatewayContext, config: z.infer<S>): Gateway;
}
