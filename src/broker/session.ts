// One client's session: subscriptions, the inflight window and the message queue behind it,
// packet ids, and (for persistent sessions) their durable copy in the store. Synchronous and
// protocol-agnostic: an Outlet (MQTT channel or gateway channel) is attached while connected.
import { FLOW_STALL_MS, FlowWaiters, flowHighWater, type FlowSource, type FlowWaiter } from './flow.js';
import type { Message } from '../core/message.js';
import type { Subscriber, Subscription } from './router.js';
import type { ClientIdentity, Delivery, DisconnectReason, MessageProperties, Outlet, Publisher, QoS, SubscriptionOptions, TimerHandle } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { Metrics } from '../core/metrics.js';

export interface SessionLimits {
  /** Effective inflight window cap (min with the client's Receive-Maximum is applied on connect). */
  maxInflight: number;
  /** 0 = unlimited. */
  maxMqueueLen: number;
  /** 0 = unlimited. */
  maxMqueueBytes: number;
  storeQos0: boolean;
  maxAwaitingRel: number;
}

export type DropReason = 'queue_full' | 'expired' | 'qos0_msg' | 'too_large';

/** What a session needs from the broker. */
export interface SessionHost {
  readonly store: Store;
  readonly metrics: Metrics;
  now(): number;
  onDrop(session: Session, msg: Message, reason: DropReason): void;
  /** Count of messages that had to wait in a connected consumer's queue (congestion, see channel.ts). */
  queuePushes: number;
  /** Whether congested sessions ask publishers to wait (mqtt.publisher_flow_control). */
  readonly flowControl: boolean;
  /**
   * Set by a consumer (a session's queue, a bridge's log) that crossed its high-water mark while it
   * keeps up; the publisher's front reads and clears it after each publish (see broker/flow.ts).
   */
  congestedBy: FlowSource | null;
}

export interface WillSpec {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  props: MessageProperties | null;
  /** Seconds (v5 Will-Delay-Interval). */
  delay: number;
  /** Message-Expiry-Interval of the will, seconds, 0 none. */
  expiry: number;
}

/** A message on its way to this session: queued, inflight, or handed straight to the outlet (QoS 0). */
export class QueueEntry implements Delivery {
  pid = 0;
  /** 0 queued, 1 sent awaiting PUBACK/PUBREC, 2 PUBREL sent awaiting PUBCOMP. */
  state: 0 | 1 | 2 = 0;
  dup = false;
  sentAt = 0;
  constructor(
    readonly seq: number,
    readonly message: Message,
    readonly qos: QoS,
    readonly retain: boolean,
    readonly subIds: readonly number[] | null,
    /** The matching subscription as subscribed (with $share/ prefix), for re-dispatch. */
    readonly sub: string,
    /** Filter without share prefix and mountpoint, for the outlet. */
    readonly filter: string,
  ) {}
}

const NEVER = 0xffffffff;

/**
 * The empty window and the empty awaiting-PUBREL set of every session that has none: an empty Map
 * costs ~190 bytes and most idle sessions never need these two (bench idle-conns: ~0.4 KiB per
 * connection). A session swaps in its own Map on its first insert; writing to these throws.
 */
class NoEntries<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('shared empty map: a session must make its own before inserting');
  }
}
const NO_INFLIGHT: Map<number, QueueEntry> = new NoEntries();
const NO_AWAITING_REL: Map<number, number> = new NoEntries();

export class Session implements Subscriber, FlowSource, Publisher {
  readonly clientId: string;
  username: string | null = null;
  superuser = false;
  protocol = 'mqtt';
  protoName = 'MQTT';
  protoVer: number | string = 4;
  listener = '';
  peerHost = '';
  peerPort = 0;
  sockPort = 0;
  keepalive = 0;
  cleanStart = true;
  mountpoint = '';
  /** The front's name in $SYS topics (EMQX's spelling, e.g. 'mqtt-sn'), given by the front. */
  sysName = 'mqtt';
  /** Seconds; 0 ends with the connection, 0xFFFFFFFF never expires. */
  expiryInterval = 0;
  readonly createdAt: number;
  connectedAt = 0;
  disconnectedAt = 0;
  lastSeen = 0;
  /** Cached auth identity (authIdentity()); reset when a connection opens the session. */
  identity: ClientIdentity | null = null;
  /**
   * A sleeping device (MQTT-SN): its connection stays attached (takeover, kick and counts work as
   * usual) but nothing is delivered; messages, QoS 0 included, wait in the queue until it wakes.
   */
  paused = false;
  /** Whether a durable row for this session exists (it was persistent at some point). */
  stored = false;

  outlet: Outlet | null = null;
  readonly subs = new Map<string, Subscription<Session>>();
  /** Unacknowledged deliveries by packet id; shared NO_INFLIGHT until the first one. */
  inflight = NO_INFLIGHT;
  private queue: QueueEntry[] = [];
  private qHead = 0;
  private qBytes = 0;
  window: number;
  private nextPid = 1;
  private seq = 0;
  /** Inbound QoS 2 packet ids awaiting PUBREL, with arrival time [MQTT-4.3.3]. */
  awaitingRel = NO_AWAITING_REL;

  will: WillSpec | null = null;
  willTimer: TimerHandle | null = null;
  expiryTimer: TimerHandle | null = null;

  recvMsg = 0;
  sendMsg = 0;
  recvOct = 0;
  sendOct = 0;
  dropped = 0;

  /** Publishers waiting for this session's queue to drain (flow control); null until the first. */
  private waiters: FlowWaiters | null = null;
  /**
   * When the consumer last acknowledged a delivery, or got its first one after an empty window
   * (so a fresh consumer has FLOW_STALL_MS for its first ack): flow control's progress test.
   */
  private lastProgressAt = 0;

  /** Router de-duplication scratch (one delivery per session per publish). */
  matchGen = 0;
  matchIdx = 0;

  /** The identity auth hooks see: built once per connection, not per PUBLISH. */
  authIdentity(): ClientIdentity {
    return (this.identity ??= {
      clientId: this.clientId,
      username: this.username,
      peerHost: this.peerHost,
      peerPort: this.peerPort,
      protocol: this.protocol,
      listener: this.listener,
      superuser: this.superuser,
    });
  }

  constructor(
    clientId: string,
    private readonly host: SessionHost,
    readonly limits: SessionLimits,
    now: number,
  ) {
    this.clientId = clientId;
    this.window = limits.maxInflight === 0 ? 65535 : limits.maxInflight;
    this.createdAt = now;
  }

  /** Able to take deliveries now (shared groups prefer such members). */
  isConnected(): boolean {
    return this.outlet !== null && !this.paused;
  }

  isPersistent(): boolean {
    return this.expiryInterval > 0;
  }

  neverExpires(): boolean {
    return this.expiryInterval >= NEVER;
  }

  queuedCount(): number {
    return this.queue.length - this.qHead;
  }

  queuedBytes(): number {
    return this.qBytes;
  }

  private track(e: QueueEntry): void {
    if (this.inflight === NO_INFLIGHT) this.inflight = new Map();
    this.inflight.set(e.pid, e);
  }

  /** Remember an inbound QoS 2 packet id until its PUBREL (also used when loading from the store). */
  awaitRel(pid: number, at: number): void {
    if (this.awaitingRel === NO_AWAITING_REL) this.awaitingRel = new Map();
    this.awaitingRel.set(pid, at);
  }

  /** Restore the sequence counter after loading stored entries. */
  restoreSeq(seq: number): void {
    if (seq > this.seq) this.seq = seq;
  }

  /** Would an offered QoS>0 message be accepted without dropping anything? (shared-group re-dispatch) */
  canTakeMore(): boolean {
    if (this.isConnected() && this.inflight.size < this.window && this.queuedCount() === 0) return true;
    if (!this.outlet && !this.isPersistent()) return false;
    const max = this.limits.maxMqueueLen;
    return max === 0 || this.queuedCount() < max;
  }

  /**
   * Offer a routed message. Returns true when it made a durable write this tick (the publisher's
   * ack must wait for the commit).
   */
  offer(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | null, sub: string, filter: string): boolean {
    const host = this.host;
    const live = this.outlet !== null && !this.paused;
    if (qos === 0) {
      if (live) {
        this.send(new QueueEntry(0, msg, 0, retain, subIds, sub, filter));
        return false;
      }
      if (!this.limits.storeQos0 || !(this.isPersistent() || this.paused)) {
        host.onDrop(this, msg, 'qos0_msg');
        return false;
      }
    }
    const e = new QueueEntry(++this.seq, msg, qos, retain, subIds, sub, filter);
    const durable = this.isPersistent();
    if (durable) {
      this.stored = true;
      host.store.enqueueRow(this.clientId, e.seq, msg, qos, 0, 0, subIds ? subIds.join(',') : '', retain, sub);
    }
    if (live && this.inflight.size < this.window && this.queuedCount() === 0) {
      this.send(e);
      return durable;
    }
    this.push(e);
    return durable;
  }

  /** Put back an entry loaded from the store (startup). */
  restoreEntry(e: QueueEntry): void {
    if (e.state === 0) this.push(e);
    else {
      this.track(e);
      if (e.pid >= this.nextPid) this.nextPid = e.pid === 65535 ? 1 : e.pid + 1;
    }
    if (e.seq > this.seq) this.seq = e.seq;
  }

  private push(e: QueueEntry): void {
    const max = this.limits.maxMqueueLen;
    const maxBytes = this.limits.maxMqueueBytes;
    this.queue.push(e);
    this.qBytes += e.message.payload.length;
    // Drop the oldest on overflow (EMQX drop policy), each drop counted and logged.
    while ((max > 0 && this.queuedCount() > max) || (maxBytes > 0 && this.qBytes > maxBytes && this.queuedCount() > 1)) {
      const old = this.shift()!;
      this.forget(old);
      this.dropped++;
      this.host.onDrop(this, old.message, 'queue_full');
    }
    // A connected consumer's queue growing is congestion; an offline session's queue is storage.
    if (this.outlet !== null && !this.paused) {
      const host = this.host;
      host.queuePushes++;
      if (host.flowControl && this.queuedCount() >= this.highWater() && host.now() - this.lastProgressAt < FLOW_STALL_MS) host.congestedBy = this;
    }
  }

  private highWater(): number {
    return flowHighWater(this.window, this.limits.maxMqueueLen);
  }

  addWaiter(w: FlowWaiter): void {
    (this.waiters ??= new FlowWaiters()).addWaiter(w);
  }

  hasWaiters(): boolean {
    return this.waiters !== null && this.waiters.hasWaiters();
  }

  removeWaiter(w: FlowWaiter): void {
    this.waiters?.removeWaiter(w);
  }

  private releaseWaiters(): void {
    this.waiters?.release();
  }

  private shift(): QueueEntry | undefined {
    if (this.qHead >= this.queue.length) return undefined;
    const e = this.queue[this.qHead]!;
    this.queue[this.qHead] = undefined as unknown as QueueEntry;
    this.qHead++;
    this.qBytes -= e.message.payload.length;
    if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
    return e;
  }

  /** Remove an entry's durable copy. */
  private forget(e: QueueEntry): void {
    if (e.seq !== 0 && this.stored) this.host.store.dequeue(this.clientId, e.seq);
  }

  private allocPid(): number {
    for (let i = 0; i < 65535; i++) {
      const pid = this.nextPid;
      this.nextPid = pid === 65535 ? 1 : pid + 1;
      if (!this.inflight.has(pid)) return pid;
    }
    return 0;
  }

  private send(e: QueueEntry): void {
    const now = this.host.now();
    if (e.message.isExpired(now)) {
      this.forget(e);
      this.host.onDrop(this, e.message, 'expired');
      return;
    }
    if (e.qos > 0) {
      if (this.inflight.size === 0) this.lastProgressAt = now;
      e.pid = this.allocPid();
      e.state = 1;
      e.sentAt = now;
      this.track(e);
      if (this.stored && e.seq !== 0) this.host.store.updateQueued(this.clientId, e.seq, e.pid, 1);
    } else if (e.seq !== 0) {
      // A queued QoS 0 message is done once handed over: nothing to acknowledge.
      this.forget(e);
    }
    this.sendMsg++;
    this.sendOct += e.message.payload.length;
    this.outlet!.deliver(e);
  }

  /** Move queued messages into the window while there is room. */
  pump(): void {
    while (this.outlet && !this.paused && this.inflight.size < this.window) {
      const e = this.shift();
      if (!e) break;
      this.send(e);
    }
    if (this.waiters !== null && this.queuedCount() <= this.highWater() >> 1) this.releaseWaiters();
  }

  /**
   * An inbound QoS 2 PUBLISH was accepted: remember its packet id until PUBREL [MQTT-4.3.3]. Returns
   * true when that is a durable write (persistent session), so PUBREC waits for the commit.
   */
  receivedQos2(pid: number, now: number): boolean {
    this.awaitRel(pid, now);
    if (!this.stored) return false;
    this.host.store.saveAwaitingRel(this.clientId, pid, now);
    return true;
  }

  /** PUBREL arrived (or the entry timed out); false when the pid was not awaited. */
  released(pid: number): boolean {
    if (!this.awaitingRel.delete(pid)) return false;
    if (this.stored) this.host.store.deleteAwaitingRel(this.clientId, pid);
    return true;
  }

  /** PUBACK for a QoS 1 delivery; false when the pid is unknown. */
  puback(pid: number): boolean {
    return this.completed(pid, 1);
  }

  /** The last ack of a QoS 1 or 2 delivery (PUBACK / PUBCOMP): its slot frees up for the queue. */
  private completed(pid: number, qos: 1 | 2): boolean {
    const e = this.inflight.get(pid);
    if (!e || e.qos !== qos) return false;
    this.inflight.delete(pid);
    this.forget(e);
    this.lastProgressAt = this.host.now();
    this.host.metrics.c['messages.acked']++;
    this.pump();
    return true;
  }

  /** PUBREC for a QoS 2 delivery; the caller sends PUBREL. A v5 PUBREC >= 0x80 ends the flow [MQTT-4.3.3-4]. */
  pubrec(pid: number, failed = false): boolean {
    const e = this.inflight.get(pid);
    if (!e || e.qos !== 2) return false;
    if (failed) {
      this.inflight.delete(pid);
      this.forget(e);
      this.pump();
      return true;
    }
    if (e.state !== 2) {
      e.state = 2;
      if (this.stored && e.seq !== 0) this.host.store.updateQueued(this.clientId, e.seq, pid, 2);
    }
    return true;
  }

  pubcomp(pid: number): boolean {
    return this.completed(pid, 2);
  }

  /** The outlet could not deliver an inflight message (too large for the peer): drop it, free the slot. */
  abandon(pid: number, reason: DropReason): void {
    const e = this.inflight.get(pid);
    if (!e) return;
    this.inflight.delete(pid);
    this.forget(e);
    this.host.onDrop(this, e.message, reason);
  }

  /** Take back an inflight delivery and put it at the head of the queue (gateway refused it for now). */
  requeue(pid: number): void {
    const e = this.inflight.get(pid);
    if (!e) return;
    this.inflight.delete(pid);
    e.state = 0;
    e.pid = 0;
    if (this.stored && e.seq !== 0) this.host.store.updateQueued(this.clientId, e.seq, 0, 0);
    if (this.qHead > 0) this.queue[--this.qHead] = e;
    else this.queue.unshift(e);
    this.qBytes += e.message.payload.length;
  }

  /** Attach a connection: resend inflight (DUP, or PUBREL for received QoS 2), then the queue [MQTT-4.4.0-1]. */
  attach(outlet: Outlet, window: number): void {
    this.outlet = outlet;
    this.paused = false;
    this.window = Math.max(1, Math.min(window, this.limits.maxInflight === 0 ? 65535 : this.limits.maxInflight));
    const now = this.host.now();
    for (const e of [...this.inflight.values()]) {
      if (!this.outlet) return;
      if (e.state === 2) {
        if (outlet.release) outlet.release(e.pid);
        else this.pubcomp(e.pid);
        continue;
      }
      if (e.message.isExpired(now)) {
        this.inflight.delete(e.pid);
        this.forget(e);
        this.host.onDrop(this, e.message, 'expired');
        continue;
      }
      e.dup = true;
      e.sentAt = now;
      outlet.deliver(e);
    }
    this.pump();
  }

  /** The outlet's socket drained its QoS 0 backlog: publishers held on it go on, unless the queue still holds them. */
  outletDrained(): void {
    if (this.queuedCount() <= this.highWater() >> 1) this.releaseWaiters();
  }

  detach(): void {
    this.outlet = null;
    this.paused = false;
    // An offline session's queue is storage, not congestion: nobody waits on it.
    this.releaseWaiters();
  }

  /** Resend inflight messages older than `olderThan` (retry_interval while connected). */
  retry(olderThan: number): void {
    const outlet = this.outlet;
    if (!outlet || this.paused) return;
    for (const e of this.inflight.values()) {
      if (e.sentAt > olderThan) continue;
      e.sentAt = this.host.now();
      if (e.state === 2) outlet.release?.(e.pid);
      else {
        e.dup = true;
        outlet.deliver(e);
      }
    }
  }

  /** Drain everything (session end); returns QoS>0 entries of shared subscriptions for re-dispatch. */
  drainForRedispatch(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const e of this.inflight.values()) if (e.state === 1 && e.sub.charCodeAt(0) === 36 && e.qos > 0) out.push(e);
    for (let i = this.qHead; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (e.qos > 0 && e.sub.charCodeAt(0) === 36) out.push(e);
    }
    this.inflight.clear();
    this.queue = [];
    this.qHead = 0;
    this.qBytes = 0;
    this.releaseWaiters();
    return out;
  }

  /** Entries for admin listing (mqueue then inflight). */
  queuedEntries(): QueueEntry[] {
    return this.queue.slice(this.qHead);
  }

  saveSubscription(raw: string, opts: SubscriptionOptions): void {
    if (this.isPersistent()) {
      this.ensureStored();
      this.host.store.saveSubscription(this.clientId, raw, opts);
    }
  }

  deleteSubscription(raw: string): void {
    if (this.stored) this.host.store.deleteSubscription(this.clientId, raw);
  }

  /** Write the session row (and every subscription the first time it becomes persistent). */
  ensureStored(): void {
    if (!this.isPersistent()) return;
    const first = !this.stored;
    this.stored = true;
    this.host.store.saveSession({
      clientId: this.clientId,
      protocol: this.protocol,
      username: this.username,
      expiryInterval: this.expiryInterval,
      createdAt: this.createdAt,
      disconnectedAt: this.outlet ? 0 : this.disconnectedAt || this.host.now(),
    });
    if (first) for (const [raw, s] of this.subs) this.host.store.saveSubscription(this.clientId, raw, s.opts);
  }

  /** Drop the durable copy (session ended). */
  unstore(): void {
    if (this.stored) {
      this.host.store.deleteSession(this.clientId);
      this.stored = false;
    }
  }
}

export type { DisconnectReason };
