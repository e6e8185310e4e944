// One MQTT-SN client's state machine (gateways/mqttsn/SPEC.md §3-§6): frames, deliveries, timer
// firings, authentication answers and durability in; effects out through the shared runner
// (gateways/transport/effects.ts), which sends frames on the Link, keeps the named timers on the
// injected clock, asks the broker's chain and waits for the group commit. Outbound deliveries
// (REGISTER before PUBLISH, window of 1, retries) live in outbound.ts.
import type { Logger } from 'pino';
import type { AuthOutcome, DeliverySink, Delivery, DisconnectReason, GatewayContext, GatewaySession, QoS, WillMessage } from '../gateway.js';
import { ChannelRunner, type CoreEffect } from '../transport/effects.js';
import type { Link, TransportChannel } from '../transport/types.js';
import { authSecurity } from '../transport/peer-security.js';
import { ReturnCode, type Frame, type SnQoS } from './frame.js';
import { hasWildcard, type PredefinedTopics, TopicRegistry } from './registry.js';
import { publishTopic, rcFor, registerTopic, subscribeFilter } from './topics.js';
import { Outbound } from './outbound.js';
import { MAX_SLEEP_DURATION, PROTO_VER } from './params.js';
import type { MqttsnConfig } from './config.js';

export type ChannelState = 'idle' | 'wait_willtopic' | 'wait_willmsg' | 'authenticating' | 'connected' | 'asleep' | 'awake' | 'closed';

export type MqttsnTimer = 'keepalive' | 'sleep' | 'register_retry' | 'publish_retry';

/** The shared effects plus MQTT-SN's one of its own: a frame to the device. */
export type MqttsnEffect = CoreEffect<MqttsnTimer> | { type: 'send'; frame: Frame };

export type MqttsnCounter =
  | 'messages.received'
  | 'messages.sent'
  | 'messages.dropped'
  | 'messages.qos3.received'
  | 'messages.qos3.dropped'
  | 'clients.connected'
  | 'clients.auth_failed'
  | 'clients.keepalive_timeout'
  | 'clients.sleep_timeout'
  | 'frames.error'
  | 'frames.dropped';

export interface ChannelDeps {
  ctx: GatewayContext;
  config: MqttsnConfig;
  predefined: PredefinedTopics;
  link: Link<Frame>;
  /** Client id for an empty CONNECT ClientId (random in production, fixed in tests). */
  generateClientId(): string;
  count(name: MqttsnCounter): void;
}

function qosOf(q: SnQoS): QoS {
  return q === -1 ? 0 : q;
}

export class MqttsnChannel implements TransportChannel<Frame>, DeliverySink {
  state: ChannelState = 'idle';
  clientId: string | null = null;
  session: GatewaySession | null = null;
  readonly registry = new TopicRegistry();
  private readonly ctx: GatewayContext;
  private readonly cfg: MqttsnConfig;
  readonly link: Link<Frame>;
  private log: Logger;
  private readonly fx: ChannelRunner<MqttsnTimer, MqttsnEffect>;
  /** QoS 1/2 acknowledgements waiting for the group commit, by await-durable id. */
  private readonly durableAcks = new Map<number, Frame>();
  private nextDurableId = 1;
  private readonly out: Outbound;
  private cleanSession = true;
  private keepalive = 0;
  private lastRx = 0;
  private sleepDuration = 0;
  private will: WillMessage | null = null;
  /** QoS 2 publishes from the device awaiting PUBREL (MQTT-SN 1.2 §6.7): msg id -> arrival time. */
  private readonly awaitingRel = new Map<number, number>();

  constructor(private readonly deps: ChannelDeps) {
    this.ctx = deps.ctx;
    this.cfg = deps.config;
    this.link = deps.link;
    this.log = deps.ctx.log.child({ gw: 'mqttsn', listener: deps.link.listener, peer: deps.link.key });
    this.fx = new ChannelRunner<MqttsnTimer, MqttsnEffect>({
      clock: deps.ctx.clock,
      ctx: deps.ctx,
      log: this.log,
      apply: (eff) => {
        if (eff.type === 'send') this.link.send(eff.frame);
      },
      crashed: (err) => this.crashed(err),
      // CONNACK always follows in a later turn, whether the answer is local or remote.
      localAuth: 'next-turn',
    }).bind(this);
    this.lastRx = deps.ctx.clock.now();
    this.out = new Outbound({
      cfg: deps.config,
      predefined: deps.predefined,
      registry: this.registry,
      timers: this.fx,
      send: (f) => this.send(f),
      session: () => this.session,
      clientId: () => this.clientId,
      log: () => this.log,
      count: deps.count,
      onRegisterExhausted: () => this.lost('reached_max_retry_times', 'protocol_error'),
      onPublishExhausted: () => (this.state === 'awake' ? this.sleep(this.sleepDuration) : this.lost('reached_max_retry_times', 'keepalive_timeout')),
      onIdle: () => this.maybeFinishAwake(),
    });
  }

  private get active(): boolean {
    return this.state === 'connected' || this.state === 'awake';
  }

  // ---- transport inputs ----

  // Every input goes through the runner, which fences it: a defect ends this channel only.

  handleFrame(f: Frame): void {
    this.fx.input(() => this.onFrame(f));
  }

  private onFrame(f: Frame): void {
    this.lastRx = this.ctx.clock.now();
    if (f.type === 'searchgw') {
      // Answered in every state, unicast to the sender (spec §3.1, §7).
      this.send({ type: 'gwinfo', gwId: this.cfg.gateway_id, gwAdd: null });
      return;
    }
    switch (this.state) {
      case 'idle':
        return this.onIdleFrame(f);
      case 'wait_willtopic':
      case 'wait_willmsg':
        return this.onWillHandshake(f);
      case 'authenticating':
        if (f.type === 'disconnect') {
          this.send({ type: 'disconnect', duration: null });
          this.finish();
        }
        // Anything else waits for the answer of authentication; EMQX drops it likewise.
        return;
      case 'connected':
      case 'asleep':
      case 'awake':
        return this.onSessionFrame(f);
      case 'closed':
        return;
    }
  }

  handleFrameError(code: string, detail: string): void {
    this.deps.count('frames.error');
    this.log.info({ reason: code, detail }, 'frame_decode_failed');
    // A malformed message closes the channel (spec §1.1); an abnormal end publishes the will.
    if (this.session) this.endSession('malformed_packet', true);
    this.finish();
  }

  handleIdle(idleMs: number): boolean {
    switch (this.state) {
      case 'idle':
      case 'wait_willtopic':
      case 'wait_willmsg':
        if (idleMs < this.cfg.idle_timeout * 1000) return false;
        this.log.debug({ reason: 'idle_timeout' }, 'channel_idle');
        this.finish();
        return true;
      case 'closed':
        return true;
      default:
        // Connected and sleeping devices are supervised by their keepalive and sleep timers.
        return false;
    }
  }

  handleTransportClosed(): void {
    if (this.session) this.endSession('server_shutdown', false);
    this.finish();
  }

  handleTimer(name: MqttsnTimer): void {
    switch (name) {
      case 'keepalive':
        return this.checkKeepalive();
      case 'sleep':
        return this.sleepTimeout();
      case 'register_retry':
        return this.out.registerTimeout();
      case 'publish_retry':
        return this.out.publishTimeout();
    }
  }

  // ---- broker inputs (DeliverySink) ----

  deliver(d: Delivery): void {
    this.fx.input(() => this.onDeliver(d));
  }

  private onDeliver(d: Delivery): void {
    if (this.state === 'closed') return;
    this.out.push(d);
    if (this.active) this.out.pump();
  }

  kick(reason: DisconnectReason): void {
    if (this.state === 'closed') return;
    this.log.info({ reason }, 'client_kicked');
    // The broker already ended the session; tell the device so it reconnects (EMQX 5.8.9 stays silent).
    this.send({ type: 'disconnect', duration: null });
    this.session = null;
    this.finish();
  }

  // ---- states ----

  private onIdleFrame(f: Frame): void {
    switch (f.type) {
      case 'connect':
        return this.startConnect(f);
      case 'disconnect':
        this.send({ type: 'disconnect', duration: null });
        return this.finish();
      default:
        // EMQX closes an idle channel on anything but CONNECT, silently (spec §3.1).
        this.log.debug({ frame: f.type, reason: 'not_connected' }, 'frame_dropped');
        return this.finish();
    }
  }

  private startConnect(f: Extract<Frame, { type: 'connect' }>): void {
    const id = f.clientId === '' ? this.deps.generateClientId() : f.clientId;
    if (id.length > this.cfg.max_clientid_len) {
      this.send({ type: 'connack', rc: ReturnCode.NOT_SUPPORTED });
      return this.finish();
    }
    this.clientId = id;
    this.log = this.log.child({ clientid: id });
    this.cleanSession = f.cleanSession;
    this.keepalive = f.duration;
    this.will = null;
    if (f.will) {
      // Will handshake first, authentication after WILLMSG (spec §4).
      this.state = 'wait_willtopic';
      this.send({ type: 'willtopicreq' });
      return;
    }
    this.authenticate();
  }

  private onWillHandshake(f: Frame): void {
    if (f.type === 'disconnect') {
      this.send({ type: 'disconnect', duration: null });
      return this.finish();
    }
    if (this.state === 'wait_willtopic' && f.type === 'willtopic') {
      if (f.topic === null) {
        // Empty WILLTOPIC: no will, CONNACK directly (spec §3.1).
        this.will = null;
        return this.authenticate();
      }
      this.will = { topic: f.topic, payload: Buffer.alloc(0), qos: qosOf(f.qos), retain: f.retain };
      this.state = 'wait_willmsg';
      this.send({ type: 'willmsgreq' });
      return;
    }
    if (this.state === 'wait_willmsg' && f.type === 'willmsg' && this.will) {
      this.will = { ...this.will, payload: f.payload };
      return this.authenticate();
    }
    // CONNECT again or stray frames during the handshake are ignored (EMQX `connecting`).
    this.log.debug({ frame: f.type, state: this.state }, 'frame_ignored');
  }

  private authenticate(): void {
    this.state = 'authenticating';
    const clientId = this.clientId!;
    const peer = this.link.peer;
    // Credentials only come from clientinfo_override templates: MQTT-SN 1.2 CONNECT has none (spec §4).
    const o = this.cfg.clientinfo_override;
    const fill = (t: string | undefined): string | null => (t === undefined ? null : t.replaceAll('${clientid}', clientId));
    const username = fill(o.username);
    const password = fill(o.password);
    this.fx.authenticate({
      clientId,
      username,
      password: password === null ? null : Buffer.from(password),
      peerHost: peer.address,
      peerPort: peer.port,
      listener: this.link.listener,
      // Over DTLS: the PSK identity or certificate the handshake proved authenticates the device.
      ...authSecurity(peer.security),
    });
  }

  // ---- runner inputs (gateways/transport/effects.ts) ----

  handleAuthResult(o: AuthOutcome): void {
    this.onAuthenticated(o.ok ? { ok: true, username: o.username, superuser: o.superuser } : { ok: false, reason: o.reason });
  }

  handleDurable(id: number): void {
    const ack = this.durableAcks.get(id);
    if (ack === undefined) return; // the connection was reset meanwhile: nothing to acknowledge on it
    this.durableAcks.delete(id);
    this.send(ack);
  }

  private send(f: Frame): void {
    this.fx.emit({ type: 'send', frame: f });
  }

  /** A defect in this channel ends this device's connection only (abnormal end: will published). */
  private crashed(err: unknown): void {
    this.log.error({ err, reason: 'internal_error' }, 'channel_crashed');
    try {
      this.endSession('internal_error', true);
    } finally {
      this.state = 'closed';
      this.out.reset();
      this.link.close();
    }
  }

  private onAuthenticated(o: { ok: true; username: string | null; superuser: boolean } | { ok: false; reason: string }): void {
    if (this.state !== 'authenticating') return;
    if (!o.ok) {
      this.deps.count('clients.auth_failed');
      this.log.info({ reason: o.reason }, 'client_login_failed');
      this.send({ type: 'connack', rc: ReturnCode.NOT_AUTHORIZED });
      return this.finish();
    }
    const clientId = this.clientId!;
    const peer = this.link.peer;
    // Ids pairing gave this device (the device registry), current as of this CONNECT.
    this.deps.predefined.setClient(clientId, this.ctx.predefinedTopics(clientId));
    let session: GatewaySession;
    try {
      session = this.ctx.openSession(
        {
          clientId,
          username: o.username,
          peerHost: peer.address,
          peerPort: peer.port,
          listener: this.link.listener,
          sockPort: this.link.sockPort,
          protoVer: PROTO_VER,
          keepalive: this.keepalive,
          superuser: o.superuser,
        },
        { cleanStart: this.cleanSession, expiryInterval: this.cleanSession ? 0 : this.cfg.session_expiry_interval, will: this.will, inflightWindow: 1 },
        this,
      );
    } catch (err) {
      this.log.warn({ err: String(err), reason: 'open_session_failed' }, 'client_login_failed');
      this.send({ type: 'connack', rc: ReturnCode.FAILED_TO_OPEN_SESSION });
      return this.finish();
    }
    this.session = session;
    // Window of 1 (spec §5.3): the next QoS 1/2 delivery waits for PUBACK/PUBCOMP.
    session.setInflightWindow(1);
    this.deps.count('clients.connected');
    this.send({ type: 'connack', rc: ReturnCode.ACCEPTED });
    this.state = 'connected';
    this.log.info({ resumed: session.resumed, keepalive: this.keepalive }, 'client_connected');
    this.armKeepalive();
    if (session.resumed && this.cfg.subs_resume) {
      // Let the device relearn ids of its subscriptions before the replay (spec §5.4).
      for (const s of session.subscriptions()) if (!hasWildcard(s.filter)) this.out.resumeRegister(s.filter);
    }
    this.out.pump();
  }

  private onSessionFrame(f: Frame): void {
    switch (f.type) {
      case 'connect':
        return this.reconnect(f);
      case 'pingreq':
        return this.onPing(f.clientId);
      case 'disconnect':
        return this.onDisconnect(f.duration);
      case 'register':
        return this.onRegister(f);
      case 'regack':
        return this.out.regack(f);
      case 'publish':
        return this.onPublish(f);
      case 'puback':
        return this.out.puback(f);
      case 'pubrec':
        return this.out.pubrec(f.msgId);
      case 'pubcomp':
        return this.out.pubcomp(f.msgId);
      case 'pubrel':
        this.awaitingRel.delete(f.msgId);
        this.send({ type: 'pubcomp', msgId: f.msgId });
        return;
      case 'subscribe':
        return this.onSubscribe(f);
      case 'unsubscribe':
        return this.onUnsubscribe(f);
      case 'willtopicupd':
        return this.onWillTopicUpdate(f);
      case 'willmsgupd':
        return this.onWillMsgUpdate(f.payload);
      default:
        // Gateway-to-client types (CONNACK, WILLTOPICREQ, ...), ADVERTISE, GWINFO: nothing to do.
        this.log.debug({ frame: f.type, state: this.state }, 'frame_ignored');
    }
  }

  private reconnect(f: Extract<Frame, { type: 'connect' }>): void {
    const sameClient = (f.clientId === '' || f.clientId === this.clientId) && this.session !== null;
    if ((this.state === 'asleep' || this.state === 'awake') && sameClient) {
      // CONNECT while sleeping resumes the connection: no re-authentication, will flags ignored (spec §3.1).
      this.fx.cancelTimer('sleep');
      if (this.state === 'asleep') this.session!.attach(this);
      this.keepalive = f.duration;
      this.state = 'connected';
      this.send({ type: 'connack', rc: ReturnCode.ACCEPTED });
      this.armKeepalive();
      this.out.pump();
      return;
    }
    // A device that rebooted connects again from the same address: end the old connection
    // without its will and start over (EMQX 5.8.9 just closes the channel here).
    this.log.info({ reason: 'reconnect' }, 'client_reconnect');
    this.endSession('normal', false);
    this.resetConnection();
    this.registry.clear();
    this.state = 'idle';
    this.startConnect(f);
  }

  private onPing(clientId: string | null): void {
    if (clientId !== null && clientId !== this.clientId) return; // another client's id: ignored (spec §3.1)
    if (this.state === 'asleep') return this.wake();
    if (this.state === 'awake') return;
    this.session?.touch();
    this.send({ type: 'pingresp' });
  }

  private onDisconnect(duration: number | null): void {
    this.send({ type: 'disconnect', duration: null });
    if (duration !== null && duration > 0) {
      const max = this.cfg.sleep.max_duration > 0 ? this.cfg.sleep.max_duration : MAX_SLEEP_DURATION;
      return this.sleep(Math.min(duration, max));
    }
    // EMQX publishes the will on a clean DISCONNECT too; the spec does not (switch: will_on_disconnect).
    this.endSession('normal', this.cfg.will_on_disconnect);
    this.finish();
  }

  // ---- sleep (MQTT-SN 1.2 §6.14) ----

  private sleep(duration: number): void {
    const wasAttached = this.state === 'connected' || this.state === 'awake';
    this.state = 'asleep';
    this.sleepDuration = duration;
    this.fx.cancelTimer('keepalive');
    this.out.suspend();
    if (wasAttached) this.session?.detach();
    this.fx.setTimer('sleep', Math.round(duration * this.cfg.sleep.timeout_multiplier * 1000));
    this.log.debug({ duration }, 'client_asleep');
  }

  private wake(): void {
    this.fx.cancelTimer('sleep');
    this.state = 'awake';
    this.log.debug({ queued: this.session?.queuedCount() ?? 0 }, 'client_awake');
    // Buffered messages come one at a time through deliver(); PINGRESP once all are out.
    this.session?.attach(this);
    this.out.pump();
    this.maybeFinishAwake();
  }

  private maybeFinishAwake(): void {
    if (this.state !== 'awake' || !this.out.idle) return;
    if ((this.session?.queuedCount() ?? 0) > 0) return;
    this.send({ type: 'pingresp' });
    this.sleep(this.sleepDuration);
  }

  private sleepTimeout(): void {
    if (this.state !== 'asleep') return;
    this.deps.count('clients.sleep_timeout');
    this.log.info({ reason: 'asleep_timeout' }, 'client_disconnected');
    this.endSession('keepalive_timeout', this.cfg.sleep.will_on_timeout);
    this.finish();
  }

  // ---- keepalive (1.5 x Duration, MQTT-SN 1.2 §6.6) ----

  private keepaliveMs(): number {
    return Math.round(this.keepalive * this.cfg.keepalive_multiplier * 1000);
  }

  private armKeepalive(): void {
    this.fx.cancelTimer('keepalive');
    if (this.keepalive <= 0) return;
    this.fx.setTimer('keepalive', this.keepaliveMs());
  }

  private checkKeepalive(): void {
    if (this.state !== 'connected') return;
    const left = this.lastRx + this.keepaliveMs() - this.ctx.clock.now();
    if (left > 0) {
      // One timer per client, re-armed for the remainder instead of reset on every frame.
      this.fx.setTimer('keepalive', left);
      return;
    }
    this.deps.count('clients.keepalive_timeout');
    this.lost('rejected_keepalive_timeout', 'keepalive_timeout');
  }

  /** Abnormal end: DISCONNECT to the device, will published (spec §3.1). */
  private lost(logReason: string, reason: DisconnectReason): void {
    this.log.info({ reason: logReason }, 'client_disconnected');
    this.send({ type: 'disconnect', duration: null });
    this.endSession(reason, true);
    this.finish();
  }

  // ---- client requests ----

  private onRegister(f: Extract<Frame, { type: 'register' }>): void {
    const r = registerTopic(f.topicName, this.registry, this.deps.predefined, this.clientId);
    this.send({ type: 'regack', topicId: r.topicId, msgId: f.msgId, rc: r.rc });
  }

  private onPublish(f: Extract<Frame, { type: 'publish' }>): void {
    const session = this.session!;
    const puback = (rc: number): void => this.send({ type: 'puback', topicId: f.topicId, msgId: f.msgId, rc });
    if (f.qos === -1 && !this.cfg.enable_qos3) return puback(ReturnCode.NOT_SUPPORTED);
    const topic = publishTopic(f.topicIdType, f.topicId, this.registry, this.deps.predefined, this.clientId);
    if (typeof topic === 'number') {
      // Reported even for QoS 0 (spec §5.1).
      this.deps.count('messages.dropped');
      return puback(topic);
    }
    if (f.qos === 2) {
      if (this.awaitingRel.has(f.msgId)) {
        // A retransmission (PUBREC lost) gets PUBREC again; a reused id without DUP is refused (spec §5.1).
        if (f.dup) this.send({ type: 'pubrec', msgId: f.msgId });
        else puback(ReturnCode.NOT_SUPPORTED);
        return;
      }
      if (this.cfg.max_awaiting_rel > 0 && this.awaitingRel.size >= this.cfg.max_awaiting_rel) {
        // PUBRELs that never came free their slot after await_rel_timeout (EMQX mqtt.await_rel_timeout).
        const cutoff = this.ctx.clock.now() - this.cfg.await_rel_timeout * 1000;
        for (const [id, at] of this.awaitingRel) if (at <= cutoff) this.awaitingRel.delete(id);
        if (this.awaitingRel.size >= this.cfg.max_awaiting_rel) return puback(ReturnCode.CONGESTION);
      }
    }
    const qos = qosOf(f.qos);
    const r = session.publish(topic, f.payload, { qos, retain: f.retain });
    if (!r.ok) {
      this.deps.count('messages.dropped');
      this.log.info({ reason: r.reason, topic }, 'publish_refused');
      return puback(rcFor(r.reason));
    }
    this.deps.count('messages.received');
    if (qos === 0) return;
    if (qos === 2) this.awaitingRel.set(f.msgId, this.ctx.clock.now());
    const ack: Frame = qos === 1 ? { type: 'puback', topicId: f.topicId, msgId: f.msgId, rc: ReturnCode.ACCEPTED } : { type: 'pubrec', msgId: f.msgId };
    // Acknowledge only what would survive a crash (DESIGN: group commit).
    if (r.durable) {
      const id = this.nextDurableId++;
      this.durableAcks.set(id, ack);
      this.fx.awaitDurable(id);
    } else this.send(ack);
  }

  private onSubscribe(f: Extract<Frame, { type: 'subscribe' }>): void {
    const session = this.session!;
    const suback = (qos: SnQoS, topicId: number, rc: number): void => this.send({ type: 'suback', qos, topicId, msgId: f.msgId, rc });
    if (f.qos === -1) return suback(0, 0, ReturnCode.NOT_SUPPORTED);
    const r = subscribeFilter(f.topic, true, this.registry, this.deps.predefined, this.clientId);
    if ('rc' in r) return suback(f.qos, r.topicId, r.rc);
    // Retained messages may be delivered inside subscribe(): hold them until SUBACK is out.
    this.out.hold();
    const o = session.subscribe(r.filter, { qos: f.qos, nl: false, rap: false, rh: 1 });
    if (!o.ok) {
      this.log.info({ reason: o.reason, filter: r.filter }, 'subscribe_refused');
      suback(f.qos, 0, rcFor(o.reason));
    } else {
      if (f.topic.idType === 0 && r.topicId !== 0) this.registry.confirm(r.topicId);
      // Granted QoS = requested QoS, no downgrade (spec §5.2).
      suback(f.qos, r.topicId, ReturnCode.ACCEPTED);
    }
    this.out.release();
    if (this.active) this.out.pump();
  }

  private onUnsubscribe(f: Extract<Frame, { type: 'unsubscribe' }>): void {
    const r = subscribeFilter(f.topic, false, this.registry, this.deps.predefined, this.clientId);
    if ('filter' in r) this.session!.unsubscribe(r.filter);
    // Always answered, subscribed or not (spec §5.2).
    this.send({ type: 'unsuback', msgId: f.msgId });
  }

  private onWillTopicUpdate(f: Extract<Frame, { type: 'willtopicupd' }>): void {
    if (f.topic === null) this.will = null;
    else this.will = { topic: f.topic, payload: this.will?.payload ?? Buffer.alloc(0), qos: qosOf(f.qos), retain: f.retain };
    this.session!.setWill(this.will);
    this.send({ type: 'willtopicresp', rc: ReturnCode.ACCEPTED });
  }

  private onWillMsgUpdate(payload: Buffer): void {
    // No will topic to attach the message to: refused as in EMQX 6 (5.8.9 answers 0 and drops it).
    if (!this.will) return this.send({ type: 'willmsgresp', rc: ReturnCode.NOT_SUPPORTED });
    this.will = { ...this.will, payload };
    this.session!.setWill(this.will);
    this.send({ type: 'willmsgresp', rc: ReturnCode.ACCEPTED });
  }

  // ---- teardown ----

  private endSession(reason: DisconnectReason, sendWill: boolean): void {
    const s = this.session;
    this.session = null;
    if (!s) return;
    s.close(reason, { sendWill });
  }

  private resetConnection(): void {
    this.fx.clearTimers();
    this.durableAcks.clear();
    this.out.reset();
    this.awaitingRel.clear();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.resetConnection();
    this.fx.dispose();
    this.link.close();
  }
}
