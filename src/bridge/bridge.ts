// One upstream bridge: a PublishInterceptor that appends matching local messages to the durable
// outbound log, and an MQTT client session towards the upstream that drains the log through a
// bounded in-flight window and republishes ingress messages locally. Spec: src/bridge/SPEC.md §5.
import type { Logger } from 'pino';
import type { ConnectionOptions } from 'node:tls';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { InflightWindow, type Inflight } from './inflight.js';
import type { BrokerApi, PublishInterceptor } from '../broker/api.js';
import { FLOW_STALL_MS, FlowWaiters, flowHighWater, type FlowSource, type FlowWaiter } from '../broker/flow.js';
import { createMessage, type Message } from '../core/message.js';
import type { QoS, TimerHandle } from '../core/types.js';
import { Backoff } from './backoff.js';
import type { BridgeConfig } from './config.js';
import { parseServer, type ServerAddress } from './address.js';
import { Link, tlsOptions } from './link.js';
import { EgressMapping, IngressMapping } from './mapping.js';
import { Ingress } from './ingress.js';
import { mappedMessage, OutboundLog, type DropReason, type LogEntry } from './outbound-log.js';
import { NODE_PROPERTY, pathContains, withPathMarker } from './loop-marker.js';
import { DropReporter } from './drop-reporter.js';
import { emptyCounters, RateMeter, type BridgeCounters, type BridgeStatus } from './status.js';
import { wireProps } from './wire.js';
import { BRIDGE_ERRORS, BridgeError, classifyError, type BridgeErrorCode } from './errors.js';

export type LinkState = 'stopped' | 'connecting' | 'connected' | 'waiting';

export interface BridgeOptions {
  /** Jitter source for reconnect backoff, [0, 1). */
  random?: () => number;
  /** Node name for the default client id. */
  node: string;
}

const TICK_MS = 250;
/** A connection that stayed up this long resets the backoff (a flapping link keeps backing off). */
const STABLE_MS = 10_000;
/** Sends per pump before yielding to the event loop (QoS 0 backlogs do not take the window). */
const PUMP_BUDGET = 2000;

const PROTO: Record<BridgeConfig['proto_ver'], 3 | 4 | 5> = { v3: 3, v4: 4, v5: 5 };

export class Bridge implements PublishInterceptor, FlowSource {
  readonly name: string;
  readonly clientId: string;
  state: LinkState = 'stopped';
  readonly counters: BridgeCounters = emptyCounters();

  private readonly log: Logger;
  private readonly outbound: OutboundLog;
  private readonly egress: EgressMapping[];
  private readonly ingress: Ingress;
  private readonly servers: ServerAddress[];
  private readonly proto: 3 | 4 | 5;
  private readonly backoff: Backoff;
  private readonly drops: DropReporter;
  private readonly stateTopic: string;
  private readonly metricPrefix: string;
  /** Counter names built once: no string concatenation per message on the publish path. */
  private readonly mn: Record<'matched' | 'success' | 'dropped' | 'failed' | 'retried' | 'stalled' | 'received' | 'loops', string>;
  /** This node's name when loop_marker is on, else null. */
  private readonly marker: string | null;
  private readonly dropNames = new Map<DropReason, string>();

  private link: Link | null = null;
  private server: ServerAddress | null = null;
  private serverIdx = 0;
  private readonly inflight = new InflightWindow();
  private window: number;
  private maxPacket = 0;
  private maxQos: QoS = 2;
  private retainAvailable = true;
  private keepaliveMs = 0;
  private remoteNode: string | null = null;
  private writeBlocked = false;
  private pumpScheduled = false;
  private subscribedOnce = false;
  private tickTimer: TimerHandle | null = null;
  private reconnectTimer: TimerHandle | null = null;
  private connectStartedAt = 0;
  private connectedAt = 0;
  private lastAckAt = 0;
  private lastSentAt = 0;
  private lastRecvAt = 0;
  private lastError: string | null = null;
  private lastErrorCode: BridgeErrorCode | null = null;
  private readonly rate = new RateMeter();
  private tokens = 0;
  private tokensAt = 0;
  private readonly pumpBound = () => this.pump();
  /**
   * Publisher flow control: publishers whose messages made the log's backlog grow past high water
   * while the link drains it wait here. Growth is measured from the lowest backlog since the link
   * came up, so what an outage left behind holds nobody during its replay: only a backlog that keeps
   * growing faster than the uplink takes it does (bench bridge-egress: the window of 32 got one round
   * trip per event-loop turn while ten publishers filled the turns, 3k forwarded of 56k taken in).
   */
  private readonly waiters = new FlowWaiters();
  private backlogFloor = 0;

  constructor(
    private readonly broker: BrokerApi,
    readonly cfg: BridgeConfig,
    name: string,
    parentLog: Logger,
    opts: BridgeOptions,
  ) {
    this.name = name;
    this.log = parentLog.child({ bridge: name });
    this.clientId = cfg.clientid ?? `${opts.node}:${name}`;
    this.proto = PROTO[cfg.proto_ver];
    this.marker = cfg.loop_marker ? opts.node : null;
    this.egress = cfg.egress.map((e) => new EgressMapping(e));
    this.ingress = new Ingress(broker, name, this.clientId, cfg.ingress.map((i) => new IngressMapping(i)), this.log, {
      received: () => {
        this.counters.received++;
        broker.metrics.inc(this.mn.received);
      },
      dropped: (reason, m) => this.dropped(reason, m),
      loopPrevented: () => this.loopPrevented(),
      marker: this.marker,
    });
    this.servers = cfg.servers.map((s) => {
      const a = parseServer(s, cfg.tls.enable);
      if (!a) throw new BridgeError('OUTPOST_ERR_BRIDGE_SERVER_ADDRESS', `bridge ${name}: "${s}"`);
      return a;
    });
    this.window = cfg.replay.inflight;
    this.backoff = new Backoff(cfg.reconnect.min * 1000, cfg.reconnect.max * 1000, opts.random);
    this.stateTopic = cfg.notification_topic ?? `$SYS/broker/connection/${name}/state`;
    this.metricPrefix = `bridge.${name}.`;
    const mp = this.metricPrefix;
    this.mn = { matched: mp + 'matched', success: mp + 'success', dropped: mp + 'dropped', failed: mp + 'failed', retried: mp + 'retried', stalled: mp + 'stalled', received: mp + 'received', loops: mp + 'loop_prevented' };
    this.drops = new DropReporter(this.log, broker.clock);
    this.outbound = new OutboundLog(
      broker.store,
      name,
      {
        maxMessages: cfg.buffer.max_messages,
        maxBytes: cfg.buffer.max_bytes,
        overflow: cfg.buffer.overflow,
        maxQos0: cfg.buffer.max_qos0_messages,
        ttl: cfg.buffer.ttl * 1000,
      },
      (reason, e) => this.dropped(reason, e.msg),
    );
  }

  // ---- lifecycle ----

  start(): void {
    if (this.state !== 'stopped') return;
    const m = this.broker.metrics;
    const p = this.metricPrefix;
    m.registerGauge(p + 'queuing', () => this.outbound.count - this.inflight.size);
    m.registerGauge(p + 'queued_bytes', () => this.outbound.bytes);
    m.registerGauge(p + 'inflight', () => this.inflight.size);
    m.registerGauge(p + 'connected', () => (this.state === 'connected' ? 1 : 0));
    m.registerGauge(p + 'replay_lag_ms', () => this.replayLag());
    m.registerGauge(p + 'oldest_queued_age_ms', () => this.oldestAge());
    this.broker.addInterceptor(this);
    this.state = 'waiting';
    this.publishState(false);
    if (this.outbound.count > 0) this.log.info({ queued: this.outbound.count, bytes: this.outbound.bytes }, 'bridge_backlog_loaded');
    this.tickTimer = this.broker.clock.setTimeout(() => this.tick(), TICK_MS);
    this.connect();
  }

  /** Graceful stop: DISCONNECT without UNSUBSCRIBE so a persistent remote session keeps queueing (spec §5.5). */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasConnected = this.state === 'connected';
    this.state = 'stopped';
    this.broker.removeInterceptor(this);
    this.waiters.release();
    const clock = this.broker.clock;
    if (this.tickTimer) clock.clearTimeout(this.tickTimer);
    if (this.reconnectTimer) clock.clearTimeout(this.reconnectTimer);
    this.tickTimer = this.reconnectTimer = null;
    this.drops.flush();
    const link = this.link;
    if (link && wasConnected) {
      // Ingress acks wait for the group commit; let those already registered go out before DISCONNECT.
      // Bounded: a store that is already closed never commits again.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.broker.store.afterCommit({ committed: () => (clearTimeout(t), resolve()) });
      });
    }
    this.link = null;
    if (link) {
      if (wasConnected) {
        link.write({ cmd: 'disconnect', reasonCode: 0 });
        link.end();
        const t = setTimeout(() => link.destroy(null), 1000);
        await link.whenClosed();
        clearTimeout(t);
      } else link.destroy(null);
    }
    this.publishState(false);
    this.log.info({ queued: this.outbound.count }, 'bridge_stopped');
  }

  /** Drop the connection and reconnect now (API "restart"); the log and in-flight state are kept. */
  restartLink(): void {
    if (this.state === 'stopped') return;
    this.backoff.reset();
    if (this.link) this.link.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_RESTART'));
    else {
      if (this.reconnectTimer) this.broker.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.connect();
    }
  }

  // ---- egress: the interceptor ----

  onPublish(msg: Message): boolean {
    // Loop prevention: never send a message back over the bridge it came from (spec §5.7).
    if (msg.origin === this.name || this.state === 'stopped') return false;
    if (this.marker !== null && msg.props !== null && pathContains(msg.props, this.marker)) {
      this.loopPrevented();
      return false;
    }
    let appended = false;
    for (let i = 0; i < this.egress.length; i++) {
      const m = this.egress[i]!;
      if (!m.matches(msg.topic)) continue;
      this.counters.matched++;
      this.broker.metrics.inc(this.mn.matched);
      const mp = m.apply(msg);
      if (!mp) {
        this.dropped('topic_invalid', msg);
        continue;
      }
      const mapped = mappedMessage(msg, mp.topic, mp.qos, mp.retain, mp.payload);
      const out = this.marker !== null ? withPathMarker(mapped, this.marker) : mapped;
      if (out.qos === 0 && this.cfg.buffer.qos0 === 'drop_offline' && this.state !== 'connected') {
        this.dropped('qos0_offline', out);
        continue;
      }
      if (this.outbound.append(out)) appended = true;
    }
    if (appended) {
      this.schedulePump();
      if (this.state === 'connected' && this.broker.flowControl) this.checkCongestion();
    }
    return appended;
  }

  private schedulePump(): void {
    if (!this.pumpScheduled && this.state === 'connected') {
      this.pumpScheduled = true;
      setImmediate(this.pumpBound);
    }
  }

  /** The backlog grew past high water above its floor while the link keeps acknowledging: ask the publisher to wait. */
  private checkCongestion(): void {
    const q = this.outbound.queued;
    if (q < this.backlogFloor) this.backlogFloor = q;
    if (q - this.backlogFloor < this.highWater()) return;
    // A stalled link holds nobody: keeping what it cannot take is what the log is for.
    if (this.inflight.size > 0 && this.broker.clock.now() - Math.max(this.lastAckAt, this.inflight.oldestSentAt()) >= FLOW_STALL_MS) return;
    this.broker.congestedBy = this;
  }

  private highWater(): number {
    return flowHighWater(this.window, this.cfg.buffer.max_messages);
  }

  /** After the pump moved entries out: the floor follows the backlog down; waiters go at half of high water. */
  private afterDrain(): void {
    const q = this.outbound.queued;
    if (q < this.backlogFloor) this.backlogFloor = q;
    if (this.waiters.hasWaiters() && q - this.backlogFloor <= this.highWater() >> 1) this.waiters.release();
  }

  addWaiter(w: FlowWaiter): void {
    this.waiters.addWaiter(w);
  }

  removeWaiter(w: FlowWaiter): void {
    this.waiters.removeWaiter(w);
  }

  hasWaiters(): boolean {
    return this.waiters.hasWaiters();
  }

  /** Moves log entries into the in-flight window, in publish order, within the rate limit. */
  private pump(): void {
    this.pumpScheduled = false;
    const link = this.link;
    if (this.state !== 'connected' || !link || this.writeBlocked) return;
    const now = this.broker.clock.now();
    const rate = this.cfg.replay.rate;
    let budget = PUMP_BUDGET;
    link.cork();
    try {
      while (this.inflight.size < this.window && budget-- > 0) {
        if (rate > 0 && !this.takeToken(now)) {
          const wait = Math.max(1, Math.ceil(1000 / rate));
          this.broker.clock.setTimeout(() => this.schedulePump(), wait);
          return;
        }
        const e = this.outbound.takeNext(now);
        if (!e) return;
        if (this.maxPacket > 0 && e.size > this.maxPacket) {
          this.outbound.ack(e.seq);
          this.dropped('too_large', e.msg);
          continue;
        }
        if (this.remoteNode !== null && pathContains(e.msg.props, this.remoteNode)) {
          // The upstream is an Outpost node this message already passed: sending it back would echo it there.
          this.outbound.ack(e.seq);
          this.loopPrevented();
          continue;
        }
        if (e.msg.qos === 0 || this.maxQos === 0) {
          this.send(e.msg, 0, false, 0, now);
          this.outbound.ack(e.seq);
          this.acked();
        } else {
          const f = this.inflight.add(e, now);
          if (!this.send(e.msg, e.msg.qos, false, f.pid, now)) {
            this.writeBlocked = true;
            return;
          }
        }
      }
      if (budget <= 0) this.schedulePump();
    } finally {
      link.uncork();
      this.afterDrain();
    }
  }

  private takeToken(now: number): boolean {
    const rate = this.cfg.replay.rate;
    // A bucket of 100 ms worth (at least one message): after idling, the burst stays small.
    this.tokens = Math.min(Math.max(1, rate / 10), this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  private send(m: Message, qos: QoS, dup: boolean, pid: number, now: number): boolean {
    if (qos > this.maxQos) qos = this.maxQos;
    const p: IPublishPacket = { cmd: 'publish', topic: m.topic, payload: m.payload, qos, retain: m.retain && this.retainAvailable, dup };
    if (qos > 0) p.messageId = pid;
    if (this.proto === 5) {
      const props = wireProps(m.props);
      // Forward the remaining lifetime, not the original interval [MQTT-3.3.2-6].
      const left = m.remainingExpiry(now);
      if (props || left > 0) {
        p.properties = props ?? {};
        if (left > 0) p.properties.messageExpiryInterval = left;
      }
    }
    this.lastSentAt = now;
    const up = this.proto === 5 ? m.props?.userProperties : undefined;
    return this.link!.write(p, up !== undefined && up.length > 0 ? up : undefined);
  }

  loopPrevented(): void {
    this.counters.loops++;
    this.broker.metrics.inc(this.mn.loops);
  }

  private acked(): void {
    this.counters.success++;
    this.broker.metrics.inc(this.mn.success);
  }

  dropped(reason: DropReason, m: Message): void {
    this.counters.dropped++;
    this.counters.droppedBy[reason] = (this.counters.droppedBy[reason] ?? 0) + 1;
    this.broker.metrics.inc(this.mn.dropped);
    let name = this.dropNames.get(reason);
    if (name === undefined) this.dropNames.set(reason, (name = this.metricPrefix + 'dropped.' + reason));
    this.broker.metrics.inc(name);
    this.drops.report(reason, m.topic);
  }

  // ---- connection ----

  private connect(): void {
    if (this.state === 'stopped') return;
    this.reconnectTimer = null;
    const addr = this.servers[this.serverIdx]!;
    this.server = addr;
    this.state = 'connecting';
    this.connectStartedAt = this.broker.clock.now();
    let tls: ConnectionOptions | null = null;
    if (addr.tls) {
      try {
        tls = tlsOptions(addr, this.cfg.tls);
      } catch (err) {
        this.failed('OUTPOST_ERR_BRIDGE_TLS_SETUP', `${BRIDGE_ERRORS.OUTPOST_ERR_BRIDGE_TLS_SETUP}: ${(err as Error).message}`, false);
        return;
      }
    }
    const link: Link = new Link(addr, tls, this.proto, {
      onOpen: () => this.onOpen(link),
      onPacket: (p, frame) => this.onPacket(link, p, frame),
      onClose: (err) => this.onClose(link, err),
      onDrain: () => {
        this.writeBlocked = false;
        this.schedulePump();
      },
    });
    this.link = link;
  }

  private onOpen(link: Link): void {
    if (link !== this.link) return;
    const c = this.cfg;
    const connect: Packet & { bridgeMode?: boolean } = {
      cmd: 'connect',
      protocolId: this.proto === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.proto,
      clientId: this.clientId,
      clean: c.clean_start,
      keepalive: c.keepalive,
    };
    // v3/v4 bridge bit: protocol level | 0x80 (mqtt-packet adds 128 for bridgeMode).
    if (this.proto !== 5 && c.bridge_mode) connect.bridgeMode = true;
    if (c.username !== undefined) connect.username = c.username;
    if (c.password !== undefined) connect.password = Buffer.from(c.password);
    if (this.proto === 5) connect.properties = { sessionExpiryInterval: c.session_expiry_interval, receiveMaximum: 65535 };
    link.write(connect);
    this.lastSentAt = this.lastRecvAt = this.broker.clock.now();
  }

  private onPacket(link: Link, p: Packet, frame: Buffer): void {
    if (link !== this.link) return;
    const now = this.broker.clock.now();
    this.lastRecvAt = now;
    switch (p.cmd) {
      case 'connack':
        return this.onConnack(link, p.sessionPresent, this.proto === 5 ? (p.reasonCode ?? 0) : (p.returnCode ?? 0), p.properties);
      case 'puback':
      case 'pubcomp': {
        const f = this.inflight.get(p.messageId ?? 0);
        if (!f) return;
        this.inflight.delete(f.pid);
        this.outbound.ack(f.entry.seq);
        this.lastAckAt = now;
        if ((p.reasonCode ?? 0) >= 0x80) this.refused(f, p.reasonCode!);
        else this.acked();
        this.schedulePump();
        return;
      }
      case 'pubrec': {
        const f = this.inflight.get(p.messageId ?? 0);
        if (!f) {
          // Unknown id: answer so the remote can finish its side [MQTT-4.3.3].
          link.write({ cmd: 'pubrel', messageId: p.messageId ?? 0, reasonCode: this.proto === 5 ? 0x92 : 0 });
          return;
        }
        this.lastAckAt = now;
        if ((p.reasonCode ?? 0) >= 0x80) {
          this.inflight.delete(f.pid);
          this.outbound.ack(f.entry.seq);
          this.refused(f, p.reasonCode!);
          this.schedulePump();
          return;
        }
        f.state = 'rel';
        f.sentAt = now;
        link.write({ cmd: 'pubrel', messageId: f.pid });
        return;
      }
      case 'publish':
        return this.ingress.onPublish(link, p, now, frame);
      case 'pubrel':
        return this.ingress.onPubrel(link, p.messageId ?? 0);
      case 'suback': {
        this.inflight.reserved = 0;
        const granted = p.granted as number[];
        granted.forEach((code, i) => {
          if (typeof code === 'number' && code >= 0x80) {
            const filter = this.ingress.mappings[i]?.subscribeFilter ?? String(i);
            const e = new BridgeError('OUTPOST_ERR_BRIDGE_SUBSCRIBE_REFUSED', `${filter} (0x${code.toString(16)})`);
            this.lastError = e.message;
            this.lastErrorCode = e.code;
            this.log.warn({ filter, code }, 'bridge_subscribe_refused');
          }
        });
        return;
      }
      case 'disconnect':
        link.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_UPSTREAM_CLOSED', `DISCONNECT with reason 0x${(p.reasonCode ?? 0).toString(16)}`));
        return;
      default:
        return;
    }
  }

  private refused(f: Inflight, code: number): void {
    this.counters.failed++;
    this.broker.metrics.inc(this.mn.failed);
    this.dropped('rejected', f.entry.msg);
    this.log.warn({ topic: f.entry.msg.topic, code }, 'bridge_publish_refused');
  }

  private onConnack(
    link: Link,
    sessionPresent: boolean,
    code: number,
    props:
      | { receiveMaximum?: number; maximumPacketSize?: number; maximumQoS?: number; retainAvailable?: boolean; serverKeepAlive?: number; userProperties?: Record<string, string | string[]> }
      | undefined,
  ): void {
    if (code !== 0) {
      this.log.error({ server: this.server?.text, code }, 'bridge_connect_refused');
      link.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_CONNECT_REFUSED', `code ${code}`));
      return;
    }
    const now = this.broker.clock.now();
    this.state = 'connected';
    this.connectedAt = now;
    // What the outage left is the log's to hold: flow control only counts growth from here.
    this.backlogFloor = this.outbound.queued;
    this.lastAckAt = now;
    this.writeBlocked = false;
    this.tokens = 0;
    this.tokensAt = now;
    this.window = Math.min(this.cfg.replay.inflight, props?.receiveMaximum ?? 65535);
    this.maxPacket = props?.maximumPacketSize ?? 0;
    // v5 server limits: never exceed Maximum-QoS or send retain where it is not available [MQTT-3.2.2-11, -14];
    // Server-Keep-Alive replaces ours [MQTT-3.2.2-21].
    this.maxQos = (props?.maximumQoS ?? 2) as QoS;
    this.retainAvailable = props?.retainAvailable ?? true;
    this.keepaliveMs = (props?.serverKeepAlive ?? this.cfg.keepalive) * 1000;
    // An Outpost upstream names itself in CONNACK (user property outpost-node); with the loop marker
    // we then also skip messages that already passed that node.
    const rn = props?.userProperties?.[NODE_PROPERTY];
    this.remoteNode = this.marker !== null && typeof rn === 'string' ? rn : null;
    this.log.info({ server: this.server?.text, sessionPresent, queued: this.outbound.queued, inflight: this.inflight.size }, 'bridge_connected');
    // A resumed session keeps its QoS 2 receive state: the remote resends those with DUP [MQTT-4.3.3-9].
    if (!sessionPresent) this.ingress.reset();
    this.publishState(true);
    link.cork();
    this.subscribe(link, sessionPresent);
    this.retransmit(link, now);
    link.uncork();
    this.schedulePump();
  }

  private subscribe(link: Link, sessionPresent: boolean): void {
    if (this.ingress.mappings.length === 0) return;
    // A resumed v3 session already holds the subscriptions; re-subscribing would resend retained
    // messages. v5 uses retain-handling 1 (only for new subscriptions) and can always subscribe.
    if (this.proto !== 5 && sessionPresent && this.subscribedOnce) return;
    this.subscribedOnce = true;
    this.inflight.reserved = this.inflight.allocPid();
    link.write(this.ingress.subscribePacket(this.inflight.reserved, this.proto));
  }

  /**
   * Unacknowledged QoS 1/2 go out again with DUP, PUBRELs again, in publish order [MQTT-4.4.0-1];
   * olderThan > 0 limits it to entries waiting at least that long (timed retry while connected).
   */
  private retransmit(link: Link, now: number, olderThan = 0): void {
    if (this.inflight.size === 0) return;
    for (const f of this.inflight.ordered()) {
      if (olderThan > 0 && now - f.sentAt < olderThan) continue;
      f.sentAt = now;
      this.counters.retried++;
      this.broker.metrics.inc(this.mn.retried);
      if (f.state === 'rel') link.write({ cmd: 'pubrel', messageId: f.pid });
      else this.send(f.entry.msg, f.entry.msg.qos, true, f.pid, now);
    }
  }


  private onClose(link: Link, err: Error | null): void {
    if (link !== this.link) return;
    this.link = null;
    this.inflight.reserved = 0;
    // Offline, the log keeps what comes: nobody waits for a link that is gone.
    this.waiters.release();
    if (this.state === 'stopped') return;
    const now = this.broker.clock.now();
    const wasConnected = this.state === 'connected';
    const { code, message: reason } = classifyError(err);
    if (wasConnected) {
      if (now - this.connectedAt >= STABLE_MS) this.backoff.reset();
      this.publishState(false);
      this.log.warn({ server: this.server?.text, code, reason, inflight: this.inflight.size }, 'bridge_disconnected');
      // After a drop, try the primary first again.
      this.serverIdx = 0;
      this.lastError = reason;
      this.lastErrorCode = code;
      this.state = 'waiting';
      this.scheduleReconnect();
    } else this.failed(code, reason, true);
  }

  private failed(code: BridgeErrorCode, reason: string, advance: boolean): void {
    this.lastError = reason;
    this.lastErrorCode = code;
    this.log.warn({ server: this.server?.text, code, reason }, 'bridge_connect_failed');
    if (advance && this.servers.length > 1) this.serverIdx = (this.serverIdx + 1) % this.servers.length;
    this.state = 'waiting';
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'stopped' || this.reconnectTimer) return;
    // A failover step to the next address goes at once; a full round waits for the backoff.
    const delay = this.serverIdx !== 0 ? 0 : this.backoff.next();
    this.counters.reconnects++;
    this.reconnectTimer = this.broker.clock.setTimeout(() => this.connect(), delay);
  }

  /** Keepalive, connect timeout, stalled-window detection and timed retransmission. */
  private tick(): void {
    if (this.state === 'stopped') return;
    this.tickTimer = this.broker.clock.setTimeout(() => this.tick(), TICK_MS);
    const now = this.broker.clock.now();
    this.rate.sample(this.counters.success, now);
    const link = this.link;
    const c = this.cfg;
    if (this.state === 'connecting' && link && now - this.connectStartedAt > c.connect_timeout * 1000) {
      link.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_CONNECT_TIMEOUT', `${c.connect_timeout} s`));
      return;
    }
    if (this.state !== 'connected' || !link) return;
    const ka = this.keepaliveMs;
    if (ka > 0) {
      if (now - this.lastRecvAt > ka * 1.5) {
        link.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_KEEPALIVE_TIMEOUT'));
        return;
      }
      if (now - this.lastSentAt >= ka) {
        link.write({ cmd: 'pingreq' });
        this.lastSentAt = now;
      }
    }
    if (this.inflight.size > 0) {
      const quiet = now - Math.max(this.lastAckAt, this.inflight.oldestSentAt());
      if (quiet > c.replay.stall_timeout * 1000) {
        this.counters.stalled++;
        this.broker.metrics.inc(this.mn.stalled);
        this.log.warn({ inflight: this.inflight.size, quietMs: quiet }, 'bridge_window_stalled');
        link.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_WINDOW_STALLED', `${Math.round(quiet / 1000)} s without an ack`));
        return;
      }
      const retry = c.replay.retry_interval * 1000;
      if (retry > 0) {
        link.cork();
        this.retransmit(link, now, retry);
        link.uncork();
      }
    }
    if (this.outbound.queued > 0 && !this.pumpScheduled) this.schedulePump();
  }

  // ---- observability ----

  private publishState(up: boolean): void {
    if (!this.cfg.notifications) return;
    const now = this.broker.clock.now();
    // Mosquitto-compatible: retained "1"/"0" (spec §3, notifications). Origin = this bridge, so it is never sent upstream by it.
    this.broker.publish(createMessage({ topic: this.stateTopic, payload: Buffer.from(up ? '1' : '0'), qos: 1, retain: true, origin: this.name, now }));
  }

  private replayLag(): number {
    const ts = this.outbound.nextTs();
    return ts === 0 ? 0 : Math.max(0, this.broker.clock.now() - ts);
  }

  private oldestAge(): number {
    const ts = this.outbound.oldestTs();
    return ts === 0 ? 0 : Math.max(0, this.broker.clock.now() - ts);
  }

  status(): BridgeStatus {
    const now = this.broker.clock.now();
    const stall = this.cfg.replay.stall_timeout * 1000;
    const ackOk = this.inflight.size === 0 || now - Math.max(this.lastAckAt, this.inflight.oldestSentAt()) <= stall;
    return {
      name: this.name,
      enable: this.cfg.enable,
      status: this.state === 'connected' ? 'connected' : this.state === 'stopped' ? 'stopped' : this.state === 'connecting' ? 'connecting' : 'disconnected',
      healthy: this.state === 'connected' && ackOk,
      server: this.server?.text ?? null,
      clientId: this.clientId,
      lastError: this.lastError,
      lastErrorCode: this.lastErrorCode,
      connectedAt: this.connectedAt,
      lastAckAt: this.lastAckAt,
      queued: this.outbound.queued,
      queuedBytes: this.outbound.bytes,
      inflight: this.inflight.size,
      replayLagMs: this.replayLag(),
      oldestQueuedAgeMs: this.oldestAge(),
      counters: { ...this.counters, droppedBy: { ...this.counters.droppedBy } },
      rates: { current: this.rate.current, last5m: this.rate.last5m, max: this.rate.max },
    };
  }
}
