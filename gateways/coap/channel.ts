// One CoAP device's state machine (gateways/coap/SPEC.md §2–§5): frames, deliveries, timers and
// auth results in, effects out. No sockets, no wall clock, no Math.random: the Clock and the random
// source are injected so keepalive, retransmission and block-wise expiry are tested with fake time.
import type { Logger } from 'pino';
import type { AuthOutcome, Clock, Delivery, DeliverySink, DeviceInfo, DisconnectReason, GatewayContext, GatewaySession, PublishOutcome, QoS, SessionlessDevice } from '../gateway.js';
import type { CoreEffect } from '../transport/effects.js';
import type { PeerSecurity } from '../transport/datagram.js';
import { authSecurity, securityKey } from '../transport/peer-security.js';
import { Block1Assembler } from '../codecs/coap/blockwise.js';
import type { CoapConfig } from './config.js';
import {
  type CoapFrame,
  type CoapOption,
  type DecodeResult,
  Code,
  Opt,
  decodeBlock,
  decodeUint,
  emptyFrame,
  encodeBlock,
  encodeUint,
  getOption,
  isRequestCode,
  isResponseCode,
  szxFor,
  unknownCriticalOption,
} from '../codecs/coap/frame.js';
import { DedupCache, Retransmitter } from '../codecs/coap/exchange.js';
import { type Observation, ObserveRegistry } from './observe.js';
import { type Query, intParam, parseQuery, qosFor, uriPath } from './uri.js';
import { type CoapCounter, type DeviceRequest, type DeviceResponse, MSG } from './types.js';

/** What ctx.authenticate takes; derived so the channel imports nothing outside gateways/. */

export interface Peer {
  host: string;
  port: number;
  /** What a DTLS listener proved about the peer (PSK identity or certificate); absent on plain UDP. */
  security?: PeerSecurity;
}

export type TimerName = 'keepalive' | 'exchange' | 'idle';

/**
 * The shared effects (timers; authenticate, answered through handleAuthResult while the channel
 * waits in 'authenticating'; await-durable, answered through handleDurable so a QoS 1/2 publish is
 * acknowledged once durable) plus CoAP's own.
 */
export type ChannelEffect =
  | CoreEffect<TimerName>
  | { type: 'send'; frame: CoapFrame; to: Peer }
  | { type: 'request-done'; id: number; result: DeviceResponse }
  | { type: 'close'; reason: DisconnectReason };

export type ChannelState = 'idle' | 'authenticating' | 'connected' | 'closed';

export interface ChannelDeps {
  ctx: GatewayContext;
  /** Read on every use, so a reload reaches live channels (block-wise limits apply to new channels). */
  readonly config: CoapConfig;
  clock: Clock;
  /** Uniform in [0, 1): client ids, login tokens, message ids, retransmission jitter. */
  random: () => number;
  /** The transport's sink for this channel, handed to openSession. */
  sink: DeliverySink;
  listener: string;
  /** The listener's bound port: `sockport` in $SYS events. */
  sockPort: number;
  peer: Peer;
}


/** What an outstanding CON carries: a notification's delivery and observation, or a device request's id. */
interface ConMeta {
  delivery: Delivery | null;
  filter: string | null;
  requestId: number;
}

/** A connectionless /ps request parked until its credentials are checked. */
interface ParkedRequest {
  f: CoapFrame;
  from: Peer;
  key: string;
  q: Query;
  path: string[];
  creds: string;
}

/** Requests one peer may park behind an authentication in flight; more get 5.03. */
const MAX_PARKED = 32;

interface PendingRequest {
  token: Buffer;
  deadline: number;
}


const EMPTY: Buffer = Buffer.alloc(0);
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class CoapChannel {
  state: ChannelState;
  clientId: string;
  username: string | null = null;
  /** Last address the device was seen at: notifications go here (§1, NAT rebinding). */
  peer: Peer;
  private token: string | null = null;
  private session: GatewaySession | null = null;
  private readonly observations: ObserveRegistry;
  private readonly dedup = new DedupCache();
  private readonly outstanding = new Retransmitter<ConMeta>();
  private readonly notifyQueue: Delivery[] = [];
  private notifyInFlight = false;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly durable = new Map<number, { frame: CoapFrame; to: Peer; key: string }>();
  private readonly block1: Block1Assembler;
  private pendingLogin: { frame: CoapFrame; from: Peer; key: string; clientId: string } | null = null;
  /** Connection mode over DTLS: who logged in (PSK identity or certificate); '' on plain UDP. */
  private loginSecurity = '';
  /** Connectionless mode: the credentials the broker's chain last accepted from this peer, and as whom. */
  private authed: { creds: string; clientId: string; username: string | null; superuser: boolean } | null = null;
  /** Connectionless mode: /ps requests waiting for the authentication of `creds` (one in flight at a time). */
  private awaitingAuth: { creds: string; requests: ParkedRequest[] } | null = null;
  private nextMid: number;
  private nextDurable = 1;
  private lastSeen: number;
  private out: ChannelEffect[] = [];
  private busy = false;
  private deferred: Delivery[] = [];
  private readonly log: Logger;

  constructor(private readonly d: ChannelDeps) {
    const cfg = d.config;
    this.peer = d.peer;
    this.state = cfg.connection_required ? 'idle' : 'connected';
    this.clientId = cfg.connection_required ? '' : randomClientId(d.random);
    this.nextMid = Math.floor(d.random() * 0x10000);
    this.lastSeen = d.clock.now();
    this.observations = new ObserveRegistry(() => szxFor(this.d.config.blockwise.max_block_size));
    this.block1 = new Block1Assembler(cfg.blockwise.max_body_size, szxFor(cfg.blockwise.max_block_size), cfg.blockwise.exchange_lifetime * 1000);
    this.log = d.ctx.log.child({ listener: d.listener, peer: `${d.peer.host}:${d.peer.port}` });
  }

  /** Arms the keepalive timer, and the login deadline in connection mode (§5, idle_timeout). */
  start(): ChannelEffect[] {
    this.out.push({ type: 'set-timer', name: 'keepalive', ms: this.keepaliveMs });
    if (this.state === 'idle') this.out.push({ type: 'set-timer', name: 'idle', ms: this.d.config.idle_timeout * 1000 });
    return this.flush();
  }

  /** §5: heartbeat x keepalive_multiplier of silence ends the channel. */
  private get keepaliveMs(): number {
    return this.d.config.heartbeat * this.d.config.keepalive_multiplier * 1000;
  }

  get observationCount(): number {
    return this.observations.size;
  }

  get queuedNotifications(): number {
    return this.notifyQueue.length;
  }

  // ------------------------------------------------------------------------------------------
  // Inputs

  handleFrame(f: CoapFrame, from: Peer): ChannelEffect[] {
    if (this.state === 'closed') return [];
    this.busy = true;
    this.lastSeen = this.d.clock.now();
    if (f.type === 'ACK' || f.type === 'RST') this.onAckOrReset(f, from);
    else if (isRequestCode(f.code)) this.onRequest(f, from);
    else if (isResponseCode(f.code)) this.onSeparateResponse(f, from);
    // RFC 7252 §4.3: an Empty CON is a ping and gets a RST; an Empty NON is answered the same way (§1).
    else if (f.code === Code.EMPTY) this.send(emptyFrame('RST', f.messageId), from);
    else if (f.type === 'CON') this.send(emptyFrame('RST', f.messageId), from);
    this.busy = false;
    return this.drainDeferred();
  }

  /** A datagram that does not decode: RST a CON we could read the header of (RFC 7252 §4.2), ignore the rest (§4.3). */
  handleFrameError(err: Extract<DecodeResult, { kind: 'error' }>, from: Peer): ChannelEffect[] {
    this.inc('coap.frames.malformed');
    if (err.header !== null && err.header.type === 'CON' && err.code !== 'bad_version') this.send(emptyFrame('RST', err.header.messageId), from);
    return this.flush();
  }

  handleDeliver(dl: Delivery): ChannelEffect[] {
    // Deliveries the broker makes while this channel is inside another input (retained messages
    // on subscribe, the next inflight message after an ack) go out after that input's replies.
    this.deferred.push(dl);
    if (this.busy) return [];
    return this.drainDeferred();
  }

  handleKick(reason: DisconnectReason): ChannelEffect[] {
    this.session = null; // the broker already ended it
    this.close(reason);
    return this.drainDeferred();
  }

  handleTimer(name: TimerName): ChannelEffect[] {
    if (this.state === 'closed') return [];
    this.busy = true;
    const now = this.d.clock.now();
    if (name === 'keepalive') {
      const idle = now - this.lastSeen;
      // §5: heartbeat x keepalive_multiplier of silence ends the channel and its observations.
      if (idle >= this.keepaliveMs) this.close('keepalive_timeout');
      else {
        this.sweep(now);
        this.out.push({ type: 'set-timer', name: 'keepalive', ms: this.keepaliveMs - idle });
      }
    } else if (name === 'idle') {
      if (this.state === 'idle' || this.state === 'authenticating') this.close('idle_timeout');
    } else {
      this.onExchangeTimer(now);
    }
    return this.drainDeferred();
  }

  handleAuthResult(outcome: AuthOutcome): ChannelEffect[] {
    if (this.awaitingAuth !== null && this.pendingLogin === null) return this.onConnectionlessAuth(outcome);
    const p = this.pendingLogin;
    if (this.state !== 'authenticating' || p === null) return [];
    this.pendingLogin = null;
    this.busy = true;
    if (!outcome.ok) {
      this.inc('coap.login.failed');
      this.log.info({ msg: 'client_login_failed', reason: outcome.reason, clientid: p.clientId });
      const c = this.d.config.emqx_compat.login_failure_bad_request ? Code.BAD_REQUEST : Code.UNAUTHORIZED;
      this.reply(p.frame, p.from, p.key, c, Buffer.from(`${MSG.loginFailed}${outcome.reason}`));
      this.close('not_authorized');
    } else {
      this.clientId = p.clientId;
      this.username = outcome.username;
      this.loginSecurity = securityKey(p.from.security);
      this.session = this.d.ctx.openSession(this.deviceInfo(), { cleanStart: true, expiryInterval: 0 }, this.d.sink);
      this.state = 'connected';
      this.token = String(1 + Math.floor(this.d.random() * 0xffffffff));
      this.out.push({ type: 'cancel-timer', name: 'idle' });
      this.reply(p.frame, p.from, p.key, Code.CREATED, Buffer.from(this.token));
    }
    this.busy = false;
    return this.drainDeferred();
  }

  handleDurable(id: number): ChannelEffect[] {
    const p = this.durable.get(id);
    if (p === undefined) return [];
    this.durable.delete(id);
    if (this.state === 'closed') return [];
    this.dedup.setReply(p.key, p.frame);
    this.send(p.frame, p.to);
    return this.drainDeferred();
  }

  /** Device-request API (§7): a CON request to the device, answered through a 'request-done' effect. */
  handleDeviceRequest(id: number, req: DeviceRequest): ChannelEffect[] {
    if (this.state !== 'connected') {
      this.out.push({ type: 'request-done', id, result: { ok: false, reason: 'not_found' } });
      return this.flush();
    }
    const token = req.token !== undefined && req.token.length > 0 ? Buffer.from(req.token).subarray(0, 8) : this.randomToken();
    const options: CoapOption[] = [];
    for (const seg of req.path ?? []) options.push({ number: Opt.URI_PATH, value: Buffer.from(seg) });
    if (req.contentFormat !== undefined) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(req.contentFormat) });
    const frame: CoapFrame = { type: 'CON', code: req.method, messageId: this.mid(), token, options, payload: req.payload };
    const now = this.d.clock.now();
    this.requests.set(id, { token, deadline: now + req.timeoutMs });
    this.sendConfirmable(frame, null, null, id);
    this.armExchange();
    return this.flush();
  }

  /** Gateway stop or an administrative close. */
  stop(reason: DisconnectReason): ChannelEffect[] {
    this.close(reason);
    return this.flush();
  }

  // ------------------------------------------------------------------------------------------
  // Requests (§2)

  private onRequest(f: CoapFrame, from: Peer): void {
    const key = `${from.host}:${from.port}#${f.messageId}`;
    const seen = this.dedup.get(key);
    if (seen !== undefined) {
      // RFC 7252 §4.5: a duplicate CON gets the same reply again; a duplicate NON is ignored.
      this.inc('coap.requests.duplicate');
      if (f.type === 'CON' && seen.reply !== null) this.send(seen.reply, from);
      return;
    }
    this.dedup.add(key, f.type === 'CON', this.d.clock.now());
    this.inc('coap.requests.received');

    const crit = unknownCriticalOption(f);
    if (crit !== null) {
      // RFC 7252 §5.4.1: an unrecognised critical option in a CON gets 4.02; in a NON, a RST.
      if (f.type === 'CON') this.reply(f, from, key, Code.BAD_OPTION, Buffer.from(`unsupported option ${crit}`));
      else this.send(emptyFrame('RST', f.messageId), from);
      return;
    }
    const path = uriPath(f);
    const q = parseQuery(f);
    const root = path[0];
    const isConnection = root === 'mqtt' && path[1] === 'connection' && path.length === 2;
    if (root !== 'ps' && !isConnection) return this.reply(f, from, key, Code.BAD_REQUEST);
    if (this.d.config.connection_required) {
      if (isConnection && f.code === Code.POST) return this.onCreate(f, from, key, q);
      if (this.state !== 'connected') {
        // §3.2: DELETE on a channel that never logged in answers 2.02 and closes it.
        if (isConnection && f.code === Code.DELETE) {
          this.reply(f, from, key, Code.DELETED);
          return this.close('normal');
        }
        return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.missingToken));
      }
      if (q.get('clientid') !== this.clientId || q.get('token') !== this.token) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.missingToken));
      // Over DTLS the token is bound to the identity that logged in: another device's session cannot use it.
      if (securityKey(from.security) !== this.loginSecurity) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.missingToken));
    }
    if (!this.d.config.connection_required && root === 'ps') return this.gateConnectionless({ f, from, key, q, path, creds: credentialsOf(q, from.security) });
    this.serve(f, from, key, q, path, isConnection);
  }

  /** A request that passed its mode's checks. */
  private serve(f: CoapFrame, from: Peer, key: string, q: Query, path: string[], isConnection: boolean): void {
    // Every authenticated request moves the device's address: replies and notifications follow it.
    this.peer = from;
    this.session?.touch();
    if (isConnection) return this.onConnection(f, from, key);
    return this.onPubSub(f, from, key, q, path);
  }

  /**
   * Connectionless /ps requests go through the broker's authentication chain with the query's
   * `clientid`/`username`/`password` (EMQX 6.x, gateways/coap/SPEC.md §3.1): no credentials is an
   * anonymous client, accepted only while `allow_anonymous` lets MQTT clients in. Accepted
   * credentials hold for this peer's channel (like an MQTT connection); new ones are checked again.
   */
  private gateConnectionless(r: ParkedRequest): void {
    if (this.awaitingAuth === null && this.authed !== null && this.authed.creds === r.creds) {
      return this.serve(r.f, r.from, r.key, r.q, r.path, false);
    }
    if (this.awaitingAuth !== null) {
      if (this.awaitingAuth.requests.length >= MAX_PARKED) return this.reply(r.f, r.from, r.key, Code.SERVICE_UNAVAILABLE);
      this.awaitingAuth.requests.push(r);
      return;
    }
    this.awaitingAuth = { creds: r.creds, requests: [r] };
    const password = r.q.get('password');
    this.out.push({
      type: 'authenticate',
      request: {
        clientId: r.q.get('clientid') ?? this.clientId,
        username: r.q.get('username') ?? null,
        password: password !== undefined ? Buffer.from(password) : null,
        peerHost: r.from.host,
        peerPort: r.from.port,
        listener: this.d.listener,
        ...authSecurity(r.from.security),
      },
    });
  }

  private onConnectionlessAuth(outcome: AuthOutcome): ChannelEffect[] {
    const w = this.awaitingAuth!;
    this.awaitingAuth = null;
    if (this.state === 'closed') return [];
    this.busy = true;
    if (outcome.ok) {
      const q0 = w.requests[0]!.q;
      this.authed = { creds: w.creds, clientId: q0.get('clientid') || this.clientId, username: outcome.username, superuser: outcome.superuser };
      if (this.session === null) this.username = outcome.username;
    }
    for (const r of w.requests) {
      if (r.creds !== w.creds) this.gateConnectionless(r);
      else if (outcome.ok) this.serve(r.f, r.from, r.key, r.q, r.path, false);
      else {
        // EMQX 6.x: a connectionless authentication failure is a 4.01 with an empty payload (§6).
        this.inc('coap.auth.refused');
        this.reply(r.f, r.from, r.key, Code.UNAUTHORIZED);
      }
    }
    this.busy = false;
    return this.drainDeferred();
  }

  private onCreate(f: CoapFrame, from: Peer, key: string, q: Query): void {
    if (this.state === 'connected' || this.state === 'authenticating') {
      return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.alreadyConnected));
    }
    const clientId = q.get('clientid');
    if (clientId === undefined || clientId === '') return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.clientIdRequired));
    this.state = 'authenticating';
    this.peer = from;
    this.pendingLogin = { frame: f, from, key, clientId };
    const password = q.get('password');
    this.out.push({
      type: 'authenticate',
      request: {
        clientId,
        username: q.get('username') ?? null,
        password: password !== undefined ? Buffer.from(password) : null,
        peerHost: from.host,
        peerPort: from.port,
        listener: this.d.listener,
        ...authSecurity(from.security),
      },
    });
  }

  private onConnection(f: CoapFrame, from: Peer, key: string): void {
    switch (f.code) {
      case Code.PUT:
        return this.reply(f, from, key, Code.CHANGED);
      case Code.DELETE:
        this.reply(f, from, key, Code.DELETED);
        return this.close('normal');
      case Code.POST:
        // Connectionless mode has no login: a create here is a configuration mismatch on the device.
        return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.connectionModeOff));
      default:
        return this.reply(f, from, key, Code.METHOD_NOT_ALLOWED);
    }
  }

  private onPubSub(f: CoapFrame, from: Peer, key: string, q: Query, path: string[]): void {
    if (f.code !== Code.GET && f.code !== Code.POST) return this.reply(f, from, key, Code.METHOD_NOT_ALLOWED);
    const topic = path.slice(1).join('/');
    if (topic === '') return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.invalidTopic));
    if (f.code === Code.POST) return this.onPublish(f, from, key, q, topic);
    const b2raw = getOption(f, Opt.BLOCK2);
    const b2 = b2raw !== undefined ? decodeBlock(b2raw) : undefined;
    if (b2 === null) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from('invalid block2'));
    const obsRaw = getOption(f, Opt.OBSERVE);
    // RFC 7959 §3.4: follow-up GETs for the rest of a block-wise notification carry Block2 and no Observe.
    if (b2 !== undefined && (obsRaw === undefined || b2.num > 0)) return this.serveBlock2(f, from, key, topic, b2.num, b2.szx);
    const obs = obsRaw !== undefined ? decodeUint(obsRaw) : null;
    if (obs === 0) {
      if (f.token.length === 0) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.observeWithoutToken));
      return this.onSubscribe(f, from, key, q, topic, b2?.szx);
    }
    if (obs === 1) {
      this.removeObservation(topic);
      return this.reply(f, from, key, Code.NO_CONTENT);
    }
    return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from(MSG.invalidObserve));
  }

  private onPublish(f: CoapFrame, from: Peer, key: string, q: Query, topic: string): void {
    let payload = f.payload;
    const extra: CoapOption[] = [];
    const b1raw = this.d.config.blockwise.enable ? getOption(f, Opt.BLOCK1) : undefined;
    if (b1raw !== undefined) {
      const b1 = decodeBlock(b1raw);
      if (b1 === null) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from('invalid block1'));
      const size1 = getOption(f, Opt.SIZE1);
      const max = this.d.config.blockwise.max_body_size;
      if (size1 !== undefined && (decodeUint(size1) ?? Infinity) > max) return this.tooLarge(f, from, key);
      const r = this.block1.add(`${topic}?${[...q].join('&')}`, b1, f.payload, this.d.clock.now());
      this.inc('coap.blockwise.block1');
      switch (r.kind) {
        case 'continue':
          // RFC 7959 §2.3: each non-final block is answered 2.31 Continue echoing Block1.
          return this.reply(f, from, key, Code.CONTINUE, EMPTY, [{ number: Opt.BLOCK1, value: encodeBlock(r.block) }]);
        case 'incomplete':
          return this.reply(f, from, key, Code.REQUEST_ENTITY_INCOMPLETE);
        case 'too_large':
          return this.tooLarge(f, from, key);
        case 'bad_block':
          return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from('block size mismatch'));
        case 'complete':
          payload = r.body;
          extra.push({ number: Opt.BLOCK1, value: encodeBlock(r.block) });
      }
    }
    const qosParam = intParam(q, 'qos', 2);
    if (qosParam === null) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from('invalid qos'));
    const qos = (qosParam ?? qosFor(this.d.config.publish_qos, f.type)) as QoS;
    // §2.1: only the literal `true` sets retain.
    const retain = q.get('retain') === 'true';
    const outcome: PublishOutcome =
      this.session !== null
        ? this.session.publish(topic, payload, { qos, retain })
        : this.d.ctx.publishSessionless(this.publisher(), topic, payload, { qos, retain });
    if (!outcome.ok) {
      this.inc('coap.publish.rejected');
      const c = outcome.reason === 'not_authorized' ? Code.UNAUTHORIZED : outcome.reason === 'packet_too_large' ? Code.REQUEST_ENTITY_TOO_LARGE : Code.BAD_REQUEST;
      return this.reply(f, from, key, c, outcome.reason === 'topic_invalid' ? Buffer.from(MSG.invalidTopic) : EMPTY);
    }
    this.inc('coap.publish.received');
    if (outcome.durable && qos > 0) {
      // Acknowledge only once the message survives a crash (DESIGN: nothing acknowledged is lost).
      const id = this.nextDurable++;
      this.durable.set(id, { frame: this.responseFrame(f, Code.CHANGED, EMPTY, extra), to: from, key });
      this.out.push({ type: 'await-durable', id });
      return;
    }
    this.reply(f, from, key, Code.CHANGED, EMPTY, extra);
  }

  private tooLarge(f: CoapFrame, from: Peer, key: string): void {
    this.reply(f, from, key, Code.REQUEST_ENTITY_TOO_LARGE, EMPTY, [{ number: Opt.SIZE1, value: encodeUint(this.d.config.blockwise.max_body_size) }]);
  }

  private onSubscribe(f: CoapFrame, from: Peer, key: string, q: Query, filter: string, szx: number | undefined): void {
    const qosParam = intParam(q, 'qos', 2);
    const nl = intParam(q, 'nl', 1);
    const rhParam = intParam(q, 'rh', 2);
    if (qosParam === null || nl === null || rhParam === null) return this.reply(f, from, key, Code.BAD_REQUEST, Buffer.from('invalid query parameter'));
    const existing = this.observations.get(filter);
    if (existing !== undefined) {
      this.observations.refresh(existing, f.token, szx);
      return this.reply(f, from, key, Code.CONTENT, EMPTY, [{ number: Opt.OBSERVE, value: encodeUint(existing.seq) }]);
    }
    const qos = (qosParam ?? qosFor(this.d.config.subscribe_qos, f.type)) as QoS;
    // Spec-correct: a new observation gets the retained messages (rh 0 by default). EMQX 5.8 sends them only for ?rh=0 (§4.3).
    let rh = (rhParam ?? 0) as 0 | 1 | 2;
    if (this.d.config.emqx_compat.retained_only_with_rh0 && rhParam !== 0) rh = 2;
    const session = this.ensureSession();
    // Registered first so the retained deliveries that subscribe() triggers find their observation.
    this.observations.add(filter, f.token, szx);
    const outcome = session.subscribe(filter, { qos, nl: nl === 1, rh, rap: false });
    if (!outcome.ok) {
      this.observations.delete(filter);
      this.deferred = this.deferred.filter((dl) => dl.filter !== filter);
      return this.reply(f, from, key, outcome.reason === 'not_authorized' ? Code.UNAUTHORIZED : Code.BAD_REQUEST);
    }
    this.inc('coap.observe.registered');
    this.reply(f, from, key, Code.CONTENT, EMPTY, [{ number: Opt.OBSERVE, value: encodeUint(0) }]);
  }

  private serveBlock2(f: CoapFrame, from: Peer, key: string, filter: string, num: number, szx: number): void {
    const b = this.observations.block2(filter, num, szx);
    if (b.kind === 'none') return this.reply(f, from, key, Code.NOT_FOUND, Buffer.from('no representation'));
    // RFC 7959 §2.2: a block number beyond the representation is a 4.02.
    if (b.kind === 'beyond') return this.reply(f, from, key, Code.BAD_OPTION);
    this.inc('coap.blockwise.block2');
    this.reply(f, from, key, Code.CONTENT, b.payload, b.options);
  }

  private ensureSession(): GatewaySession {
    if (this.session === null) {
      this.session = this.d.ctx.openSession(this.deviceInfo(), { cleanStart: true, expiryInterval: 0 }, this.d.sink);
    }
    return this.session;
  }

  private removeObservation(filter: string): void {
    if (this.observations.delete(filter)) this.session?.unsubscribe(filter);
  }

  // ------------------------------------------------------------------------------------------
  // Notifications (§4.3)

  private deliver(dl: Delivery): void {
    if (this.state === 'closed') return;
    const obs = this.observations.get(dl.filter);
    if (obs === undefined) {
      this.inc('delivery.dropped');
      this.inc('delivery.dropped.no_subid');
      this.settle(dl);
      return;
    }
    if (this.notifyType(dl.qos) === 'NON') {
      this.sendNotification(obs, dl, 'NON');
      this.settle(dl);
      return;
    }
    if (!this.notifyInFlight) {
      this.sendNotification(obs, dl, 'CON');
      return;
    }
    // One CON notification outstanding per device; the rest wait in a bounded queue (drop oldest).
    if (this.notifyQueue.length >= this.d.config.notify_queue_len) {
      const dropped = this.notifyQueue.shift()!;
      this.inc('delivery.dropped');
      this.inc('delivery.dropped.queue_full');
      this.log.warn({ msg: 'queue_drop', reason: 'queue_full', clientid: this.clientId, topic: dropped.message.topic });
      this.settle(dropped);
    }
    this.notifyQueue.push(dl);
  }

  private notifyType(qos: QoS): 'CON' | 'NON' {
    const cfg = this.d.config;
    if (cfg.emqx_compat.always_non_notify || cfg.notify_type === 'non') return 'NON';
    if (cfg.notify_type === 'con') return 'CON';
    return qos === 0 ? 'NON' : 'CON';
  }

  private sendNotification(obs: Observation, dl: Delivery, type: 'CON' | 'NON'): void {
    const n = this.observations.notification(obs, dl.message.payload, type, this.mid(), this.d.config.blockwise.enable);
    if (n.blockwise) this.inc('coap.blockwise.block2');
    this.inc('coap.notify.sent');
    if (type === 'NON') {
      this.send(n.frame, this.peer);
      return;
    }
    this.notifyInFlight = true;
    this.sendConfirmable(n.frame, dl, obs.filter, 0);
    this.armExchange();
  }

  private pumpNotifications(): void {
    while (!this.notifyInFlight && this.notifyQueue.length > 0) this.deliver(this.notifyQueue.shift()!);
  }

  /** Settles a delivery with the broker: the device has it, or it is dropped and counted. */
  private settle(dl: Delivery): void {
    if (this.session === null || dl.pid === 0) return;
    if (dl.qos === 1) this.session.ack(dl.pid);
    else if (dl.qos === 2) {
      this.session.received(dl.pid);
      this.session.complete(dl.pid);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Message layer: ACK/RST matching, retransmission (RFC 7252 §4.2), separate responses

  private sendConfirmable(frame: CoapFrame, dl: Delivery | null, filter: string | null, requestId: number): void {
    this.outstanding.track(frame, { delivery: dl, filter, requestId }, this.d.clock.now(), this.d.random);
    this.send(frame, this.peer);
  }

  private onAckOrReset(f: CoapFrame, from: Peer): void {
    const p = this.outstanding.take(f.messageId);
    // RFC 7252 §4.2/§4.3: an ACK or RST that matches nothing is silently ignored.
    if (p === undefined) return;
    const o = p.meta;
    this.peer = from;
    if (o.requestId !== 0) {
      const r = this.requests.get(o.requestId);
      if (r === undefined) return;
      if (f.type === 'RST') this.finishRequest(o.requestId, { ok: false, reason: 'reset' });
      else if (f.code !== Code.EMPTY) this.finishRequest(o.requestId, responseOf(f));
      // An empty ACK: the response comes separately (RFC 7252 §5.2.2) and is matched by token.
      return;
    }
    this.notifyInFlight = false;
    if (o.delivery !== null) this.settle(o.delivery);
    if (f.type === 'RST') {
      // RFC 7641 §3.6: a RST to a notification cancels the observation (EMQX 5.8 keeps it).
      this.inc('coap.notify.reset');
      if (!this.d.config.emqx_compat.rst_keeps_observation && o.filter !== null) this.removeObservation(o.filter);
    } else {
      this.inc('coap.notify.acked');
    }
    this.pumpNotifications();
  }

  private onSeparateResponse(f: CoapFrame, from: Peer): void {
    for (const [id, r] of this.requests) {
      if (r.token.equals(f.token)) {
        if (f.type === 'CON') this.send(emptyFrame('ACK', f.messageId), from);
        this.outstanding.removeWhere((m) => m.requestId === id);
        this.finishRequest(id, responseOf(f));
        return;
      }
    }
    // RFC 7252 §5.3.2: an unexpected CON response is rejected with RST; a NON one may be too.
    this.send(emptyFrame('RST', f.messageId), from);
  }

  private finishRequest(id: number, result: DeviceResponse): void {
    if (!this.requests.delete(id)) return;
    this.out.push({ type: 'request-done', id, result });
  }

  private onExchangeTimer(now: number): void {
    const { resend, failed } = this.outstanding.tick(now);
    for (const f of resend) {
      this.inc('coap.retransmit');
      this.send(f, this.peer);
    }
    for (const o of failed) {
      if (o.requestId !== 0) continue; // the request's own deadline reports it
      this.inc('coap.notify.timeout');
      this.inc('delivery.dropped');
      this.notifyInFlight = false;
      if (o.delivery !== null) this.settle(o.delivery);
      // RFC 7641 §4.5: a CON notification that times out removes the observer.
      if (o.filter !== null) this.removeObservation(o.filter);
      this.log.info({ msg: 'notify_timeout', clientid: this.clientId, topic: o.filter });
    }
    for (const [id, r] of this.requests) if (r.deadline <= now) this.finishRequest(id, { ok: false, reason: 'timeout' });
    this.pumpNotifications();
    this.armExchange();
  }

  private armExchange(): void {
    let next = this.outstanding.nextDue();
    for (const r of this.requests.values()) next = Math.min(next, r.deadline);
    if (next === Infinity) this.out.push({ type: 'cancel-timer', name: 'exchange' });
    else this.out.push({ type: 'set-timer', name: 'exchange', ms: Math.max(0, next - this.d.clock.now()) });
  }

  // ------------------------------------------------------------------------------------------
  // Helpers

  private responseFrame(req: CoapFrame, c: number, payload: Buffer, options: CoapOption[]): CoapFrame {
    // A CON request is answered piggybacked on its ACK; a NON one with a NON response (RFC 7252 §5.2).
    return req.type === 'CON'
      ? { type: 'ACK', code: c, messageId: req.messageId, token: req.token, options, payload }
      : { type: 'NON', code: c, messageId: this.mid(), token: req.token, options, payload };
  }

  private reply(req: CoapFrame, to: Peer, key: string, c: number, payload: Buffer = EMPTY, options: CoapOption[] = []): void {
    const frame = this.responseFrame(req, c, payload, options);
    this.dedup.setReply(key, frame);
    this.send(frame, to);
  }

  private send(frame: CoapFrame, to: Peer): void {
    this.out.push({ type: 'send', frame, to });
  }

  private close(reason: DisconnectReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.session?.close(reason);
    this.session = null;
    for (const id of [...this.requests.keys()]) this.finishRequest(id, { ok: false, reason: 'closed' });
    this.outstanding.clear();
    this.notifyQueue.length = 0;
    this.observations.clear();
    this.out.push({ type: 'cancel-timer', name: 'keepalive' }, { type: 'cancel-timer', name: 'exchange' }, { type: 'cancel-timer', name: 'idle' });
    this.out.push({ type: 'close', reason });
  }

  private sweep(now: number): void {
    this.dedup.sweep(now);
    this.block1.sweep(now);
  }

  private drainDeferred(): ChannelEffect[] {
    this.busy = true;
    while (this.deferred.length > 0) this.deliver(this.deferred.shift()!);
    this.busy = false;
    return this.flush();
  }

  private flush(): ChannelEffect[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  private mid(): number {
    this.nextMid = (this.nextMid + 1) & 0xffff;
    return this.nextMid;
  }

  private randomToken(): Buffer {
    const b = Buffer.allocUnsafe(4);
    for (let i = 0; i < 4; i++) b[i] = Math.floor(this.d.random() * 256);
    return b;
  }

  private deviceInfo(): DeviceInfo {
    return {
      clientId: this.clientId,
      username: this.username,
      peerHost: this.peer.host,
      peerPort: this.peer.port,
      listener: this.d.listener,
      sockPort: this.d.sockPort,
      protoVer: '1',
      keepalive: this.d.config.heartbeat,
      superuser: this.authed?.superuser ?? false,
    };
  }

  /** Who a sessionless publish is from: the identity the broker's chain accepted (§3.1, EMQX 6.x). */
  private publisher(): SessionlessDevice {
    const a = this.authed;
    return {
      clientId: a?.clientId ?? this.clientId,
      username: a?.username ?? this.username,
      superuser: a?.superuser ?? false,
      peerHost: this.peer.host,
      peerPort: this.peer.port,
      listener: this.d.listener,
      sockPort: this.d.sockPort,
      protoVer: '1',
    };
  }

  private inc(name: CoapCounter): void {
    this.d.ctx.metrics.inc(name);
  }
}

/**
 * The credentials a connectionless request presents; the empty key is an anonymous client. A DTLS
 * peer's proven identity is part of them: a new handshake at the same address is checked again.
 */
function credentialsOf(q: Query, security: PeerSecurity | undefined): string {
  const c = q.get('clientid');
  const u = q.get('username');
  const p = q.get('password');
  const s = securityKey(security);
  return c === undefined && u === undefined && p === undefined && s === '' ? '' : JSON.stringify([c ?? null, u ?? null, p ?? null, s]);
}

function responseOf(f: CoapFrame): DeviceResponse {
  const cf = getOption(f, Opt.CONTENT_FORMAT);
  return { ok: true, code: f.code, payload: f.payload, contentFormat: cf !== undefined ? decodeUint(cf) : null };
}

/** §3.1: a 16-character base62 id whose first character is a letter. */
export function randomClientId(random: () => number): string {
  let s = BASE62[Math.floor(random() * 52)]!;
  for (let i = 1; i < 16; i++) s += BASE62[Math.floor(random() * 62)]!;
  return s;
}
