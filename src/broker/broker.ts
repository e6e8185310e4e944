// The data plane: sessions, routing, retained messages, wills, delayed publish, $SYS. Knows no
// protocol: MQTT channels and gateway channels call in through the same methods.
import type { Logger } from 'pino';
import type { BrokerApi, BrokerEvents, BrokerStats, ClientSummary, DelayedSummary, DeliverySummary, PublishFromResult, PublishInterceptor, PublishRefusal, PublishResult, SubscriptionSummary } from './api.js';
import type { Authorizer, ConnectionGuard } from '../core/hooks.js';
import { allowAllAuthorizer, noGuard } from '../core/hooks.js';
import { createMessage, Message } from '../core/message.js';
import { Metrics } from '../core/metrics.js';
import { Retainer } from './retainer.js';
import { TopicRewriter } from './rewrite.js';
import { Router, Subscription, type RouteVisitor, type SharedGroup } from './router.js';
import type { FlowSource } from './flow.js';
import { QueueEntry, Session, type DropReason, type SessionHost, type SessionLimits, type WillSpec } from './session.js';
import { SysPublisher } from './sys.js';
import { isValidFilter, isValidTopicName, levelCount, parseFilter } from './topic.js';
import type { AuthzAction, AuthzDecision, ClientIdentity, Clock, DisconnectReason, MessageProperties, Outlet, Publisher, QoS, SubscriptionOptions, TimerHandle } from '../core/types.js';
import type { Config } from '../config/schema.js';
import type { RejectedOp, Store } from '../store/store.js';

/** publishFrom's refusals, made once: a refused publish allocates nothing. */
const REFUSED: { readonly [R in PublishRefusal]: { readonly ok: false; readonly reason: R } } = {
  qos_not_supported: { ok: false, reason: 'qos_not_supported' },
  retain_not_supported: { ok: false, reason: 'retain_not_supported' },
  topic_malformed: { ok: false, reason: 'topic_malformed' },
  topic_invalid: { ok: false, reason: 'topic_invalid' },
  topic_too_deep: { ok: false, reason: 'topic_too_deep' },
  packet_too_large: { ok: false, reason: 'packet_too_large' },
  not_authorized: { ok: false, reason: 'not_authorized' },
  not_authorized_disconnect: { ok: false, reason: 'not_authorized_disconnect' },
  quota_exceeded: { ok: false, reason: 'quota_exceeded' },
};

export const OUTPOST_VERSION = '0.1.0';

export interface BrokerDeps {
  config: Config;
  store: Store;
  log: Logger;
  clock: Clock;
  metrics?: Metrics;
  authorizer?: Authorizer;
  guard?: ConnectionGuard;
}

export interface OpenParams {
  clientId: string;
  username: string | null;
  superuser: boolean;
  protocol: string;
  protoName: string;
  protoVer: number | string;
  listener: string;
  peerHost: string;
  peerPort: number;
  sockPort: number;
  keepalive: number;
  cleanStart: boolean;
  /** Seconds. */
  expiryInterval: number;
  will: WillSpec | null;
  mountpoint?: string;
  /** The front's name in $SYS topics ($SYS/brokers/{node}/gateway/{sysName}/clients/...); defaults to `protocol`. */
  sysName?: string;
}

export type SubscribeResult = { rc: QoS; isNew: boolean; retained: Message[]; sub: Subscription<Session> } | { rc: 0x80 | 0x87 | 0x8f | 0x97 | 0x9e | 0xa1 | 0xa2; isNew: false };

const NEVER = 0xffffffff;

/**
 * Per-publish scratch for routing without allocation per subscriber. The arrays are used up to `n`
 * (`ng` for groups) and never truncated: setting an array's length is a runtime call, six per
 * publish (bench fanin-qos1: ~1.4 % of the broker's CPU). Entries past `n` are stale.
 */
class RouteScratch implements RouteVisitor<Session> {
  gen = 0;
  msg: Message = null as unknown as Message;
  upgradeQos = false;
  ignoreLoop = false;
  n = 0;
  ng = 0;
  readonly sessions: Session[] = [];
  readonly qos: QoS[] = [];
  readonly retain: boolean[] = [];
  readonly subIds: (number[] | null)[] = [];
  readonly subs: Subscription<Session>[] = [];
  readonly groups: SharedGroup<Session>[] = [];
  noLocalDrops = 0;

  reset(msg: Message): void {
    this.gen++;
    this.msg = msg;
    this.n = 0;
    this.ng = 0;
    this.noLocalDrops = 0;
  }

  visitSub(sub: Subscription<Session>): void {
    const s = sub.session;
    const msg = this.msg;
    const o = sub.opts;
    // [MQTT-3.8.3-3] No Local; ignore_loop_deliver emulates it for v3 clients.
    if ((o.nl || this.ignoreLoop) && msg.from === s.clientId && msg.origin === null) {
      this.noLocalDrops++;
      return;
    }
    const qos = (this.upgradeQos ? o.qos : msg.qos < o.qos ? msg.qos : o.qos) as QoS;
    // [MQTT-3.3.1-12/13] retain as published, otherwise cleared on normal delivery
    const retain = o.rap ? msg.retain : false;
    if (s.matchGen !== this.gen) {
      const i = this.n++;
      s.matchGen = this.gen;
      s.matchIdx = i;
      this.sessions[i] = s;
      this.qos[i] = qos;
      this.retain[i] = retain;
      this.subIds[i] = o.subId ? [o.subId] : null;
      this.subs[i] = sub;
    } else {
      // Overlapping subscriptions: one delivery with the highest QoS and every identifier [MQTT-3.3.4-2, -3].
      const i = s.matchIdx;
      if (qos > this.qos[i]!) {
        this.qos[i] = qos;
        this.subs[i] = sub;
      }
      if (retain) this.retain[i] = true;
      if (o.subId) (this.subIds[i] ??= []).push(o.subId);
    }
  }

  visitGroup(g: SharedGroup<Session>): void {
    this.groups[this.ng++] = g;
  }
}

export class Broker implements BrokerApi, SessionHost {
  readonly node: string;
  readonly version = OUTPOST_VERSION;
  readonly startedAt: number;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly store: Store;
  readonly sessions = new Map<string, Session>();
  readonly router: Router<Session>;
  readonly retainer: Retainer;
  readonly sys: SysPublisher;
  authorizer: Authorizer;
  guard: ConnectionGuard;

  private config: Config;
  private limits!: SessionLimits;
  private rewriter: TopicRewriter;
  private readonly interceptors: PublishInterceptor[] = [];
  private readonly eventListeners: BrokerEvents[] = [];
  private readonly scratch = new RouteScratch();
  private readonly exclusive = new Map<string, string>();
  /** Pending delayed publishes by message id: their timer, for the API's list/show/cancel (emqx_delayed_api). */
  private readonly delayed = new Map<number, { timer: TimerHandle; message: Message; due: number }>();
  private connected = 0;
  /** SessionHost: messages that waited in a queue; the MQTT front uses it to pace congested publishers. */
  queuePushes = 0;
  /** SessionHost and BrokerApi: the consumer (session or bridge) that last asked publishers to wait; the MQTT front clears it per publish. */
  congestedBy: FlowSource | null = null;
  private maxConnected = 0;
  private housekeeping: NodeJS.Timeout | null = null;
  private readonly dropLog = new Map<string, { count: number; since: number }>();

  constructor(deps: BrokerDeps) {
    this.config = deps.config;
    this.node = deps.config.node.name;
    this.store = deps.store;
    this.store.onOpRejected = (r) => this.storeRejected(r);
    this.log = deps.log;
    this.clock = deps.clock;
    this.metrics = deps.metrics ?? new Metrics();
    this.authorizer = deps.authorizer ?? allowAllAuthorizer;
    this.guard = deps.guard ?? noGuard;
    this.startedAt = deps.clock.now();
    this.router = new Router<Session>((group) => this.config.mqtt.shared_subscription_group[group] ?? this.config.mqtt.shared_subscription_strategy);
    this.retainer = new Retainer(deps.store, this.retainerLimits(deps.config));
    this.rewriter = new TopicRewriter(deps.config.rewrite);
    this.sys = new SysPublisher(this, deps.config.sys_topics);
    this.applyLimits(deps.config);
    this.guard.onBan?.((kind, who) => this.kickBanned(kind, who));
  }

  private retainerLimits(c: Config) {
    return {
      enable: c.retainer.enable && c.mqtt.retain_available,
      maxPayloadSize: c.retainer.max_payload_size,
      maxRetainedMessages: c.retainer.max_retained_messages,
      msgExpiryInterval: c.retainer.msg_expiry_interval,
    };
  }

  private applyLimits(c: Config): void {
    this.limits = {
      maxInflight: c.mqtt.max_inflight,
      maxMqueueLen: c.mqtt.max_mqueue_len,
      maxMqueueBytes: c.mqtt.max_mqueue_bytes,
      storeQos0: c.mqtt.mqueue_store_qos0,
      maxAwaitingRel: c.mqtt.max_awaiting_rel,
    };
    this.scratch.upgradeQos = c.mqtt.upgrade_qos;
    this.scratch.ignoreLoop = c.mqtt.ignore_loop_deliver;
  }

  get settings(): Config {
    return this.config;
  }

  /** Apply a new validated config live: limits, rewrite rules, retainer, $SYS. */
  reload(c: Config): void {
    this.config = c;
    this.applyLimits(c);
    this.rewriter = new TopicRewriter(c.rewrite);
    this.retainer.setLimits(this.retainerLimits(c));
    for (const s of this.sessions.values()) Object.assign(s.limits, this.limits);
  }

  /** SessionHost: mqtt.publisher_flow_control, read live so a reload applies it. */
  get flowControl(): boolean {
    return this.config.mqtt.publisher_flow_control;
  }

  now(): number {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- startup / shutdown

  /** Load durable sessions and retained messages; start timers. */
  start(): void {
    const now = this.now();
    this.retainer.load(this.store.loadRetained(), now);
    for (const rec of this.store.loadSessions()) {
      const disconnectedAt = rec.disconnectedAt || now;
      if (rec.expiryInterval < NEVER && disconnectedAt + rec.expiryInterval * 1000 <= now) {
        this.store.deleteSession(rec.clientId);
        continue;
      }
      const s = new Session(rec.clientId, this, { ...this.limits }, rec.createdAt);
      s.protocol = rec.protocol;
      s.username = rec.username;
      s.expiryInterval = rec.expiryInterval;
      s.disconnectedAt = disconnectedAt;
      s.stored = true;
      s.cleanStart = false;
      for (const r of rec.awaitingRel) s.awaitRel(r.pid, r.ts);
      for (const sub of rec.subscriptions) this.addSubscription(s, sub.filter, sub.opts);
      for (const q of rec.queue) {
        const e = new QueueEntry(q.seq, q.message, q.qos, q.retainFlag, q.subIds ? q.subIds.split(',').map(Number) : null, q.filter, parseFilter(q.filter)?.filter ?? q.filter);
        e.pid = q.pid;
        e.state = q.state;
        s.restoreEntry(e);
      }
      this.sessions.set(s.clientId, s);
      if (rec.disconnectedAt === 0) s.ensureStored();
      this.scheduleExpiry(s);
    }
    for (const d of this.store.loadDelayed()) this.scheduleDelayed(d.message, d.due);
    this.sys.start();
    const tickMs = 1000;
    this.housekeeping = setInterval(() => this.housekeep(), tickMs);
    this.housekeeping.unref();
  }

  stop(): void {
    this.sys.stop();
    if (this.housekeeping) clearInterval(this.housekeeping);
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.timer);
    this.delayed.clear();
    const now = this.now();
    for (const s of this.sessions.values()) {
      if (s.expiryTimer) this.clock.clearTimeout(s.expiryTimer);
      if (s.willTimer) {
        this.clock.clearTimeout(s.willTimer);
        s.willTimer = null;
        if (s.will) this.log.warn({ clientid: s.clientId, topic: s.will.topic }, 'will_message_dropped: delayed will pending at shutdown, wills are not persisted');
      }
      if (s.outlet) {
        s.outlet.kick('server_shutdown');
        s.detach();
        s.disconnectedAt = now;
        if (s.stored) s.ensureStored();
      }
    }
  }

  private housekeep(): void {
    const now = this.now();
    const retry = this.config.mqtt.retry_interval;
    const relTimeout = this.config.mqtt.await_rel_timeout * 1000;
    for (const s of this.sessions.values()) {
      if (retry > 0 && s.outlet && s.inflight.size > 0) s.retry(now - retry * 1000);
      if (s.awaitingRel.size > 0 && relTimeout > 0) {
        for (const [pid, at] of s.awaitingRel) {
          if (now - at >= relTimeout) {
            s.released(pid);
            this.metrics.c['messages.dropped.await_pubrel_timeout']++;
          }
        }
      }
    }
    this.flushDropLog(now, false);
  }

  // ---------------------------------------------------------------- sessions

  /**
   * Open or resume a session for a new connection. Any existing connection with this client id is
   * taken over (v5: DISCONNECT 0x8E). The caller sends CONNACK, then calls attach().
   */
  openSession(p: OpenParams): { session: Session; present: boolean } {
    const now = this.now();
    const existing = this.sessions.get(p.clientId);
    let session: Session;
    let present = false;
    if (existing) {
      if (existing.outlet) {
        const reason: DisconnectReason = p.cleanStart ? 'discarded' : 'takenover';
        const old = existing.outlet;
        existing.detach();
        this.connected--;
        old.kick(reason);
        existing.disconnectedAt = now;
        this.emitDisconnected(existing, reason);
        this.metrics.c[p.cleanStart ? 'session.discarded' : 'session.takenover']++;
        // The old connection's will: sent at once unless delayed and the session lives on [MQTT-3.1.3-9].
        if (existing.will && (existing.will.delay === 0 || p.cleanStart)) this.publishWill(existing);
        existing.will = null;
      }
      if (existing.willTimer) {
        // Resumed before the will delay elapsed: the will is not sent [MQTT-3.1.3-9]; a clean start ends the old session, which sends it.
        this.clock.clearTimeout(existing.willTimer);
        existing.willTimer = null;
        if (p.cleanStart && existing.will) this.publishWill(existing);
        existing.will = null;
      }
      if (existing.expiryTimer) {
        this.clock.clearTimeout(existing.expiryTimer);
        existing.expiryTimer = null;
      }
      // A session with expiry 0 ends with its connection, so a takeover starts fresh [MQTT-3.1.2-6].
      if (p.cleanStart || existing.expiryInterval === 0) {
        this.destroySession(existing, 'discarded');
      } else {
        session = existing;
        present = true;
        this.metrics.c['session.resumed']++;
      }
    }
    session ??= this.newSession(p.clientId, now);
    session.username = p.username;
    session.superuser = p.superuser;
    session.protocol = p.protocol;
    session.protoName = p.protoName;
    session.protoVer = p.protoVer;
    session.listener = p.listener;
    session.peerHost = p.peerHost;
    session.peerPort = p.peerPort;
    session.sockPort = p.sockPort;
    session.keepalive = p.keepalive;
    session.cleanStart = p.cleanStart;
    session.mountpoint = p.mountpoint ?? '';
    session.sysName = p.sysName ?? p.protocol;
    session.will = p.will;
    session.identity = null;
    const wasPersistent = session.isPersistent();
    session.expiryInterval = p.expiryInterval;
    session.connectedAt = now;
    session.lastSeen = now;
    session.disconnectedAt = 0;
    if (session.isPersistent()) session.ensureStored();
    else if (wasPersistent || session.stored) {
      // Resumed with expiry 0: the durable copy is no longer wanted.
      session.unstore();
    }
    return { session, present };
  }

  private newSession(clientId: string, now: number): Session {
    const s = new Session(clientId, this, { ...this.limits }, now);
    this.sessions.set(clientId, s);
    this.metrics.c['session.created']++;
    return s;
  }

  /** Attach the connection after CONNACK went out: inflight is resent, then the queue drains. */
  attach(session: Session, outlet: Outlet, window: number): void {
    session.attach(outlet, window);
    this.connected++;
    if (this.connected > this.maxConnected) this.maxConnected = this.connected;
    this.metrics.c['client.connected']++;
    this.sys.connected(session);
    if (this.eventListeners.length) {
      const c = this.summarize(session);
      for (const l of this.eventListeners) l.onClientConnected?.(c);
    }
  }

  /**
   * A connection ended. `sendWill` for abnormal ends (keepalive timeout, socket error, protocol
   * error, v5 DISCONNECT 0x04). Ignored when the session has since been taken over.
   */
  connectionClosed(session: Session, outlet: Outlet, reason: DisconnectReason, sendWill: boolean): void {
    if (session.outlet !== outlet) return;
    const now = this.now();
    session.detach();
    this.connected--;
    session.disconnectedAt = now;
    this.metrics.c['client.disconnected']++;
    this.guard.onDisconnected(this.identity(session), now);
    this.emitDisconnected(session, reason);
    if (sendWill && session.will) {
      const w = session.will;
      if (w.delay > 0 && session.expiryInterval > 0) {
        const delayMs = Math.min(w.delay, session.expiryInterval) * 1000;
        // Wills live in memory only (as in EMQX and Mosquitto): a restart before the delay ends drops
        // it, with a line at shutdown (stop). Logged here so a kill -9 leaves a trace too.
        this.log.info({ clientid: session.clientId, topic: w.topic, will_delay_ms: delayMs }, 'will_message_delayed');
        session.willTimer = this.clock.setTimeout(() => {
          session.willTimer = null;
          this.publishWill(session);
          session.will = null;
        }, delayMs);
      } else {
        this.publishWill(session);
        session.will = null;
      }
    } else if (!sendWill) {
      session.will = null;
    }
    if (session.expiryInterval === 0) this.destroySession(session, reason);
    else {
      session.ensureStored();
      this.scheduleExpiry(session);
    }
  }

  private scheduleExpiry(s: Session): void {
    if (s.neverExpires()) return;
    const left = s.disconnectedAt + s.expiryInterval * 1000 - this.now();
    // The clock holds any delay (up to 2^32-1 s); on firing the wall clock is checked again, so a clock
    // set back re-arms instead of ending the session early.
    const step = Math.max(left, 0);
    s.expiryTimer = this.clock.setTimeout(() => {
      s.expiryTimer = null;
      if (s.outlet) return;
      if (s.disconnectedAt + s.expiryInterval * 1000 > this.now()) this.scheduleExpiry(s);
      else {
        if (s.willTimer) {
          this.clock.clearTimeout(s.willTimer);
          s.willTimer = null;
          if (s.will) this.publishWill(s);
        }
        this.destroySession(s, 'session_expired');
      }
    }, step);
  }

  /** End a session: subscriptions removed, durable copy deleted, shared QoS>0 messages re-dispatched. */
  destroySession(s: Session, _reason: DisconnectReason): void {
    if (this.sessions.get(s.clientId) !== s) return;
    this.sessions.delete(s.clientId);
    if (s.expiryTimer) this.clock.clearTimeout(s.expiryTimer);
    if (s.willTimer) this.clock.clearTimeout(s.willTimer);
    for (const sub of s.subs.values()) {
      this.router.remove(sub);
      if (this.exclusive.get(sub.filter) === s.clientId && sub.raw.startsWith('$exclusive/')) this.exclusive.delete(sub.filter);
    }
    s.subs.clear();
    const redispatch = s.drainForRedispatch();
    s.unstore();
    this.metrics.c['session.terminated']++;
    for (const e of redispatch) this.redispatch(e, s);
  }

  private redispatch(e: QueueEntry, from: Session): void {
    const p = parseFilter(e.sub);
    if (!p?.group) return;
    const g = this.router.group(p.filter, p.group);
    const m = g?.pick(e.message, from);
    if (!m) return;
    this.log.debug({ clientid: m.session.clientId, topic: e.message.topic, group: p.group }, 'redispatching_shared_subscription_message');
    m.session.offer(e.message, e.qos, false, m.opts.subId ? [m.opts.subId] : null, m.raw, m.filter);
  }

  /** Kick a client (API/CLI): will published, session discarded; v5 gets DISCONNECT 0x98. */
  kick(clientId: string): boolean {
    const s = this.sessions.get(clientId);
    if (!s) return false;
    if (s.outlet) {
      const o = s.outlet;
      o.kick('kicked');
      this.connectionClosed(s, o, 'kicked', true);
    }
    this.destroySession(s, 'kicked');
    return true;
  }

  setKeepalive(clientId: string, seconds: number): 'ok' | 'not_found' | 'not_supported' {
    const s = this.sessions.get(clientId);
    if (!s?.outlet) return 'not_found';
    if (!s.outlet.setKeepalive) return 'not_supported';
    s.outlet.setKeepalive(seconds);
    s.keepalive = seconds;
    this.log.info({ clientid: clientId, keepalive: seconds }, 'keepalive_changed');
    return 'ok';
  }

  /**
   * The store dropped a write whose own data it cannot store (it committed everything else). The
   * client behind it must not be acknowledged as if it were durable: its connection is closed before
   * the tick's held acks go out (commit listeners run after this hook), and it may retry.
   */
  private storeRejected(r: RejectedOp): void {
    const who = r.publisher !== '' ? r.publisher : r.clientId;
    const s = who === '' ? undefined : this.sessions.get(who);
    this.log.warn({ clientid: who, kind: r.kind, session: r.clientId, err: r.error.message }, 'store_write_rejected: closing the client behind it');
    if (s?.outlet) {
      const o = s.outlet;
      o.kick('internal_error');
      this.connectionClosed(s, o, 'internal_error', true);
    }
  }

  private kickBanned(kind: 'clientid' | 'username' | 'peerhost', who: string): void {
    for (const s of [...this.sessions.values()]) {
      if (!s.outlet) continue;
      const hit = kind === 'clientid' ? s.clientId === who : kind === 'username' ? s.username === who : s.peerHost === who;
      if (hit) {
        const o = s.outlet;
        o.kick('banned');
        this.connectionClosed(s, o, 'banned', true);
      }
    }
  }

  private publishWill(s: Session): void {
    const w = s.will;
    if (!w) return;
    const topic = s.mountpoint ? s.mountpoint + w.topic : w.topic;
    if (this.authorize(s, 'publish', topic, w.qos, w.retain) !== 'allow') {
      this.log.info({ clientid: s.clientId, topic }, 'will_not_published: not authorized');
      return;
    }
    const msg = createMessage({
      topic: this.rewriter.empty ? topic : this.rewriter.rewrite('publish', topic, s.clientId, s.username),
      payload: w.payload,
      qos: w.qos,
      retain: w.retain,
      props: w.props,
      from: s.clientId,
      fromUsername: s.username,
      expiryInterval: w.expiry || this.config.mqtt.message_expiry_interval,
      now: this.now(),
    });
    this.publish(msg);
  }

  private emitDisconnected(s: Session, reason: DisconnectReason): void {
    this.sys.disconnected(s, reason);
    if (this.eventListeners.length) {
      const c = this.summarize(s);
      for (const l of this.eventListeners) l.onClientDisconnected?.(c, reason);
    }
  }

  /** The session's identity for auth hooks; built once per connection, not per PUBLISH. */
  identity(s: Session): ClientIdentity {
    return s.authIdentity();
  }

  authorize(s: Publisher, action: AuthzAction, topic: string, qos: QoS, retain: boolean): AuthzDecision {
    if (s.superuser) return 'allow';
    // The authorizer counts authorization.allow/deny itself.
    return this.authorizer.authorize(s.authIdentity(), action, topic, qos, retain);
  }

  rewriteTopic(kind: 'publish' | 'subscribe', topic: string, s: Publisher): string {
    return this.rewriter.empty ? topic : this.rewriter.rewrite(kind, topic, s.clientId, s.username);
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Subscribe after authorization. Returns the granted QoS and the retained messages to deliver
   * once SUBACK has gone out (deliverRetained).
   */
  subscribe(s: Session, raw: string, opts: SubscriptionOptions): SubscribeResult {
    const m = this.config.mqtt;
    const parsed = parseFilter(raw);
    if (!parsed || !isValidFilter(parsed.filter) || levelCount(parsed.filter) > m.max_topic_levels) return { rc: 0x8f, isNew: false };
    if (parsed.group !== null && !m.shared_subscription) return { rc: 0x9e, isNew: false };
    if (parsed.exclusive && !m.exclusive_subscription) return { rc: 0x8f, isNew: false };
    if (!m.wildcard_subscription && (parsed.filter.includes('+') || parsed.filter.includes('#'))) return { rc: 0xa2, isNew: false };
    const existing = s.subs.get(raw);
    if (!existing && m.max_subscriptions > 0 && s.subs.size >= m.max_subscriptions) return { rc: 0x97, isNew: false };
    if (parsed.exclusive) {
      const holder = this.exclusive.get(parsed.filter);
      if (holder !== undefined && holder !== s.clientId) return { rc: 0x97, isNew: false };
      this.exclusive.set(parsed.filter, s.clientId);
    }
    const granted = (opts.qos > m.max_qos_allowed ? m.max_qos_allowed : opts.qos) as QoS;
    const o: SubscriptionOptions = { ...opts, qos: granted };
    let sub: Subscription<Session>;
    if (existing) {
      // Replacing a subscription keeps the route and updates options [MQTT-3.8.4-3].
      existing.opts = o;
      sub = existing;
    } else {
      sub = this.addSubscription(s, raw, o);
      this.metrics.c['client.subscribe']++;
    }
    s.saveSubscription(raw, o);
    this.sys.subscribed(s, raw, o, !existing);
    let retained: Message[] = [];
    // [MQTT-3.3.1-9..11] retain handling; none on shared subscriptions.
    if (parsed.group === null && (o.rh === 0 || (o.rh === 1 && !existing))) retained = this.retainer.match(parsed.filter, this.now());
    return { rc: granted, isNew: !existing, retained, sub };
  }

  private addSubscription(s: Session, raw: string, opts: SubscriptionOptions): Subscription<Session> {
    const p = parseFilter(raw)!;
    const sub = new Subscription<Session>(s, raw, p.filter, p.group, opts);
    s.subs.set(raw, sub);
    this.router.add(sub);
    if (p.exclusive) this.exclusive.set(p.filter, s.clientId);
    return sub;
  }

  /** Send retained messages for a new subscription (retain flag set [MQTT-3.3.1-8]). */
  deliverRetained(s: Session, sub: Subscription<Session>, msgs: Message[]): void {
    const mp = s.mountpoint;
    for (const m of msgs) {
      const qos = (m.qos < sub.opts.qos ? m.qos : sub.opts.qos) as QoS;
      s.offer(m, qos, true, sub.opts.subId ? [sub.opts.subId] : null, sub.raw, mp ? sub.filter.slice(mp.length) : sub.filter);
    }
  }

  unsubscribe(s: Session, raw: string): boolean {
    const sub = s.subs.get(raw);
    if (!sub) return false;
    s.subs.delete(raw);
    this.router.remove(sub);
    if (raw.startsWith('$exclusive/') && this.exclusive.get(sub.filter) === s.clientId) this.exclusive.delete(sub.filter);
    s.deleteSubscription(raw);
    this.metrics.c['client.unsubscribe']++;
    this.sys.unsubscribed(s, raw);
    return true;
  }

  // ---------------------------------------------------------------- publish

  /**
   * The one door for application messages from every front (MQTT channels, gateway sessions,
   * sessionless gateway devices): limits, topic checks, authorization and rewrite, then publish().
   * `topic` is as the publisher named it (its mountpoint is applied here). The front has already
   * dealt with its own framing (topic aliases, QoS 2 duplicates) and maps a refusal to its
   * protocol's answer. Positional arguments and shared refusal objects: this runs once per PUBLISH.
   */
  publishFrom(
    from: Publisher,
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    props: MessageProperties | null,
    /** v5 Message-Expiry-Interval in seconds; undefined takes mqtt.message_expiry_interval. */
    expiryInterval: number | undefined,
    now: number,
  ): PublishFromResult {
    const cfg = this.config.mqtt;
    from.recvMsg++;
    if (qos > cfg.max_qos_allowed) return REFUSED.qos_not_supported;
    if (retain && !cfg.retain_available) return REFUSED.retain_not_supported;
    // The disk has failed long enough that the store holds its cap of writes: take no more QoS 1/2
    // work that might have to be stored, rather than acknowledge what cannot be kept.
    if (qos > 0 && !this.store.writable) return REFUSED.quota_exceeded;
    const full = from.mountpoint === '' ? topic : from.mountpoint + topic;
    if (full.length === 0 || !isValidTopicName(full)) return REFUSED.topic_malformed;
    if (levelCount(full) > cfg.max_topic_levels) return REFUSED.topic_too_deep;
    if (payload.length > cfg.max_packet_size) return REFUSED.packet_too_large;
    if (!from.superuser) {
      // The authorizer counts authorization.allow/deny itself.
      const d = this.authorizer.authorize(from.authIdentity(), 'publish', full, qos, retain);
      if (d !== 'allow') return d === 'disconnect' ? REFUSED.not_authorized_disconnect : REFUSED.not_authorized;
    }
    return this.publish(
      createMessage({
        topic: this.rewriter.empty ? full : this.rewriter.rewrite('publish', full, from.clientId, from.username),
        payload,
        qos,
        retain,
        props,
        from: from.clientId,
        fromUsername: from.username,
        expiryInterval: expiryInterval ?? cfg.message_expiry_interval,
        now,
      }),
    );
  }

  /**
   * The publish pipeline after authorization and rewrite: delayed publish, retain, interceptors
   * (bridges), routing. `durable` tells the caller to hold the QoS 1/2 ack until the store commits.
   */
  publish(msg: Message): PublishResult {
    const c = this.metrics.c;
    c['messages.received']++;
    if (msg.qos === 0) c['messages.qos0.received']++;
    else if (msg.qos === 1) c['messages.qos1.received']++;
    else c['messages.qos2.received']++;
    if (msg.topic.charCodeAt(0) === 36 && msg.topic.startsWith('$delayed/')) return this.publishDelayed(msg);
    return this.dispatch(msg);
  }

  private dispatch(msg: Message): PublishResult {
    let durable = false;
    if (msg.retain) {
      const r = this.retainer.retain(msg);
      if (r === 'stored') {
        this.metrics.c['messages.retained']++;
        durable = true;
      } else if (r === 'deleted') {
        durable = true;
        if (this.config.retainer.stop_publish_clear_msg) return { ok: true, matched: 0, durable };
      } else if (r === 'too_large') this.log.warn({ topic: msg.topic, size: msg.payload.length }, 'retain_failed_for_payload_size_exceeded_limit');
      else if (r === 'table_full') this.log.warn({ topic: msg.topic }, 'failed_to_retain_message: table_is_full');
    }
    const interceptors = this.interceptors;
    for (let i = 0; i < interceptors.length; i++) if (interceptors[i]!.onPublish(msg)) durable = true;
    const sc = this.scratch;
    sc.reset(msg);
    this.router.match(msg.topic, sc);
    let matched = 0;
    const n = sc.n;
    for (let i = 0; i < n; i++) {
      const s = sc.sessions[i]!;
      const sub = sc.subs[i]!;
      matched++;
      const f = s.mountpoint ? sub.filter.slice(s.mountpoint.length) : sub.filter;
      if (s.offer(msg, sc.qos[i]!, sc.retain[i]!, sc.subIds[i]!, sub.raw, f)) durable = true;
    }
    if (sc.noLocalDrops) this.metrics.c['delivery.dropped.no_local'] += sc.noLocalDrops;
    for (let i = 0; i < sc.ng; i++) {
      const g = sc.groups[i]!;
      let member = g.pick(msg);
      // Re-dispatch a QoS>0 message when the picked member cannot take it [EMQX shared subscription].
      if (member && msg.qos > 0 && !member.session.canTakeMore()) {
        const other = g.pick(msg, member.session);
        if (other && other.session.canTakeMore()) member = other;
      }
      if (!member) continue;
      matched++;
      const o = member.opts;
      const qos = (this.scratch.upgradeQos ? o.qos : msg.qos < o.qos ? msg.qos : o.qos) as QoS;
      const s = member.session;
      const f = s.mountpoint ? member.filter.slice(s.mountpoint.length) : member.filter;
      if (s.offer(msg, qos, o.rap ? msg.retain : false, o.subId ? [o.subId] : null, member.raw, f)) durable = true;
    }
    if (matched === 0) {
      this.metrics.c['messages.dropped']++;
      this.metrics.c['messages.dropped.no_subscribers']++;
    } else this.metrics.c['messages.delivered'] += matched;
    return { ok: true, matched, durable };
  }

  /** $delayed/{seconds}/{topic}: published to {topic} later (EMQX delayed publish). */
  private publishDelayed(msg: Message): PublishResult {
    if (!this.config.delayed.enable) return this.dispatch(msg);
    const rest = msg.topic.slice(9);
    const slash = rest.indexOf('/');
    const n = slash > 0 ? Number(rest.slice(0, slash)) : NaN;
    const topic = slash > 0 ? rest.slice(slash + 1) : '';
    if (!Number.isInteger(n) || n < 0 || topic.length === 0) {
      this.log.info({ topic: msg.topic }, 'delayed_publish_discarded: bad interval or topic');
      return { ok: false, reason: 'topic_invalid' };
    }
    const max = this.config.delayed.max_delayed_messages;
    if (max > 0 && this.delayed.size >= max) {
      this.log.warn({ topic: msg.topic }, 'delayed_publish_dropped: max_delayed_messages reached');
      this.metrics.c['messages.dropped']++;
      return { ok: true, matched: 0, durable: false };
    }
    const now = this.now();
    // Values >= 4294967 are an absolute Unix time in seconds (EMQX).
    const due = n >= 4294967 ? n * 1000 : now + n * 1000;
    const target = msg.with({ topic });
    // Stored before the publisher's ack (group commit), deleted once published.
    this.store.saveDelayed(target, due);
    this.scheduleDelayed(target, due);
    this.metrics.c['messages.delayed']++;
    return { ok: true, matched: 1, durable: true };
  }

  /**
   * Through the clock, which holds any delay: `due` may lie decades ahead (an absolute Unix time), far
   * beyond one Node timer. Re-checked against the wall clock on firing, so a clock set back does not
   * publish early.
   */
  private scheduleDelayed(m: Message, due: number): void {
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(m.id);
      if (due > this.now()) return this.scheduleDelayed(m, due);
      this.store.deleteDelayed(m.id);
      this.dispatch(m);
    }, Math.max(0, due - this.now()));
    this.delayed.set(m.id, { timer, message: m, due });
  }

  delayedMessages(): DelayedSummary[] {
    return [...this.delayed.values()].sort((a, b) => a.due - b.due || a.message.id - b.message.id).map((d) => ({ message: d.message, due: d.due }));
  }

  delayedMessage(id: number): DelayedSummary | null {
    const d = this.delayed.get(id);
    return d ? { message: d.message, due: d.due } : null;
  }

  cancelDelayed(id: number): boolean {
    const d = this.delayed.get(id);
    if (!d) return false;
    this.clock.clearTimeout(d.timer);
    this.delayed.delete(id);
    this.store.deleteDelayed(id);
    this.log.info({ msg_id: id, topic: d.message.topic }, 'delayed_publish_cancelled');
    return true;
  }

  /** $SYS and other broker-originated messages (QoS 0). */
  publishSys(topic: string, payload: string, retain: boolean): void {
    this.dispatch(createMessage({ topic, payload: Buffer.from(payload), qos: 0, retain, from: '', now: this.now() }));
  }

  setRetainedSys(topic: string, payload: string | null): void {
    if (payload === null) this.retainer.delete(topic);
    else this.retainer.retain(createMessage({ topic, payload: Buffer.from(payload), qos: 0, retain: true, from: '', now: this.now() }));
  }

  /**
   * While store writes fail for the medium (store_write_failing) or the held backlog is full, a session
   * that must outlive its connection cannot be kept: fronts refuse to open one (CONNACK Server busy)
   * instead of accepting state they cannot store. Clean sessions and QoS 0 keep working.
   */
  refusesPersistentSessions(): boolean {
    return this.store.writeFailure !== null || !this.store.writable;
  }

  onDrop(session: Session, msg: Message, reason: DropReason): void {
    const c = this.metrics.c;
    c['delivery.dropped']++;
    c['messages.dropped']++;
    if (reason === 'queue_full') c['delivery.dropped.queue_full']++;
    else if (reason === 'expired') c['delivery.dropped.expired']++;
    else if (reason === 'too_large') c['delivery.dropped.too_large']++;
    else c['delivery.dropped.qos0_msg']++;
    const key = reason;
    const now = this.now();
    const entry = this.dropLog.get(key);
    if (!entry) {
      this.dropLog.set(key, { count: 0, since: now });
      const msgName = reason === 'queue_full' ? 'dropped_msg_due_to_mqueue_is_full' : reason === 'qos0_msg' ? 'dropped_qos0_msg' : `dropped_msg_${reason}`;
      this.log.warn(
        { clientid: session.clientId, topic: msg.topic, queue: { dropped: session.dropped, len: session.queuedCount(), max_len: session.limits.maxMqueueLen, store_qos0: session.limits.storeQos0 } },
        msgName,
      );
    } else entry.count++;
  }

  private flushDropLog(now: number, force: boolean): void {
    const windowMs = this.config.log.throttle_window * 1000;
    for (const [k, e] of this.dropLog) {
      if (!force && now - e.since < windowMs) continue;
      if (e.count > 0) this.log.warn({ dropped: { [k]: e.count }, period_s: Math.round((now - e.since) / 1000) }, 'log_events_throttled_during_last_period');
      this.dropLog.delete(k);
    }
  }

  addInterceptor(i: PublishInterceptor): void {
    this.interceptors.push(i);
  }

  removeInterceptor(i: PublishInterceptor): void {
    const k = this.interceptors.indexOf(i);
    if (k >= 0) this.interceptors.splice(k, 1);
  }

  addEventListener(l: BrokerEvents): void {
    this.eventListeners.push(l);
  }

  // ---------------------------------------------------------------- introspection

  summarize(s: Session): ClientSummary {
    return {
      clientId: s.clientId,
      username: s.username,
      protocol: s.protocol,
      protoName: s.protoName,
      protoVer: s.protoVer,
      listener: s.listener,
      peerHost: s.peerHost,
      peerPort: s.peerPort,
      connected: s.outlet !== null,
      keepalive: s.keepalive,
      cleanStart: s.cleanStart,
      expiryInterval: s.expiryInterval,
      createdAt: s.createdAt,
      connectedAt: s.connectedAt,
      disconnectedAt: s.disconnectedAt,
      subscriptionsCount: s.subs.size,
      inflightCount: s.inflight.size,
      inflightMax: s.window,
      mqueueLen: s.queuedCount(),
      mqueueMax: s.limits.maxMqueueLen,
      mqueueDropped: s.dropped,
      awaitingRelCount: s.awaitingRel.size,
      recvMsg: s.recvMsg,
      sendMsg: s.sendMsg,
      recvOct: s.recvOct,
      sendOct: s.sendOct,
      mountpoint: s.mountpoint,
      isBridge: false,
    };
  }

  *clients(): Iterable<ClientSummary> {
    for (const s of this.sessions.values()) yield this.summarize(s);
  }

  client(clientId: string): ClientSummary | null {
    const s = this.sessions.get(clientId);
    return s ? this.summarize(s) : null;
  }

  subscriptions(clientId?: string): SubscriptionSummary[] {
    const out: SubscriptionSummary[] = [];
    const add = (s: Session) => {
      for (const [raw, sub] of s.subs) out.push({ clientId: s.clientId, topic: raw, opts: { ...sub.opts } });
    };
    if (clientId !== undefined) {
      const s = this.sessions.get(clientId);
      if (s) add(s);
    } else for (const s of this.sessions.values()) add(s);
    return out;
  }

  deliveries(clientId: string, which: 'mqueue' | 'inflight'): DeliverySummary[] | null {
    const s = this.sessions.get(clientId);
    if (!s) return null;
    const out: DeliverySummary[] = [];
    if (which === 'mqueue') {
      for (const e of s.queuedEntries()) out.push({ seq: e.seq, message: e.message, qos: e.qos });
      return out;
    }
    for (const e of s.inflight.values()) out.push({ seq: e.seq, message: e.message, qos: e.qos });
    // The window map is in packet-id insertion order; a resend after reconnect keeps its slot, so sort.
    return out.sort((a, b) => a.seq - b.seq);
  }

  subscribeFor(clientId: string, filter: string, opts: SubscriptionOptions): boolean {
    const s = this.sessions.get(clientId);
    if (!s) return false;
    const r = this.subscribe(s, filter, opts);
    if (r.rc >= 0x80) return false;
    if ('retained' in r && r.retained.length) this.deliverRetained(s, r.sub, r.retained);
    return true;
  }

  unsubscribeFor(clientId: string, filter: string): boolean {
    const s = this.sessions.get(clientId);
    return s ? this.unsubscribe(s, filter) : false;
  }

  topics(): string[] {
    return this.router.filters();
  }

  readonly retained = {
    list: (filter?: string) => this.retainer.list(filter),
    get: (topic: string) => this.retainer.get(topic),
    delete: (topic: string) => this.retainer.delete(topic),
    count: () => this.retainer.count(),
  };

  connectionCount(): number {
    return this.connected;
  }

  stats(): BrokerStats {
    let mq = 0;
    let inf = 0;
    for (const s of this.sessions.values()) {
      mq += s.queuedCount();
      inf += s.inflight.size;
    }
    const topics = this.router.filters().length;
    return {
      'connections.count': this.connected,
      'connections.max': this.maxConnected,
      'live_connections.count': this.connected,
      'sessions.count': this.sessions.size,
      'topics.count': topics,
      'subscriptions.count': this.router.size,
      'subscriptions.shared.count': this.router.sharedSize,
      'subscribers.count': this.router.size,
      'retained.count': this.retainer.count(),
      'delayed.count': this.delayed.size,
      'mqueue.total': mq,
      'inflight.total': inf,
    };
  }

  statsForSys(): Record<string, number> {
    return { ...this.stats() };
  }

  metricsForSys(): Record<string, number> {
    return this.metrics.snapshot();
  }
}

export type { TimerHandle };
