// The broker's surface for the front ends that are not connections: bridges, the admin API, the
// CLI, $SYS. The Broker class (broker.ts) implements it; helpers code against this interface.
import type { Logger } from 'pino';
import type { FlowSource } from './flow.js';
import type { Message } from '../core/message.js';
import type { Metrics } from '../core/metrics.js';
import type { Clock, DisconnectReason, QoS, SubscriptionOptions } from '../core/types.js';
import type { Store } from '../store/store.js';

/**
 * Sees every accepted message after authorization and rewrite, before routing. Returns true when
 * it buffered a durable write this tick (the bridge log), so the publisher's QoS 1/2 ack must wait
 * for the group commit.
 */
export interface PublishInterceptor {
  onPublish(msg: Message): boolean;
}

export interface ClientSummary {
  clientId: string;
  username: string | null;
  protocol: string;
  protoName: string;
  protoVer: number | string;
  listener: string;
  peerHost: string;
  peerPort: number;
  connected: boolean;
  keepalive: number;
  cleanStart: boolean;
  /** Seconds. */
  expiryInterval: number;
  createdAt: number;
  connectedAt: number;
  disconnectedAt: number;
  subscriptionsCount: number;
  inflightCount: number;
  inflightMax: number;
  mqueueLen: number;
  mqueueMax: number;
  mqueueDropped: number;
  awaitingRelCount: number;
  recvMsg: number;
  sendMsg: number;
  recvOct: number;
  sendOct: number;
  mountpoint: string;
  isBridge: boolean;
}

/** A delivery waiting in a session's queue or window, for the admin API (EMQX mqueue/inflight listings). */
export interface DeliverySummary {
  /**
   * The session's delivery sequence number: unique per session, increasing in insertion order and
   * kept across restarts, so it serves as the listing's position key.
   */
  seq: number;
  message: Message;
  /** QoS of this delivery (the subscription may have downgraded the message's). */
  qos: QoS;
}

export interface SubscriptionSummary {
  clientId: string;
  /** As subscribed, including $share/{group}/ or $queue/. */
  topic: string;
  opts: SubscriptionOptions;
}

export type PublishResult =
  | { ok: true; matched: number; durable: boolean }
  | { ok: false; reason: 'topic_invalid' | 'not_authorized' | 'packet_too_large' | 'quota_exceeded' };

/**
 * Why Broker.publishFrom refused a publish. Each front maps these to its protocol's answer (an MQTT
 * reason code or DISCONNECT, a CoAP response code, an MQTT-SN return code).
 */
export type PublishRefusal =
  | 'qos_not_supported'
  | 'retain_not_supported'
  /** Not a topic name at all: empty, wildcards, U+0000 [MQTT-4.7.3-1..2]. */
  | 'topic_malformed'
  /** A topic name the broker cannot use (a `$delayed/` topic without a valid interval). */
  | 'topic_invalid'
  /** A valid topic name with more than mqtt.max_topic_levels levels. */
  | 'topic_too_deep'
  | 'packet_too_large'
  | 'not_authorized'
  /** Denied, and the ACL's deny_action says to disconnect the publisher. */
  | 'not_authorized_disconnect'
  | 'quota_exceeded';

export type PublishFromResult = { ok: true; matched: number; durable: boolean } | { ok: false; reason: PublishRefusal };

export interface BrokerStats {
  'connections.count': number;
  'connections.max': number;
  'live_connections.count': number;
  'sessions.count': number;
  'topics.count': number;
  'subscriptions.count': number;
  'subscriptions.shared.count': number;
  'subscribers.count': number;
  'retained.count': number;
  'delayed.count': number;
  'mqueue.total': number;
  'inflight.total': number;
}

export interface BrokerEvents {
  /** A client (MQTT or gateway) connected / disconnected; reason as in EMQX's disconnected event. */
  onClientConnected?(c: ClientSummary): void;
  onClientDisconnected?(c: ClientSummary, reason: DisconnectReason): void;
}

/** A pending delayed publish: the message as it will be published (target topic) and when. */
export interface DelayedSummary {
  message: Message;
  /** ms since epoch. */
  due: number;
}

export interface BrokerApi {
  readonly node: string;
  readonly version: string;
  readonly startedAt: number;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly store: Store;

  /** mqtt.publisher_flow_control: whether a congested consumer may hold its publishers (broker/flow.ts). */
  readonly flowControl: boolean;
  /**
   * A bridge whose outbound log grows faster than its link drains it sets itself here from inside
   * onPublish, as a congested session does; the publisher's MQTT front reads and clears it.
   */
  congestedBy: FlowSource | null;

  /** Publish a message built with createMessage(); origin set for bridge ingress. Not ACL-checked. */
  publish(msg: Message): PublishResult;
  addInterceptor(i: PublishInterceptor): void;
  removeInterceptor(i: PublishInterceptor): void;
  addEventListener(l: BrokerEvents): void;

  clients(): Iterable<ClientSummary>;
  client(clientId: string): ClientSummary | null;
  /** Kick: v5 clients get DISCONNECT 0x98; the session is discarded. false when unknown. */
  kick(clientId: string): boolean;
  /** Pending delayed publishes ($delayed/...), soonest first. */
  delayedMessages(): DelayedSummary[];
  delayedMessage(id: number): DelayedSummary | null;
  /** Cancel a pending delayed publish (it is never published); false when unknown. */
  cancelDelayed(id: number): boolean;
  /** Set a connected client's keepalive (seconds, 0 = off): 'not_found' when it has no live connection, 'not_supported' when its protocol cannot. */
  setKeepalive(clientId: string, seconds: number): 'ok' | 'not_found' | 'not_supported';
  subscriptions(clientId?: string): SubscriptionSummary[];
  /**
   * A client's queued deliveries in delivery order ('mqueue'), or its unacknowledged ones by
   * sequence ('inflight'); null when the client has no session.
   */
  deliveries(clientId: string, which: 'mqueue' | 'inflight'): DeliverySummary[] | null;
  /** Subscribe on behalf of a client (API); false when the client has no session. */
  subscribeFor(clientId: string, filter: string, opts: SubscriptionOptions): boolean;
  unsubscribeFor(clientId: string, filter: string): boolean;
  /** Topics with routes (filters subscribed by anyone). */
  topics(): string[];
  retained: {
    list(filter?: string): Message[];
    get(topic: string): Message | null;
    delete(topic: string): boolean;
    count(): number;
  };
  stats(): BrokerStats;
}

export type { QoS };
