// One MQTT connection: bytes in -> packets -> broker calls, deliveries -> bytes out. Implements
// the v3.1 / v3.1.1 / v5 rules (CONNECT, QoS flows, topic aliases, limits, reason codes). The
// socket is any Duplex (TCP, TLS, WebSocket stream).
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { generate, parser as makeParser, type IConnectPacket, type IDisconnectPacket, type ISubscribePacket, type IUnsubscribePacket, type Packet, type Parser } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { AuthResult, Authenticator, RateLimiter, RateLimits } from '../core/hooks.js';
import { createMessage } from '../core/message.js';
import { FLOW_STALL_MS, type FlowSource, type FlowWaiter } from '../broker/flow.js';
import type { Session, WillSpec } from '../broker/session.js';
import { isValidTopicName, levelCount, parseFilter } from '../broker/topic.js';
import type { Clock, Delivery, DisconnectReason, MessageProperties, Outlet, QoS, TimerHandle, UserProperties } from '../core/types.js';
import type { MqttConfig } from '../config/schema.js';
import { FrameSplitter } from './frame.js';
import type { AcceptedConnection } from './listener.js';
import { ackReasonCode, connectLevel, decodeAck, decodePublish, publishErrorCode, TopicCache, type InPublish } from './hot-codec.js';
import { OutBuffer } from './out-buffer.js';
import { cachedWire, encodePublish, type PublishExtras } from './publish-codec.js';
import { RC, disconnectCode, v3ConnackCode } from './reason-codes.js';
import { validateAckProperties, validateFrame, willUserProperties } from './validate.js';

export interface ChannelDeps {
  broker: Broker;
  authenticator: Authenticator;
  rateLimits: RateLimits;
  log: Logger;
  clock: Clock;
  mqtt: () => MqttConfig;
  onClosed(ch: MqttChannel): void;
}

type State = 'awaiting_connect' | 'authenticating' | 'connected' | 'closed';

/**
 * Without flow control (mqtt.publisher_flow_control = false): congested PUBLISH packets one
 * connection may process per event-loop turn, i.e. publishes whose message had to wait in a connected
 * subscriber's queue. A publisher's burst is otherwise handled whole while the subscriber's acks
 * wait for the next turn, and delivery falls far behind ingest (bench: fan-in QoS 1 went from 10k
 * to ~30k delivered/s). With flow control the waits do this better, and pacing on top only cut
 * batches short (bench, six alternating runs: fan-in QoS 1 60k -> 71k delivered/s; offline-session
 * fill 36k -> 47k, durable-normal 59k -> 100k acked/s, whose queues are no congestion at all).
 */
const PUBLISH_PER_TURN = 4;

/** Socket buffer above which QoS 0 deliveries to a slow consumer are dropped rather than buffered. */
const MAX_QOS0_BACKLOG = 4 * 1024 * 1024;
/**
 * QoS 0 output waiting in the socket above which the publisher feeding it is asked to wait
 * (mqtt.publisher_flow_control), well before MAX_QOS0_BACKLOG drops. Without it, a faster ingest only
 * meant more drops: bench fanin-qos0 read 430k msgs/s off the publishers and delivered 50-100k, the
 * subscriber's worker starved of CPU by the broker's reading (2026-11-22 reference run).
 */
const QOS0_FLOW_HIGH_WATER = 1024 * 1024;

export class MqttChannel implements Outlet, FlowWaiter {
  state: State = 'awaiting_connect';
  session: Session | null = null;
  private readonly socket: Duplex;
  private readonly splitter: FrameSplitter;
  /** The will's User Properties read from the CONNECT frame in wire order (mqtt-packet's object form loses it). */
  private willUserProps: UserProperties | null = null;
  /** mqtt-packet's parser for the packets the hot codec does not handle; made on demand. */
  private parser: Parser | null = null;
  private version: 3 | 4 | 5 = 4;
  private v5 = false;
  private clientId = '';
  /** Child logger bound to this connection, made on first use: most connections never log. */
  private logger: Logger | null = null;
  private keepaliveMs = 0;
  private lastSeen = 0;
  private timer: TimerHandle | null = null;
  /** Output of the current tick, written as one buffer at the end of it. */
  private readonly out = new OutBuffer();
  private flushScheduled = false;
  /** v5 limits the peer set in CONNECT. */
  private peerMaxPacket = 0;
  private peerAliasMax = 0;
  /** Outbound topic aliases (topic -> alias) when the peer allows them. */
  private outAliases: Map<string, number> | null = null;
  /** Inbound topic aliases [MQTT-3.3.2-8]. */
  private inAliases: Map<number, string> | null = null;
  /** UTF-8 bytes of the topic names inAliases holds (bounded by MAX_ALIAS_TOPIC_BYTES). */
  private inAliasBytes = 0;
  /** The last topic this client published to (made on its first PUBLISH). */
  private topics: TopicCache | null = null;
  /** Acks held until the store commits (group commit); kept in order [MQTT-4.6.0-2]. Made on first use. */
  private held: OutBuffer | null = null;
  private awaitingCommit = false;
  /** Packets that arrived while the authenticator was deciding; made on first use. */
  private pendingPackets: Packet[] | null = null;
  private msgLimiter: RateLimiter | null = null;
  private byteLimiter: RateLimiter | null = null;
  private paused = false;
  /** mqtt-packet's parser is not re-entrant: no nested drainFrames() from a packet handler. */
  private parsing = false;
  /** Yielding to other connections after PUBLISH_PER_TURN publishes (see there). */
  private yielded = false;
  /** The consumer (subscriber session or bridge) this publisher waits on (mqtt.publisher_flow_control), and the bound on the wait. */
  private flowBlocked: FlowSource | null = null;
  private flowTimer: TimerHandle | null = null;
  /** Since when publishers wait for this socket's QoS 0 backlog to drain; 0 while it is not backed up. */
  private drainWaitSince = 0;
  private readonly conn: AcceptedConnection;

  constructor(
    conn: AcceptedConnection,
    private readonly deps: ChannelDeps,
  ) {
    this.conn = conn;
    this.socket = conn.socket;
    const cfg = deps.mqtt();
    this.splitter = new FrameSplitter(cfg.max_packet_size);
    this.lastSeen = deps.clock.now();
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => {
      this.debug({ err: err.message, clientid: this.clientId }, 'socket_error');
      this.onSocketClosed('sock_closed');
    });
    this.socket.on('close', () => this.onSocketClosed('tcp_closed'));
    // A connection that never sends CONNECT is closed after idle_timeout (EMQX mqtt.idle_timeout).
    this.timer = deps.clock.setTimeout(() => this.onIdleTimeout(), cfg.idle_timeout * 1000);
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastSeen = this.deps.clock.now();
    const s = this.session;
    if (s) s.recvOct += chunk.length;
    this.deps.broker.metrics.c['bytes.received'] += chunk.length;
    if (this.byteLimiter) {
      const wait = this.byteLimiter.consume(chunk.length, this.lastSeen);
      if (wait > 0) this.pauseFor(wait);
    }
    this.splitter.push(chunk);
    // Anything but CONNECT as the first byte is not MQTT (an HTTP probe, a TLS hello): close now
    // instead of waiting for idle_timeout [MQTT-3.1.0-1].
    if (this.state === 'awaiting_connect' && this.splitter.buffered > 0 && this.splitter.peek()![0] !== 0x10) {
      this.protocolViolation('protocol_error', 'first packet is not CONNECT');
      return;
    }
    try {
      this.drainFrames();
    } catch (err) {
      // A bug must cost one connection, not the process or its other clients.
      this.log.error({ err }, 'channel_internal_error');
      this.closeWith('internal_error', true, RC.IMPLEMENTATION_SPECIFIC);
    }
  }

  private drainFrames(): void {
    let congested = 0;
    while (this.state !== 'closed' && this.state !== 'authenticating' && !this.paused && !this.yielded && this.flowBlocked === null) {
      const frame = this.splitter.next();
      if (frame === 'more') return;
      if (typeof frame === 'string') {
        if (this.state === 'awaiting_connect' && connectLevel(this.splitter.peek() ?? Buffer.alloc(0)) === 5) this.v5 = true;
        if (frame === 'packet_too_large') this.protocolViolation('frame_too_large', 'packet exceeds max_packet_size');
        else this.protocolViolation('malformed_packet', 'bad remaining length');
        return;
      }
      this.deps.broker.metrics.c['packets.received']++;
      const type = frame[0]! >> 4;
      if (this.state === 'connected' && type >= 3 && type <= 7) {
        const broker = this.deps.broker;
        const queuedBefore = broker.queuePushes;
        broker.congestedBy = null;
        this.onHotFrame(type, frame);
        if (broker.congestedBy !== null) {
          const s = broker.congestedBy;
          broker.congestedBy = null;
          // Never wait on our own queue (our acks drain it), nor while others wait on us: a waiter
          // that has waiters could close a cycle of connections that all stopped reading.
          const own = this.session;
          if (type === 3 && this.state === 'connected' && own !== null && s !== own && !own.hasWaiters()) this.waitForFlow(s);
          continue;
        }
        if (type === 3 && broker.queuePushes !== queuedBefore && !broker.flowControl && ++congested >= PUBLISH_PER_TURN && this.splitter.buffered > 0) {
          // Let other sockets' input (subscribers' acks) in before the rest of this burst.
          this.yielded = true;
          this.socket.pause();
          setImmediate(resumeTurn, this);
        }
        continue;
      }
      if (type === 1 && this.state === 'awaiting_connect') {
        const level = connectLevel(frame);
        if (level !== 3 && level !== 4 && level !== 5) {
          // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01, then close
          this.write(Buffer.from([0x20, 0x02, 0x00, 0x01]));
          this.protocolViolation('protocol_error', `unsupported protocol level ${level}`);
          return;
        }
        this.version = level as 3 | 4 | 5;
        this.v5 = level === 5;
      }
      // Everything but PUBLISH and the acks is checked to the letter before mqtt-packet, which is lenient
      // (repeated properties, ill-formed UTF-8, trailing bytes): src/mqtt/validate.ts.
      const invalid = validateFrame(frame, this.v5);
      if (invalid !== 0) {
        this.protocolViolation(invalid === RC.MALFORMED_PACKET ? 'malformed_packet' : 'protocol_error', `invalid packet type ${type} (0x${invalid.toString(16)})`, invalid);
        return;
      }
      if (type === 1 && this.v5) this.willUserProps = willUserProperties(frame);
      this.parsing = true;
      try {
        this.parserFor().parse(frame);
      } catch (err) {
        this.protocolViolation('malformed_packet', (err as Error).message);
      } finally {
        this.parsing = false;
        // Frames arrive whole, so the parser holds no state between them: idle connections keep none.
        if (this.state === 'connected' && this.parser) {
          this.parser.removeAllListeners();
          this.parser.on('error', () => {});
          this.parser = null;
        }
      }
    }
  }

  private pauseFor(ms: number): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
    this.debug({ clientid: this.clientId, ms }, 'socket_receive_paused_by_rate_limit');
    const t = setTimeout(() => {
      this.paused = false;
      if (this.state === 'closed' || this.yielded || this.flowBlocked !== null) return;
      this.socket.resume();
      this.drainFrames();
    }, ms);
    t.unref();
  }

  private parserFor(): Parser {
    if (!this.parser) {
      const p = makeParser({ protocolVersion: this.version });
      p.on('packet', (pk: Packet) => this.onPacket(pk));
      p.on('error', (err: Error) => this.protocolViolation('malformed_packet', err.message));
      this.parser = p;
    }
    return this.parser;
  }

  /**
   * Debug lines sit on every connect and disconnect: with debug off, no child logger is made for them
   * (one per connection was ~0.4 KiB of each idle connection, bench idle-conns).
   */
  private debug(obj: object, msg: string): void {
    if (this.deps.log.isLevelEnabled('debug')) this.log.debug(obj, msg);
  }

  private get log(): Logger {
    this.logger ??= this.deps.log.child(
      this.clientId ? { peer: `${this.conn.peerHost}:${this.conn.peerPort}`, listener: this.conn.listener, clientid: this.clientId } : { peer: `${this.conn.peerHost}:${this.conn.peerPort}`, listener: this.conn.listener },
    );
    return this.logger;
  }

  /** Continue after yielding the event loop turn to other connections. */
  resumeAfterYield(): void {
    this.yielded = false;
    if (this.state === 'closed' || this.flowBlocked !== null) return;
    if (!this.paused) this.socket.resume();
    this.drainFrames();
  }

  /**
   * Stop reading this publisher until the queue or bridge log it just filled drains (or FLOW_STALL_MS
   * passes): the kernel's socket buffers and TCP push back on the client, so messages wait
   * unacknowledged on the publisher instead of being accepted and dropped as queue_full.
   */
  private waitForFlow(s: FlowSource): void {
    this.flowBlocked = s;
    this.socket.pause();
    s.addWaiter(this);
    this.deps.broker.metrics.c['mqtt.flow_control.waits']++;
    this.flowTimer = this.deps.clock.setTimeout(() => {
      this.flowTimer = null;
      this.resumeFlow();
    }, FLOW_STALL_MS);
  }

  /** FlowWaiter: the queue drained (or the wait timed out); read on in the next turn, not inside the subscriber's ack. */
  resumeFlow(): void {
    const s = this.flowBlocked;
    if (s === null) return;
    this.flowBlocked = null;
    s.removeWaiter(this);
    if (this.flowTimer) {
      this.deps.clock.clearTimeout(this.flowTimer);
      this.flowTimer = null;
    }
    if (this.state === 'closed' || this.yielded) return;
    this.yielded = true;
    setImmediate(resumeTurn, this);
  }

  /** PUBLISH and the QoS acks, decoded without mqtt-packet (hot path). */
  private onHotFrame(type: number, frame: Buffer): void {
    if (type === 3) {
      const p = decodePublish(frame, this.v5, (this.topics ??= new TopicCache()));
      if (typeof p === 'string') {
        const code = publishErrorCode();
        return this.protocolViolation(code === RC.PROTOCOL_ERROR ? 'protocol_error' : 'malformed_packet', p, code);
      }
      return this.onPublish(p);
    }
    const pid = decodeAck(frame, this.v5);
    if (pid < 0) return this.protocolViolation('malformed_packet', `bad ack packet type ${type}`);
    if (this.v5 && frame.length > 5) {
      const invalid = validateAckProperties(frame);
      if (invalid !== 0) return this.protocolViolation(invalid === RC.MALFORMED_PACKET ? 'malformed_packet' : 'protocol_error', `bad properties in ack type ${type}`, invalid);
    }
    const s = this.session!;
    switch (type) {
      case 4:
        if (!s.puback(pid)) this.debug({ pid }, 'puback_unknown_packet_id');
        return;
      case 5: {
        const failed = this.v5 && ackReasonCode(frame) >= 0x80;
        const known = s.pubrec(pid, failed);
        if (!failed) this.writeAck(6, pid, this.v5 && !known ? RC.PACKET_ID_NOT_FOUND : 0);
        return;
      }
      case 6: {
        const known = s.released(pid);
        this.ack(7, pid, this.v5 && !known ? RC.PACKET_ID_NOT_FOUND : 0);
        return;
      }
      default:
        s.pubcomp(pid);
    }
  }

  private onPacket(p: Packet): void {
    if (this.state === 'closed') return;
    if (this.state === 'authenticating') {
      (this.pendingPackets ??= []).push(p);
      return;
    }
    if (this.state === 'awaiting_connect') {
      if (p.cmd !== 'connect') return this.protocolViolation('protocol_error', `first packet was ${p.cmd}, not CONNECT`);
      return this.onConnect(p);
    }
    switch (p.cmd) {
      case 'subscribe':
        return this.onSubscribe(p);
      case 'unsubscribe':
        return this.onUnsubscribe(p);
      case 'pingreq':
        this.write(PINGRESP);
        return;
      case 'disconnect':
        return this.onDisconnect(p);
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
        return this.protocolViolation('protocol_error', 'second CONNECT');
      case 'auth':
        return this.protocolViolation('protocol_error', 'enhanced authentication is not supported');
      default:
        return this.protocolViolation('protocol_error', `unexpected ${p.cmd} from client`);
    }
  }

  // ---------------------------------------------------------------- CONNECT

  private onConnect(p: IConnectPacket): void {
    const cfg = this.deps.mqtt();
    const broker = this.deps.broker;
    broker.metrics.c['packets.connect.received']++;
    broker.metrics.c['client.connect']++;
    this.version = (p.protocolVersion ?? 4) as 3 | 4 | 5;
    this.v5 = this.version === 5;
    let clientId = p.clientId ?? '';
    const username = p.username ?? null;
    let assigned = false;
    // Flags, UTF-8 and properties were checked on the frame (validateConnect) before parsing.
    if (this.v5 && p.properties?.authenticationMethod !== undefined) {
      // [MQTT-4.12.0-1] enhanced authentication is not supported
      return this.refuse(RC.BAD_AUTH_METHOD, `authentication method ${p.properties.authenticationMethod} not supported`);
    }
    if (cfg.use_username_as_clientid && username) clientId = username;
    if (clientId.length === 0) {
      // [MQTT-3.1.3-8] v3.1.1 needs clean session for an empty id; v3.1 has no empty ids
      if (this.version === 3 || (this.version === 4 && p.clean === false)) return this.refuse(RC.CLIENT_ID_NOT_VALID, 'empty client id');
      clientId = `outpost-${randomBytes(8).toString('hex')}`;
      assigned = true;
    }
    this.clientId = clientId;
    this.logger = null;
    // The limit applies to ids clients choose, not to the one assigned here.
    if (!assigned && Buffer.byteLength(clientId) > cfg.max_clientid_len) return this.refuse(RC.CLIENT_ID_NOT_VALID, 'client id too long');
    const banned = broker.guard.checkBanned(clientId, username, this.conn.peerHost);
    if (banned) return this.refuse(RC.BANNED, `banned: ${banned}`);
    if (p.will) {
      const wq = (p.will.qos ?? 0) as QoS;
      if (!isValidTopicName(p.will.topic, cfg.max_topic_levels)) return this.refuse(RC.TOPIC_NAME_INVALID, 'invalid will topic');
      if (wq > cfg.max_qos_allowed) return this.refuse(RC.QOS_NOT_SUPPORTED, 'will QoS above max_qos_allowed');
      if (p.will.retain && !cfg.retain_available) return this.refuse(RC.RETAIN_NOT_SUPPORTED, 'will retain not available');
    }
    this.state = 'authenticating';
    const req = {
      clientId,
      username,
      password: p.password ?? null,
      peerHost: this.conn.peerHost,
      peerPort: this.conn.peerPort,
      protocol: 'mqtt',
      listener: this.conn.listener,
      ...(this.conn.cert ? { cert: this.conn.cert } : {}),
    };
    let r: AuthResult | Promise<AuthResult>;
    try {
      r = this.deps.authenticator.authenticate(req);
    } catch (err) {
      this.log.error({ err }, 'authenticator_failed');
      r = { ok: false, reason: 'server_unavailable' };
    }
    if (r instanceof Promise) {
      this.socket.pause();
      r.then(
        (res) => this.afterAuth(p, res, assigned),
        (err: unknown) => {
          this.log.error({ err }, 'authenticator_failed');
          this.afterAuth(p, { ok: false, reason: 'server_unavailable' }, assigned);
        },
      );
    } else this.afterAuth(p, r, assigned);
  }

  private afterAuth(p: IConnectPacket, r: AuthResult, assigned: boolean): void {
    if (this.state === 'closed') return;
    this.socket.resume();
    const broker = this.deps.broker;
    if (!r.ok) {
      const code =
        r.reason === 'bad_username_or_password' ? RC.BAD_USERNAME_OR_PASSWORD : r.reason === 'banned' ? RC.BANNED : r.reason === 'server_unavailable' ? RC.SERVER_UNAVAILABLE : RC.NOT_AUTHORIZED;
      // src/auth already logged the rejection with the deciding rule; keep this one at debug.
      return this.refuse(code, `authentication failed: ${r.reason}`, 'debug');
    }
    if (r.clientId) this.clientId = r.clientId;
    const cfg = this.deps.mqtt();
    const props = p.properties ?? {};
    // Keepalive: server_keepalive overrides; above max_keepalive the client gets the maximum [MQTT-3.2.2-21].
    let keepalive = p.keepalive ?? 0;
    let serverKeepalive: number | undefined;
    if (cfg.server_keepalive > 0) serverKeepalive = keepalive = cfg.server_keepalive;
    else if (keepalive > cfg.max_keepalive || (keepalive === 0 && cfg.max_keepalive < 65535)) serverKeepalive = keepalive = cfg.max_keepalive;
    let expiry: number;
    if (this.v5) {
      expiry = props.sessionExpiryInterval ?? 0;
      if (cfg.max_session_expiry_interval > 0 && expiry > cfg.max_session_expiry_interval) expiry = cfg.max_session_expiry_interval;
    } else expiry = p.clean === false ? cfg.session_expiry_interval : 0;
    // A session that outlives the connection needs the store; while it takes no writes, refuse
    // rather than accept state that would be lost (v5 0x89 Server busy, v3 return code 3).
    if ((p.clean === false || expiry > 0) && broker.refusesPersistentSessions()) {
      return this.refuse(RC.SERVER_BUSY, 'persistent session refused: the store is not writable (store_write_failing)');
    }
    this.peerMaxPacket = props.maximumPacketSize ?? 0;
    this.peerAliasMax = this.v5 ? (props.topicAliasMaximum ?? 0) : 0;
    const window = this.v5 && props.receiveMaximum ? props.receiveMaximum : 65535;
    let will: WillSpec | null = null;
    if (p.will) {
      const wp = p.will.properties ?? {};
      const payload = typeof p.will.payload === 'string' ? Buffer.from(p.will.payload) : p.will.payload;
      will = {
        topic: p.will.topic,
        payload,
        qos: (p.will.qos ?? 0) as QoS,
        retain: p.will.retain ?? false,
        props: this.v5 ? messageProps(wp, this.willUserProps) : null,
        delay: wp.willDelayInterval ?? 0,
        expiry: wp.messageExpiryInterval ?? 0,
      };
      this.willUserProps = null;
    }
    const username = r.username !== undefined ? r.username : (p.username ?? null);
    const { session, present } = broker.openSession({
      clientId: this.clientId,
      username,
      superuser: r.superuser,
      protocol: 'mqtt',
      protoName: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protoVer: this.version,
      listener: this.conn.listener,
      peerHost: this.conn.peerHost,
      peerPort: this.conn.peerPort,
      sockPort: this.conn.sockPort,
      keepalive,
      cleanStart: p.clean !== false,
      expiryInterval: expiry,
      will,
    });
    this.session = session;
    this.state = 'connected';
    const lim = this.deps.rateLimits;
    this.msgLimiter = lim.messages();
    this.byteLimiter = lim.bytes();
    // MQTT 3.1 has no Session Present flag: its CONNACK's first byte is reserved, 0 (MQTT 3.1 §3.2).
    const connack: Packet = { cmd: 'connack', sessionPresent: this.version === 3 ? false : present, ...(this.v5 ? { reasonCode: 0 } : { returnCode: 0 }) };
    if (this.v5) {
      const cp: NonNullable<import('mqtt-packet').IConnackPacket['properties']> = {
        topicAliasMaximum: cfg.max_topic_alias,
        maximumPacketSize: cfg.max_packet_size,
        retainAvailable: cfg.retain_available,
        wildcardSubscriptionAvailable: cfg.wildcard_subscription,
        sharedSubscriptionAvailable: cfg.shared_subscription,
        subscriptionIdentifiersAvailable: true,
        receiveMaximum: Math.max(1, Math.min(cfg.max_awaiting_rel || 65535, 65535)),
      };
      if (cfg.max_qos_allowed < 2) cp.maximumQoS = cfg.max_qos_allowed;
      if (assigned) cp.assignedClientIdentifier = this.clientId;
      // Lets an Outpost bridge on the other side recognise this node and end bridge rings.
      cp.userProperties = { 'outpost-node': broker.node };
      if (serverKeepalive !== undefined) cp.serverKeepAlive = serverKeepalive;
      if (cfg.max_session_expiry_interval > 0 && (props.sessionExpiryInterval ?? 0) > expiry) cp.sessionExpiryInterval = expiry;
      connack.properties = cp;
    }
    this.write(generate(connack, { protocolVersion: this.version }));
    broker.metrics.c['client.connack']++;
    this.keepaliveMs = keepalive > 0 ? keepalive * 1000 * cfg.keepalive_multiplier : 0;
    this.armKeepalive();
    broker.attach(session, this, window);
    this.debug({ proto_ver: this.version, clean_start: p.clean !== false, keepalive, session_present: present }, 'client_connected');
    // Packets that arrived while authenticating are processed in order now. On the synchronous
    // path we are still inside the parser: the outer drainFrames() loop picks up the rest.
    const pending = this.pendingPackets;
    if (pending !== null) {
      this.pendingPackets = null;
      for (const q of pending) this.onPacket(q);
    }
    if (!this.parsing) this.drainFrames();
  }

  /** CONNACK with a failure code, then close [MQTT-3.2.2-5]. */
  private refuse(v5code: number, why: string, level: 'info' | 'debug' = 'info'): void {
    this.log[level]({ reason: why, code: v5code }, 'client_connect_refused');
    const pkt: Packet = this.v5
      ? { cmd: 'connack', sessionPresent: false, reasonCode: v5code }
      : { cmd: 'connack', sessionPresent: false, returnCode: v3ConnackCode(v5code) };
    this.write(generate(pkt, { protocolVersion: this.version }));
    this.shutdown();
  }

  // ---------------------------------------------------------------- PUBLISH in

  private onPublish(p: InPublish): void {
    const cfg = this.deps.mqtt();
    const broker = this.deps.broker;
    const s = this.session!;
    broker.metrics.c['packets.publish.received']++;
    const qos = p.qos;
    const pid = p.pid;
    if (this.msgLimiter) {
      const wait = this.msgLimiter.consume(1, this.deps.clock.now());
      if (wait > 0) this.pauseFor(wait);
    }
    let topic = p.topic;
    if (this.v5 && p.alias !== undefined) {
      const alias = p.alias;
      if (alias === 0 || alias > cfg.max_topic_alias) return this.protocolViolation('protocol_error', `topic alias ${alias} out of range`, RC.TOPIC_ALIAS_INVALID);
      this.inAliases ??= new Map();
      if (topic.length > 0) {
        // The topics a client's aliases stand for stay in memory for the connection's life: bounded in
        // bytes, not only in count (65535 aliases of 64 KB topics would be 4 GB). Re-setting an alias
        // frees its old topic's share.
        const old = this.inAliases.get(alias);
        const bytes = this.inAliasBytes + Buffer.byteLength(topic) - (old === undefined ? 0 : Buffer.byteLength(old));
        if (bytes > MAX_ALIAS_TOPIC_BYTES) {
          broker.metrics.c['mqtt.topic_alias.quota_exceeded']++;
          return this.protocolViolation('quota_exceeded', `topic aliases hold more than ${MAX_ALIAS_TOPIC_BYTES} bytes of topic names`, RC.QUOTA_EXCEEDED);
        }
        this.inAliasBytes = bytes;
        this.inAliases.set(alias, topic);
      } else {
        const t = this.inAliases.get(alias);
        if (t === undefined) return this.protocolViolation('protocol_error', `unknown topic alias ${alias}`);
        topic = t;
      }
    }
    if (topic.length === 0) return this.protocolViolation('protocol_error', 'empty topic without topic alias', RC.PROTOCOL_ERROR);
    if (qos === 2 && cfg.max_qos_allowed === 2) {
      // A resent QoS 2 PUBLISH is acknowledged again but not delivered twice [MQTT-4.3.3-9].
      if (s.awaitingRel.has(pid)) {
        this.ack(5, pid, 0);
        return;
      }
      if (cfg.max_awaiting_rel > 0 && s.awaitingRel.size >= cfg.max_awaiting_rel) {
        broker.metrics.c['messages.dropped']++;
        // [MQTT-3.3.4-8] more unacknowledged QoS 2 than the advertised Receive Maximum
        if (this.v5) return this.protocolViolation('protocol_error', `more than ${cfg.max_awaiting_rel} QoS 2 messages awaiting PUBREL`, RC.RECEIVE_MAXIMUM_EXCEEDED);
        this.log.warn({ max: cfg.max_awaiting_rel }, 'dropped_qos2_packet: awaiting_rel_full');
        return;
      }
    }
    // Limits, topic checks, authorization and rewrite: the broker's one publish door, as for gateways.
    const r = broker.publishFrom(s, topic, p.payload, qos, p.retain, p.props, p.expiry, this.lastSeen);
    if (!r.ok) {
      switch (r.reason) {
        case 'qos_not_supported':
          return this.protocolViolation('protocol_error', `QoS ${qos} above max_qos_allowed`, RC.QOS_NOT_SUPPORTED);
        case 'retain_not_supported':
          return this.protocolViolation('protocol_error', 'retain not available', RC.RETAIN_NOT_SUPPORTED);
        case 'topic_malformed':
          return this.protocolViolation('protocol_error', `invalid topic name ${JSON.stringify(topic)}`, RC.TOPIC_NAME_INVALID);
        case 'topic_too_deep':
          if (!this.v5) return this.protocolViolation('protocol_error', `topic ${JSON.stringify(topic)} has more than max_topic_levels levels`);
          this.log.info({ topic }, 'publish_topic_invalid');
          if (qos > 0) this.ack(qos === 1 ? 4 : 5, pid, RC.TOPIC_NAME_INVALID);
          return;
        case 'quota_exceeded':
          // MQTT 3 has no negative PUBACK: refusing means closing, never a plain acknowledgement.
          if (!this.v5) return this.protocolViolation('quota_exceeded', 'publish refused: quota exceeded (store not writable)');
          break;
        case 'not_authorized':
        case 'not_authorized_disconnect':
          this.debug({ topic, qos, retain: p.retain }, 'authorization_denied: publish');
          if (r.reason === 'not_authorized_disconnect') return this.protocolViolation('not_authorized', `publish to ${topic} denied`, RC.NOT_AUTHORIZED);
          if (qos === 1) this.ack(4, pid, RC.NOT_AUTHORIZED);
          else if (qos === 2) {
            if (!this.v5) s.receivedQos2(pid, this.lastSeen);
            this.ack(5, pid, RC.NOT_AUTHORIZED);
          }
          return;
      }
    }
    if (qos === 0) return;
    let rc = 0;
    if (!r.ok) rc = r.reason === 'topic_invalid' ? RC.TOPIC_NAME_INVALID : r.reason === 'packet_too_large' ? RC.PACKET_TOO_LARGE : r.reason === 'quota_exceeded' ? RC.QUOTA_EXCEEDED : RC.UNSPECIFIED_ERROR;
    else if (r.matched === 0) rc = RC.NO_MATCHING_SUBSCRIBERS;
    const relDurable = qos === 2 && s.receivedQos2(pid, this.lastSeen);
    if ((r.ok && r.durable) || relDurable) this.holdAck(qos === 1 ? 4 : 5, pid, rc);
    else this.ack(qos === 1 ? 4 : 5, pid, rc);
  }

  /** Send an ack now, unless earlier acks are still waiting for the commit (ack order). */
  private ack(type: 4 | 5 | 7, pid: number, rc: number): void {
    const held = this.held;
    if (held !== null && held.count > 0) held.ack(type, pid, rc, this.v5);
    else this.writeAck(type, pid, rc);
  }

  /** Hold an ack until the store's group commit makes the message durable. */
  private holdAck(type: 4 | 5, pid: number, rc: number): void {
    (this.held ??= new OutBuffer()).ack(type, pid, rc, this.v5);
    if (!this.awaitingCommit) {
      this.awaitingCommit = true;
      this.deps.broker.store.afterCommit(this);
    }
  }

  /** CommitListener: everything accepted so far is durable. */
  committed(): void {
    this.awaitingCommit = false;
    const held = this.held;
    if (held === null || held.count === 0) return;
    if (this.state === 'closed') {
      held.clear();
      return;
    }
    this.out.append(held);
    this.scheduleFlush();
  }

  // ---------------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE

  private onSubscribe(p: ISubscribePacket): void {
    const broker = this.deps.broker;
    const s = this.session!;
    const subId = this.v5 ? (p.properties?.subscriptionIdentifier ?? 0) : 0;
    const codes: number[] = [];
    const retainedQueue: [import('../broker/router.js').Subscription<Session>, import('../core/message.js').Message[]][] = [];
    for (const sub of p.subscriptions) {
      const parsed = parseFilter(sub.topic);
      if (this.v5 && parsed?.group && sub.nl) {
        // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
        return this.protocolViolation('protocol_error', 'no-local on a shared subscription');
      }
      const aclTopic = parsed ? parsed.filter : sub.topic;
      const decision = parsed ? broker.authorize(s, 'subscribe', aclTopic, sub.qos, false) : 'allow';
      if (decision !== 'allow') {
        this.debug({ topic: sub.topic }, 'authorization_denied: subscribe');
        if (decision === 'disconnect') return this.protocolViolation('not_authorized', `subscribe to ${sub.topic} denied`, RC.NOT_AUTHORIZED);
        codes.push(this.v5 ? RC.NOT_AUTHORIZED : 0x80);
        continue;
      }
      const raw = rewriteRaw(sub.topic, parsed, (t) => broker.rewriteTopic('subscribe', t, s));
      const r = broker.subscribe(s, raw, { qos: sub.qos, nl: this.v5 ? !!sub.nl : false, rap: this.v5 ? !!sub.rap : false, rh: (this.v5 ? (sub.rh ?? 0) : 0) as 0 | 1 | 2, subId });
      if (r.rc >= 0x80) codes.push(this.v5 ? r.rc : 0x80);
      else {
        codes.push(r.rc);
        if ('retained' in r && r.retained.length) retainedQueue.push([r.sub, r.retained]);
      }
    }
    this.write(generate({ cmd: 'suback', messageId: p.messageId ?? 0, granted: codes }, { protocolVersion: this.version }));
    // Retained messages follow the SUBACK [MQTT-3.8.4-4].
    for (const [sub, msgs] of retainedQueue) broker.deliverRetained(s, sub, msgs);
  }

  private onUnsubscribe(p: IUnsubscribePacket): void {
    const broker = this.deps.broker;
    const s = this.session!;
    const codes: number[] = [];
    for (const t of p.unsubscriptions) {
      const parsed = parseFilter(t);
      const raw = rewriteRaw(t, parsed, (x) => broker.rewriteTopic('subscribe', x, s));
      codes.push(broker.unsubscribe(s, raw) ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
    }
    const pkt: Packet = this.v5 ? { cmd: 'unsuback', messageId: p.messageId ?? 0, granted: codes } : { cmd: 'unsuback', messageId: p.messageId ?? 0, granted: [] };
    this.write(generate(pkt, { protocolVersion: this.version }));
  }

  // ---------------------------------------------------------------- DISCONNECT / close

  private onDisconnect(p: IDisconnectPacket): void {
    const s = this.session!;
    const code = p.reasonCode ?? 0;
    if (this.v5 && p.properties?.sessionExpiryInterval !== undefined) {
      // [MQTT-3.14.2-2] expiry cannot be set on DISCONNECT when CONNECT had 0
      if (s.expiryInterval === 0 && p.properties.sessionExpiryInterval > 0) return this.protocolViolation('protocol_error', 'session expiry set on DISCONNECT after 0 in CONNECT');
      s.expiryInterval = p.properties.sessionExpiryInterval;
    }
    // Normal DISCONNECT suppresses the will; v5 reason 0x04 asks for it [MQTT-3.14.4-3].
    const sendWill = this.v5 && code === RC.DISCONNECT_WITH_WILL;
    this.finish('normal', sendWill);
  }

  private onIdleTimeout(): void {
    this.timer = null;
    if (this.state === 'awaiting_connect' || this.state === 'authenticating') {
      this.log.info('idle_timeout: no CONNECT');
      this.shutdown();
    }
  }

  private armKeepalive(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.keepaliveMs <= 0) return;
    this.timer = this.deps.clock.setTimeout(() => this.checkKeepalive(), this.keepaliveMs);
  }

  /** One timer per connection, re-armed only when it fires: no timer churn per packet. */
  private checkKeepalive(): void {
    this.timer = null;
    if (this.state !== 'connected') return;
    const idle = this.deps.clock.now() - this.lastSeen;
    if (idle >= this.keepaliveMs) {
      this.log.info({ keepalive_ms: this.keepaliveMs }, 'keepalive_timeout');
      this.closeWith('keepalive_timeout', true);
      return;
    }
    this.timer = this.deps.clock.setTimeout(() => this.checkKeepalive(), this.keepaliveMs - idle);
  }

  /** Close for a protocol violation: v5 DISCONNECT with a reason code, log line naming the cause. */
  private protocolViolation(reason: DisconnectReason, detail: string, v5code?: number): void {
    if (this.state === 'closed') return;
    if (reason === 'malformed_packet' || reason === 'frame_too_large') this.deps.broker.metrics.c['packets.malformed']++;
    this.log.warn({ reason, detail }, 'connection_closed_protocol_violation');
    if (this.state === 'awaiting_connect' || this.state === 'authenticating') {
      // v5: CONNACK with the reason before closing (MQTT 5 §4.13.1, [MQTT-3.2.2-5]); v3 has no code for it.
      const code =
        v5code ??
        (reason === 'frame_too_large' ? RC.PACKET_TOO_LARGE : reason === 'malformed_packet' ? RC.MALFORMED_PACKET : reason === 'protocol_error' ? RC.PROTOCOL_ERROR : undefined);
      if (this.v5 && code !== undefined) this.write(generate({ cmd: 'connack', sessionPresent: false, reasonCode: code }, { protocolVersion: 5 }));
      this.shutdown();
      return;
    }
    this.closeWith(reason, true, v5code);
  }

  /** Server-initiated close of a connected client: DISCONNECT (v5), then session bookkeeping. */
  private closeWith(reason: DisconnectReason, sendWill: boolean, v5code?: number): void {
    if (this.state === 'closed') return;
    if (this.v5) this.write(generate({ cmd: 'disconnect', reasonCode: v5code ?? disconnectCode(reason) }, { protocolVersion: 5 }));
    this.finish(reason, sendWill);
  }

  private finish(reason: DisconnectReason, sendWill: boolean): void {
    if (this.state === 'closed') return;
    const s = this.session;
    this.shutdown();
    if (s) this.deps.broker.connectionClosed(s, this, reason, sendWill);
  }

  private onSocketClosed(reason: DisconnectReason): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected') {
      this.debug({ reason }, 'client_disconnected');
      // A lost connection is an abnormal end: the will goes out [MQTT-3.1.2-8].
      this.finish(reason, true);
    } else this.shutdown();
  }

  /** Stop everything on this connection; does not touch the session. */
  private shutdown(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    this.resumeFlow();
    // The parser may still be mid-parse and emit more errors: keep a listener, drop the rest.
    if (this.parser) {
      this.parser.removeAllListeners('packet');
      this.parser.removeAllListeners('error');
      this.parser.on('error', () => {});
      this.parser = null;
    }
    this.flush();
    this.socket.end();
    // Give the peer a moment to read the final packet, then make sure the fd is released.
    const t = setTimeout(() => this.socket.destroy(), 2000);
    t.unref();
    this.deps.onClosed(this);
  }

  // ---------------------------------------------------------------- Outlet (deliveries)

  deliver(d: Delivery): void {
    if (this.state !== 'connected') return;
    const m = d.message;
    const s = this.session!;
    const expiry = this.v5 ? m.remainingExpiry(this.deps.clock.now()) : -1;
    // The cached wire form when nothing per-subscriber is needed, else this delivery's own encoding.
    let wire: Buffer | null = null;
    let buf: Buffer;
    let alias = 0;
    let aliasOnly = false;
    if (this.peerAliasMax > 0) {
      this.outAliases ??= new Map();
      const a = this.outAliases.get(m.topic);
      if (a !== undefined) {
        alias = a;
        aliasOnly = true;
      } else if (this.outAliases.size < this.peerAliasMax) {
        alias = this.outAliases.size + 1;
        this.outAliases.set(m.topic, alias);
      }
    }
    if (!this.v5 || (expiry < 0 && d.subIds === null && alias === 0)) {
      buf = wire = cachedWire(m, this.v5, d.qos, d.retain);
    } else {
      const x: PublishExtras = { expiry, subIds: d.subIds, alias, aliasOnly };
      buf = encodePublish(m, m.topic, true, d.qos, d.retain, d.dup, d.pid, x);
    }
    // [MQTT-3.1.2-24] never send more than the client's Maximum-Packet-Size
    if (this.peerMaxPacket > 0 && buf.length > this.peerMaxPacket) {
      if (alias && !aliasOnly) this.outAliases!.delete(m.topic);
      if (d.qos > 0) s.abandon(d.pid, 'too_large');
      else this.deps.broker.onDrop(s, m, 'too_large');
      return;
    }
    if (d.qos === 0) {
      const backlog = this.socket.writableLength + this.out.bytes;
      if (backlog > MAX_QOS0_BACKLOG) {
        this.deps.broker.onDrop(s, m, 'queue_full');
        return;
      }
      if (backlog > QOS0_FLOW_HIGH_WATER && this.deps.broker.flowControl) this.qos0Backlogged(s);
    }
    this.deps.broker.metrics.c['messages.sent']++;
    this.deps.broker.metrics.c['packets.publish.sent']++;
    if (wire !== null) this.out.publish(wire, d.qos, d.dup, d.pid);
    else this.out.packet(buf);
    this.scheduleFlush();
  }

  /**
   * The socket holds more QoS 0 output than QOS0_FLOW_HIGH_WATER: the publisher of this message waits
   * until it drains, as for a session's queue. A reader that drained nothing for FLOW_STALL_MS is
   * stalled and holds nobody; MAX_QOS0_BACKLOG then drops as before. The 'drain' listener exists only
   * while backed up (a closure per idle connection would cost memory).
   */
  private qos0Backlogged(s: Session): void {
    const now = this.deps.clock.now();
    if (this.drainWaitSince === 0) {
      this.drainWaitSince = now;
      this.socket.once('drain', () => {
        this.drainWaitSince = 0;
        if (this.state === 'connected') s.outletDrained();
      });
    } else if (now - this.drainWaitSince >= FLOW_STALL_MS) return;
    this.deps.broker.congestedBy = s;
  }

  release(pid: number): void {
    if (this.state !== 'connected') return;
    this.writeAck(6, pid, 0);
  }

  /** As EMQX's set_keepalive: the new interval (times keepalive_multiplier) counts from now. */
  setKeepalive(seconds: number): void {
    if (this.state !== 'connected') return;
    this.keepaliveMs = seconds > 0 ? seconds * 1000 * this.deps.mqtt().keepalive_multiplier : 0;
    this.lastSeen = this.deps.clock.now();
    this.armKeepalive();
  }

  kick(reason: DisconnectReason): void {
    if (this.state === 'closed') return;
    this.log.info({ reason }, 'client_kicked');
    if (this.v5 && this.state === 'connected') this.write(generate({ cmd: 'disconnect', reasonCode: disconnectCode(reason) }, { protocolVersion: 5 }));
    this.shutdown();
  }

  /**
   * Everything written during a tick goes out as one buffer when the tick ends: one syscall and no
   * per-packet stream bookkeeping (bench: fan-in QoS 1).
   */
  private write(buf: Buffer): void {
    this.out.packet(buf);
    this.scheduleFlush();
  }

  /** An ack into this tick's output, encoded in place (no Buffer of its own). */
  private writeAck(type: 4 | 5 | 6 | 7, pid: number, rc: number): void {
    this.out.ack(type, pid, rc, this.v5);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushChannel, this);
    }
  }

  flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    const n = out.count;
    if (n === 0) return;
    const m = this.deps.broker.metrics.c;
    m['bytes.sent'] += out.bytes;
    m['packets.sent'] += n;
    const buf = out.take()!;
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  get id(): string {
    return this.clientId;
  }
}

const PINGRESP = Buffer.from([0xd0, 0x00]);

/**
 * Most bytes of topic names one connection's inbound topic aliases may hold. A client that goes past
 * it is disconnected with 0x97 Quota exceeded (MQTT 5 §4.13: an implementation limit) and counted in
 * mqtt.topic_alias.quota_exceeded. 1 MiB is the default Topic Alias Maximum (65535) of 16-byte topics.
 */
export const MAX_ALIAS_TOPIC_BYTES = 1024 * 1024;

// Module-level callbacks with the channel as argument: no closures per connection.
function flushChannel(ch: MqttChannel): void {
  ch.flush();
}

function resumeTurn(ch: MqttChannel): void {
  ch.resumeAfterYield();
}

/** The will's message properties; its user properties come from the frame (`up`), in wire order. */
function messageProps(
  p: {
    payloadFormatIndicator?: boolean;
    contentType?: string;
    responseTopic?: string;
    correlationData?: Buffer;
  },
  up: UserProperties | null,
): MessageProperties | null {
  let out: MessageProperties | null = null;
  if (p.payloadFormatIndicator !== undefined) (out ??= {}).payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) (out ??= {}).contentType = p.contentType;
  if (p.responseTopic !== undefined) (out ??= {}).responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) (out ??= {}).correlationData = p.correlationData;
  if (up !== null) (out ??= {}).userProperties = up;
  return out;
}

/** Rewrite only the filter part of $share/$queue subscriptions (EMQX). */
function rewriteRaw(raw: string, parsed: ReturnType<typeof parseFilter>, rw: (t: string) => string): string {
  if (!parsed) return raw;
  const f = rw(parsed.filter);
  if (f === parsed.filter) return raw;
  if (parsed.group === '$queue' && raw.startsWith('$queue/')) return `$queue/${f}`;
  if (parsed.group) return `$share/${parsed.group}/${f}`;
  if (parsed.exclusive) return `$exclusive/${f}`;
  return f;
}
