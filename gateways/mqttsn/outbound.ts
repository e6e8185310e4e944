// Gateway -> device deliveries of one channel (gateways/mqttsn/SPEC.md §5.3): an ordered queue,
// at most one QoS 1/2 PUBLISH and one REGISTER in flight, REGISTER before the first PUBLISH on a
// topic the device has no id for, re-REGISTER on PUBACK 0x02, T_retry/N_retry retransmission.
import type { Logger } from 'pino';
import type { Delivery, GatewaySession } from '../gateway.js';
import { ReturnCode, shortId, type Frame, type TopicIdType } from './frame.js';
import { hasWildcard, type PredefinedTopics, type TopicRegistry } from './registry.js';
import type { MqttsnConfig } from './config.js';
import type { MqttsnCounter, MqttsnTimer } from './channel.js';

export interface OutboundDeps {
  cfg: MqttsnConfig;
  predefined: PredefinedTopics;
  registry: TopicRegistry;
  /** The channel's named timers (the shared runner); firings come back through registerTimeout/publishTimeout. */
  timers: { setTimer(name: MqttsnTimer, ms: number): void; cancelTimer(name: MqttsnTimer): void };
  send(f: Frame): void;
  session(): GatewaySession | null;
  clientId(): string | null;
  log(): Logger;
  count(name: MqttsnCounter): void;
  /** No REGACK after all retries (EMQX: DISCONNECT, reason reached_max_retry_times). */
  onRegisterExhausted(): void;
  /** No PUBACK/PUBREC/PUBCOMP after N_retry retransmissions. */
  onPublishExhausted(): void;
  /** Nothing queued or in flight any more (an awake device may go back to sleep). */
  onIdle(): void;
}

interface Inflight {
  d: Delivery;
  topicIdType: TopicIdType;
  topicId: number;
  /** What the device owes us: PUBACK (QoS 1), PUBREC then PUBCOMP (QoS 2). */
  stage: 'puback' | 'pubrec' | 'pubcomp';
  retries: number;
}

interface PendingRegister {
  topic: string;
  id: number;
  msgId: number;
  retries: number;
}

export class Outbound {
  private queue: Delivery[] = [];
  private inflight: Inflight | null = null;
  private reg: PendingRegister | null = null;
  private resumeRegs: string[] = [];
  private nextMsgId = 1;
  private pumping = false;
  private held = 0;

  constructor(private readonly deps: OutboundDeps) {}

  get idle(): boolean {
    return this.queue.length === 0 && this.inflight === null && this.reg === null && this.resumeRegs.length === 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  push(d: Delivery): void {
    this.queue.push(d);
  }

  /** Keep sending until release() (SUBACK must precede retained deliveries). */
  hold(): void {
    this.held++;
  }

  release(): void {
    if (this.held > 0) this.held--;
  }

  /** REGISTER `topic` before any replay (subs_resume, spec §5.4). */
  resumeRegister(topic: string): void {
    if (!this.resumeRegs.includes(topic)) this.resumeRegs.push(topic);
  }

  private msgId(): number {
    const id = this.nextMsgId;
    this.nextMsgId = id >= 0xffff ? 1 : id + 1;
    return id;
  }

  /** How the device can name `topic` right now, or null when a REGISTER must come first (spec §2). */
  private topicFor(topic: string): { type: TopicIdType; id: number } | null {
    const pre = this.deps.predefined.id(topic, this.deps.clientId());
    if (pre !== undefined) return { type: 1, id: pre };
    const id = this.deps.registry.id(topic);
    if (id !== undefined && this.deps.registry.isKnown(id)) return { type: 0, id };
    if (topic.length === 2 && !hasWildcard(topic)) {
      const s = shortId(topic);
      if (s >= 0) return { type: 2, id: s };
    }
    return null;
  }

  pump(): void {
    if (this.pumping || this.held > 0) return;
    this.pumping = true;
    try {
      while (this.inflight === null && this.reg === null) {
        const again = this.resumeRegs.shift();
        if (again !== undefined) {
          const id = this.deps.registry.register(again);
          if (id !== null && !this.deps.registry.isKnown(id)) this.startRegister(again, id);
          continue;
        }
        const d = this.queue[0];
        if (!d) break;
        const topic = d.message.topic;
        const t = this.topicFor(topic);
        if (t === null) {
          const id = this.deps.registry.register(topic);
          if (id === null) {
            this.queue.shift();
            this.drop(d, 'topic_id_space_full');
            continue;
          }
          this.startRegister(topic, id);
          break;
        }
        this.queue.shift();
        this.sendPublish(d, t.type, t.id, d.dup);
        this.deps.count('messages.sent');
        if (d.qos > 0) {
          this.inflight = { d, topicIdType: t.type, topicId: t.id, stage: d.qos === 1 ? 'puback' : 'pubrec', retries: 0 };
          this.armPublishRetry();
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.idle) this.deps.onIdle();
  }

  private sendPublish(d: Delivery, type: TopicIdType, topicId: number, dup: boolean): void {
    this.deps.send({
      type: 'publish',
      dup,
      qos: d.qos,
      retain: d.retain,
      topicIdType: type,
      topicId,
      // QoS 0 deliveries use MsgId 0 (spec §5.3); QoS 1/2 reuse the session's packet id.
      msgId: d.qos === 0 ? 0 : d.pid,
      payload: d.message.payload,
    });
  }

  private startRegister(topic: string, id: number): void {
    this.reg = { topic, id, msgId: this.msgId(), retries: 0 };
    this.deps.send({ type: 'register', topicId: id, msgId: this.reg.msgId, topicName: topic });
    this.deps.timers.setTimer('register_retry', this.deps.cfg.retry.register_interval * 1000);
  }

  /** The device will not take this delivery: settle it with the broker so the window moves on. */
  private drop(d: Delivery, reason: string): void {
    this.deps.count('messages.dropped');
    this.deps.log().info({ reason, topic: d.message.topic, qos: d.qos }, 'delivery_dropped');
    const s = this.deps.session();
    if (!s || d.qos === 0) return;
    if (d.qos === 1) s.ack(d.pid);
    else {
      s.received(d.pid);
      s.complete(d.pid);
    }
  }

  regack(f: Extract<Frame, { type: 'regack' }>): void {
    const r = this.reg;
    if (!r || f.msgId !== r.msgId) return;
    // Congestion: the retry timer sends it again (spec §5.3).
    if (f.rc === ReturnCode.CONGESTION) return;
    this.deps.timers.cancelTimer('register_retry');
    this.reg = null;
    if (f.rc === ReturnCode.ACCEPTED) {
      this.deps.registry.confirm(r.id);
    } else {
      // Refused: skip that topic (EMQX), settling every delivery waiting for it.
      const refused = this.queue.filter((d) => d.message.topic === r.topic);
      this.queue = this.queue.filter((d) => d.message.topic !== r.topic);
      for (const d of refused) this.drop(d, 'register_refused');
    }
    this.pump();
  }

  registerTimeout(): void {
    const r = this.reg;
    if (!r) return;
    if (r.retries >= this.deps.cfg.retry.register_max) {
      this.reg = null;
      this.deps.onRegisterExhausted();
      return;
    }
    r.retries++;
    this.deps.send({ type: 'register', topicId: r.id, msgId: r.msgId, topicName: r.topic });
    this.deps.timers.setTimer('register_retry', this.deps.cfg.retry.register_interval * 1000);
  }

  private armPublishRetry(): void {
    this.deps.timers.setTimer('publish_retry', this.deps.cfg.retry.publish_interval * 1000);
  }

  puback(f: Extract<Frame, { type: 'puback' }>): void {
    const i = this.inflight;
    if (!i || i.d.pid !== f.msgId || i.stage === 'pubcomp') return;
    if (f.rc === ReturnCode.CONGESTION) return; // resent by the retry timer
    this.deps.timers.cancelTimer('publish_retry');
    this.inflight = null;
    if (f.rc === ReturnCode.ACCEPTED && i.d.qos === 1) {
      this.deps.session()?.ack(i.d.pid);
    } else if (f.rc === ReturnCode.INVALID_TOPIC_ID && i.topicIdType === 0) {
      // The device lost the id: REGISTER it again, then resend (spec §5.3, checklist 14).
      this.deps.registry.forget(i.topicId);
      this.queue.unshift({ ...i.d, dup: true });
    } else {
      this.drop(i.d, `puback_rc_${f.rc}`);
    }
    this.pump();
  }

  pubrec(msgId: number): void {
    const i = this.inflight;
    if (!i || i.d.pid !== msgId || i.d.qos !== 2) return;
    if (i.stage === 'pubrec') {
      this.deps.session()?.received(i.d.pid);
      i.stage = 'pubcomp';
      i.retries = 0;
    }
    this.deps.send({ type: 'pubrel', msgId });
    this.armPublishRetry();
  }

  pubcomp(msgId: number): void {
    const i = this.inflight;
    if (!i || i.d.pid !== msgId || i.stage !== 'pubcomp') return;
    this.deps.timers.cancelTimer('publish_retry');
    this.inflight = null;
    this.deps.session()?.complete(msgId);
    this.pump();
  }

  publishTimeout(): void {
    const i = this.inflight;
    if (!i) return;
    if (i.retries >= this.deps.cfg.retry.publish_max) {
      this.deps.onPublishExhausted();
      return;
    }
    i.retries++;
    if (i.stage === 'pubcomp') this.deps.send({ type: 'pubrel', msgId: i.d.pid });
    else this.sendPublish(i.d, i.topicIdType, i.topicId, true);
    this.armPublishRetry();
  }

  /**
   * The device goes to sleep or away: forget what is on the way. QoS 1/2 deliveries stay inflight
   * in the broker session and come again (dup) on attach; QoS 0 ones not yet sent are dropped.
   */
  suspend(): void {
    this.deps.timers.cancelTimer('register_retry');
    this.deps.timers.cancelTimer('publish_retry');
    let dropped = 0;
    for (const d of this.queue) if (d.qos === 0) dropped++;
    if (dropped > 0) {
      this.deps.count('messages.dropped');
      this.deps.log().info({ reason: 'client_unreachable', dropped }, 'delivery_dropped');
    }
    this.queue = [];
    this.inflight = null;
    this.reg = null;
    this.resumeRegs = [];
    this.held = 0;
  }

  reset(): void {
    this.suspend();
  }
}
