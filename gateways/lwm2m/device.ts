// One registered LwM2M client: its broker session, the commands waiting for it (one outstanding
// at a time, spec A.6), CON retransmission of requests to it, observations, queue mode and its
// lifetime. Frames and deliveries in, frames out through `send`; the clock is injected.
import type { Delivery, DeliverySink, DisconnectReason, GatewayContext, GatewaySession, QoS } from '../gateway.js';
import type { Peer } from '../transport/types.js';
import { Code, Opt, blockSize, decodeBlock, decodeUint, encodeBlock, encodeUint, getOption, szxFor, type BlockOption, type CoapFrame, type CoapOption } from '../codecs/coap/frame.js';
import { Retransmitter } from '../codecs/coap/exchange.js';
import { EXCHANGE_LIFETIME_MS, MAX_SZX } from '../codecs/coap/params.js';
import { answerEvent, notifyEvent, parseCommand, transportEvent, type CoapAnswer, type Command, type DecodeOptions, type EventJson } from './commands.js';
import type { Lwm2mConfig } from './config.js';
import type { Registration } from './registration.js';
import { TLV_CONTENT_FORMAT } from './tlv.js';
import { SENML_JSON_CONTENT_FORMAT } from './senml-json.js';
import { SENML_CBOR_CONTENT_FORMAT } from './senml-cbor.js';

type TimerHandle = ReturnType<GatewayContext['clock']['setTimeout']>;

/** Where the device is: listener id and UDP peer (changes on NAT rebinding). */
export interface Address {
  listener: string;
  peer: Peer;
}

export interface DeviceDeps {
  ctx: GatewayContext;
  config(): Lwm2mConfig;
  decode(): DecodeOptions;
  objectKnown(objectId: number): boolean;
  random(): number;
  /** Write a frame to the device's current address from the listener it registered on. */
  send(addr: Address, frame: CoapFrame): void;
  /** Observations changed: store them with the registration. */
  changed(dev: Lwm2mDevice): void;
  /** The registration ended (de-register, lifetime, kicked): forget it everywhere. */
  ended(dev: Lwm2mDevice, reason: DisconnectReason): void;
  count(name: string): void;
}

interface Queued {
  cmd: Command;
  /** Broker packet id of a QoS 1/2 delivery (0 for QoS 0), acknowledged once the command is answered. */
  pid: number;
  qos: QoS;
  autoObserve: boolean;
  /** Told the answer (or coap_timeout/coap_reset) of a command from the HTTP API. */
  onAnswer?: (ev: EventJson) => void;
}

interface Outstanding extends Queued {
  token: Buffer;
  messageId: number;
  /** The device sent an empty ACK: a separate response follows (RFC 7252 §5.2.2). */
  acked: boolean;
  timer: TimerHandle | null;
  /** The request as first sent (block-wise follow-ups copy it). */
  frame: CoapFrame;
  /** Block2 parts received so far of a block-wise answer (RFC 7959 §2.4). */
  blocks: Buffer[] | null;
  /** The Block1 block of the request body in flight (RFC 7959 §2.5). */
  block1: { offset: number; szx: number } | null;
}

const REQUEST_ENTITY_TOO_LARGE = Code.REQUEST_ENTITY_TOO_LARGE;

/** Largest block-wise answer reassembled from a device. */
const MAX_BLOCK2_BODY = 1024 * 1024;

interface Observation {
  cmd: Command;
  autoObserve: boolean;
}

/** Objects EMQX never auto-observes (B.6). */
const NO_AUTO_OBSERVE = new Set([0, 1, 2, 4, 5, 6, 7, 9, 15]);

export class Lwm2mDevice implements DeliverySink {
  session: GatewaySession | null = null;
  lastInbound: number;
  /** Clock time the registration lifetime ends. */
  expiresAt = 0;
  private readonly queue: Queued[] = [];
  private current: Outstanding | null = null;
  private readonly observations = new Map<string, Observation>();
  private readonly rt = new Retransmitter<Outstanding>();
  private rtTimer: TimerHandle | null = null;
  private rtDue = Infinity;
  private lifetimeTimer: TimerHandle | null = null;
  private windowTimer: TimerHandle | null = null;
  private asleep = false;
  private disposed = false;
  private nextMid: number;

  constructor(
    private readonly deps: DeviceDeps,
    public reg: Registration,
    public addr: Address,
  ) {
    this.lastInbound = deps.ctx.clock.now();
    this.nextMid = Math.floor(deps.random() * 0x10000);
  }

  get clientId(): string {
    return this.reg.clientId;
  }

  get isAsleep(): boolean {
    return this.asleep;
  }

  /** Commands waiting plus the outstanding one (tests, diagnostics). */
  get pendingCommands(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  private get clock() {
    return this.deps.ctx.clock;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Attach the broker session (opened by the gateway after authentication). */
  bind(session: GatewaySession): void {
    this.session = session;
    const t = this.deps.config().translators.command;
    const r = session.subscribe(t.topic, { qos: t.qos as QoS });
    if (!r.ok) this.deps.ctx.log.info({ gw: 'lwm2m', clientid: this.clientId, topic: t.topic, reason: r.reason }, 'command_subscribe_refused');
    this.armWindow();
  }

  /** (Re)start the registration lifetime (Register and Update). */
  refreshLifetime(remainingMs = this.reg.lifetime * 1000): void {
    this.expiresAt = this.clock.now() + remainingMs;
    if (this.lifetimeTimer) this.clock.clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = this.clock.setTimeout(() => {
      this.lifetimeTimer = null;
      this.deps.ctx.log.info({ gw: 'lwm2m', clientid: this.clientId, ep: this.reg.endpoint }, 'registration_expired');
      this.end('keepalive_timeout');
    }, remainingMs);
  }

  /** End the registration: the dn subscription goes (nothing more queues for it), the session closes. */
  end(reason: DisconnectReason): void {
    if (this.disposed) return;
    const s = this.session;
    this.dispose();
    if (s) {
      s.unsubscribe(this.deps.config().translators.command.topic);
      s.close(reason);
    }
    this.deps.ended(this, reason);
  }

  /** Stop timers and forget in-memory state; the session is left as it is (takeover, shutdown). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [this.lifetimeTimer, this.windowTimer, this.rtTimer, this.current?.timer ?? null]) if (t) this.clock.clearTimeout(t);
    this.lifetimeTimer = this.windowTimer = this.rtTimer = null;
    this.rt.clear();
    this.current = null;
    this.queue.length = 0;
  }

  /** Shutdown: the session closes and lives on for its expiry (queue mode) so queued commands survive. */
  shutdown(): void {
    const s = this.session;
    this.dispose();
    s?.close('server_shutdown');
  }

  /** Observations as stored with the registration, so notifications still map after a restart. */
  observationList(): { token: string; raw: Readonly<Record<string, unknown>>; autoObserve: boolean }[] {
    return [...this.observations].map(([token, o]) => ({ token, raw: o.cmd.raw, autoObserve: o.autoObserve }));
  }

  restoreObservations(list: readonly { token: string; raw: Readonly<Record<string, unknown>>; autoObserve: boolean }[]): void {
    for (const o of list) {
      const cmd = parseCommand(Buffer.from(JSON.stringify(o.raw)), this.writeFormat());
      if (cmd.kind === 'ok' && /^[0-9a-f]{0,16}$/.test(o.token)) this.observations.set(o.token, { cmd: cmd.value, autoObserve: o.autoObserve });
    }
  }

  // ---- DeliverySink: commands from MQTT -----------------------------------------------------

  deliver(d: Delivery): void {
    if (this.disposed) return;
    // A QoS 1/2 command re-sent after attach() (dup) that is already here.
    if (d.pid !== 0 && (this.current?.pid === d.pid || this.queue.some((q) => q.pid === d.pid))) return;
    const parsed = parseCommand(d.message.payload, this.writeFormat());
    if (parsed.kind === 'error') {
      this.deps.count('delivery.dropped');
      this.deps.ctx.log.warn({ gw: 'lwm2m', clientid: this.clientId, topic: d.message.topic, reason: parsed.detail }, 'invalid_json_format_to_deliver');
      this.settle({ pid: d.pid, qos: d.qos });
      return;
    }
    this.queue.push({ cmd: parsed.value, pid: d.pid, qos: d.qos, autoObserve: false });
    this.pump();
  }

  kick(reason: DisconnectReason): void {
    if (this.disposed) return;
    this.deps.ctx.log.info({ gw: 'lwm2m', clientid: this.clientId, reason }, 'client_kicked');
    this.session = null;
    this.end(reason);
  }

  /** Observe GETs for the registered objects (B.6), after the register event. */
  autoObserve(): void {
    const links = this.reg.links;
    if (!links) return;
    for (const o of links.objects) {
      if (NO_AUTO_OBSERVE.has(o.objectId) || !this.deps.objectKnown(o.objectId)) continue;
      const raw = { msgType: 'observe', data: { path: o.path } };
      const cmd = parseCommand(Buffer.from(JSON.stringify(raw)), this.writeFormat());
      if (cmd.kind === 'ok') this.queue.push({ cmd: { ...cmd.value, raw: { msgType: 'observe', data: { path: o.path }, is_auto_observe: true } }, pid: 0, qos: 0, autoObserve: true });
    }
    this.pump();
  }

  /**
   * The format writes and creates are encoded in. TLV is mandatory for 1.0 clients and what EMQX
   * sends, so a 1.0 client gets TLV (Wakaama 1.0 refuses a single-resource LwM2M JSON write); a 1.1
   * client gets the SenML format it advertised with `ct`, else TLV.
   */
  writeFormat(): number {
    if (this.reg.version === '1.0') return TLV_CONTENT_FORMAT;
    for (const cf of this.reg.links?.contentFormats ?? []) if (cf === SENML_JSON_CONTENT_FORMAT || cf === SENML_CBOR_CONTENT_FORMAT) return cf;
    return TLV_CONTENT_FORMAT;
  }

  private settle(q: { pid: number; qos: QoS }): void {
    if (q.pid === 0 || !this.session) return;
    if (q.qos === 2) {
      this.session.received(q.pid);
      this.session.complete(q.pid);
    } else this.session.ack(q.pid);
  }

  // ---- queue mode ---------------------------------------------------------------------------

  /** Any message from the device: it is awake for qmode_time_window (spec A.6). */
  heard(): void {
    this.lastInbound = this.clock.now();
    this.session?.touch();
    if (this.asleep && this.session) {
      this.asleep = false;
      // Deliveries held by the broker while asleep (durably) come now, through deliver().
      this.session.attach(this);
    }
    this.armWindow();
    this.pump();
  }

  private armWindow(): void {
    if (!this.reg.queueMode) return;
    if (this.windowTimer) this.clock.clearTimeout(this.windowTimer);
    this.windowTimer = this.clock.setTimeout(() => this.windowClosed(), this.deps.config().qmode_time_window * 1000);
  }

  private windowClosed(): void {
    this.windowTimer = null;
    if (this.disposed || !this.reg.queueMode) return;
    this.asleep = true;
    // The broker keeps new commands in the session's queue (in the store) until the device talks.
    this.session?.detach();
  }

  private awake(): boolean {
    return !this.reg.queueMode || !this.asleep;
  }

  // ---- requests to the device ---------------------------------------------------------------

  private pump(): void {
    if (this.disposed || this.current !== null || this.queue.length === 0 || !this.awake()) return;
    const q = this.queue.shift()!;
    const req = q.cmd.request;
    let token: Buffer | undefined;
    if (req.observe === 1) {
      // RFC 7641 §3.6: cancel with the token of the observation.
      for (const [tok, o] of this.observations) if (pathKey(o.cmd.reqPath) === pathKey(q.cmd.reqPath)) token = Buffer.from(tok, 'hex');
    }
    token ??= this.newToken();
    const options: CoapOption[] = [];
    const alt = this.reg.links?.alternatePath ?? '/';
    for (const seg of alt.split('/')) if (seg !== '') options.push({ number: Opt.URI_PATH, value: Buffer.from(seg) });
    for (const seg of req.path) options.push({ number: Opt.URI_PATH, value: Buffer.from(seg) });
    for (const q2 of req.query) options.push({ number: Opt.URI_QUERY, value: Buffer.from(q2) });
    if (req.observe !== null) options.push({ number: Opt.OBSERVE, value: encodeUint(req.observe) });
    if (req.contentFormat !== null) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(req.contentFormat) });
    if (req.accept !== null) options.push({ number: Opt.ACCEPT, value: encodeUint(req.accept) });
    const frame: CoapFrame = { type: 'CON', code: req.method, messageId: this.mid(), token, options, payload: req.payload };
    const out: Outstanding = { ...q, token, messageId: frame.messageId, acked: false, timer: null, frame, blocks: null, block1: null };
    this.current = out;
    // A body bigger than one block goes block-wise (RFC 7959 §2.5).
    if (req.payload.length > blockSize(MAX_SZX)) return this.sendBlock1(out, 0, MAX_SZX);
    this.rt.track(frame, out, this.clock.now(), this.deps.random);
    this.deps.send(this.addr, frame);
    this.armRetransmit();
  }

  /** The Block1 block of the request body starting at `offset`, with blocks of 2^(szx+4) bytes. */
  private sendBlock1(cur: Outstanding, offset: number, szx: number): void {
    const size = blockSize(szx);
    const body = cur.frame.payload;
    const more = offset + size < body.length;
    const options = cur.frame.options.filter((o) => o.number !== Opt.BLOCK1);
    options.push({ number: Opt.BLOCK1, value: encodeBlock({ num: offset / size, more, szx }) });
    const frame: CoapFrame = { ...cur.frame, messageId: this.mid(), options, payload: body.subarray(offset, offset + size) };
    cur.messageId = frame.messageId;
    cur.block1 = { offset, szx };
    this.rt.track(frame, cur, this.clock.now(), this.deps.random);
    this.deps.send(this.addr, frame);
    this.armRetransmit();
  }

  /** 2.31 Continue or 4.13 for a block-wise request body: true when another block went out. */
  private continueBlock1(cur: Outstanding, f: CoapFrame): boolean {
    const b1opt = getOption(f, Opt.BLOCK1);
    const b1 = b1opt === undefined ? null : decodeBlock(b1opt);
    if (f.code === Code.CONTINUE && cur.block1 !== null && b1 !== null) {
      // The device may ask for smaller blocks (RFC 7959 §2.5): continue after what it took.
      const szx = Math.min(b1.szx, cur.block1.szx);
      const next = cur.block1.offset + Math.min(blockSize(szx), blockSize(cur.block1.szx));
      if (next >= cur.frame.payload.length) return false;
      this.sendBlock1(cur, next - (next % blockSize(szx)), szx);
      return true;
    }
    if (f.code === REQUEST_ENTITY_TOO_LARGE && cur.frame.payload.length > 0) {
      // RFC 7959 §2.9.3: start again block-wise, in the size the device names (else one size smaller); give up when that does not shrink.
      const current = cur.block1?.szx ?? szxFor(cur.frame.payload.length);
      const szx = b1 !== null ? Math.min(b1.szx, current) : current - 1;
      if (szx < 0 || (cur.block1 !== null && szx >= cur.block1.szx)) return false;
      this.sendBlock1(cur, 0, szx);
      return true;
    }
    return false;
  }

  /** The next block of a block-wise answer: the same request with Block2 (no Observe, RFC 7959 §3.4). */
  private requestBlock(cur: Outstanding, block: BlockOption): void {
    if (cur.timer) this.clock.clearTimeout(cur.timer);
    cur.timer = null;
    cur.acked = false;
    const options = cur.frame.options.filter((o) => o.number !== Opt.OBSERVE && o.number !== Opt.BLOCK2);
    options.push({ number: Opt.BLOCK2, value: encodeBlock(block) });
    const frame: CoapFrame = { ...cur.frame, messageId: this.mid(), options, payload: cur.block1 === null ? cur.frame.payload : Buffer.alloc(0) };
    cur.messageId = frame.messageId;
    this.rt.track(frame, cur, this.clock.now(), this.deps.random);
    this.deps.send(this.addr, frame);
    this.armRetransmit();
  }

  private newToken(): Buffer {
    const b = Buffer.allocUnsafe(4);
    for (let i = 0; i < 4; i++) b[i] = Math.floor(this.deps.random() * 256);
    return b;
  }

  private mid(): number {
    this.nextMid = (this.nextMid + 1) & 0xffff;
    return this.nextMid;
  }

  private armRetransmit(): void {
    const due = this.rt.nextDue();
    if (due === this.rtDue && this.rtTimer) return;
    if (this.rtTimer) this.clock.clearTimeout(this.rtTimer);
    this.rtTimer = null;
    this.rtDue = due;
    if (due === Infinity) return;
    this.rtTimer = this.clock.setTimeout(() => {
      this.rtTimer = null;
      this.rtDue = Infinity;
      const { resend, failed } = this.rt.tick(this.clock.now());
      for (const f of resend) {
        this.deps.count('coap.retransmit');
        this.deps.send(this.addr, f);
      }
      for (const o of failed) this.finish(o, transportEvent(o.cmd, 'coap_timeout'));
      this.armRetransmit();
    }, Math.max(0, due - this.clock.now()));
  }

  /** The outstanding command is done: publish its event, acknowledge its delivery, send the next. */
  private finish(o: Outstanding, ev: EventJson | null): void {
    if (this.current === o) this.current = null;
    if (o.timer) this.clock.clearTimeout(o.timer);
    o.timer = null;
    if (ev) this.publish('response', ev);
    if (ev && o.onAnswer) o.onAnswer(ev);
    this.settle(o);
    this.pump();
  }

  /** A command from the HTTP API: queued like an MQTT one; its answer is also published on up/resp. */
  request(payload: Buffer, onAnswer: (ev: EventJson) => void): { ok: true } | { ok: false; detail: string } {
    if (this.disposed) return { ok: false, detail: 'not registered' };
    const parsed = parseCommand(payload, this.writeFormat());
    if (parsed.kind === 'error') return { ok: false, detail: parsed.detail };
    this.queue.push({ cmd: parsed.value, pid: 0, qos: 0, autoObserve: false, onAnswer });
    this.pump();
    return { ok: true };
  }

  // ---- frames from the device ---------------------------------------------------------------

  /** An empty ACK/RST, or a response (piggybacked, separate, notification). true when it was ours. */
  handleResponse(f: CoapFrame, reply: (frame: CoapFrame) => void): boolean {
    if (f.code === Code.EMPTY) {
      const o = this.rt.take(f.messageId)?.meta;
      this.armRetransmit();
      if (!o) return f.type === 'ACK' || f.type === 'RST';
      if (f.type === 'RST') {
        this.finish(o, transportEvent(o.cmd, 'coap_reset'));
      } else {
        // Separate response follows; wait for it as long as a CON exchange may live.
        o.acked = true;
        this.publish('response', transportEvent(o.cmd, 'ack'));
        o.timer = this.clock.setTimeout(() => this.finish(o, transportEvent(o.cmd, 'coap_timeout')), EXCHANGE_LIFETIME_MS);
      }
      return true;
    }
    if (f.type === 'RST') return false;
    const tok = f.token.toString('hex');
    const ack = (): void => {
      if (f.type === 'CON') reply({ type: 'ACK', code: 0, messageId: f.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
    };
    const cur = this.current;
    if (cur && (f.type === 'ACK' ? f.messageId === cur.messageId && f.token.equals(cur.token) : f.token.equals(cur.token))) {
      if (f.type === 'ACK') this.rt.take(f.messageId);
      this.armRetransmit();
      ack();
      if ((f.code === Code.CONTINUE || f.code === REQUEST_ENTITY_TOO_LARGE) && this.continueBlock1(cur, f)) return true;
      const b2 = getOption(f, Opt.BLOCK2);
      const blk = b2 === undefined ? null : decodeBlock(b2);
      if (blk !== null && f.code >> 5 === 2) {
        const parts = (cur.blocks ??= []);
        parts.push(f.payload);
        const size = parts.reduce((n, b) => n + b.length, 0);
        if (blk.more && size <= MAX_BLOCK2_BODY) {
          this.requestBlock(cur, { num: blk.num + 1, more: false, szx: blk.szx });
          return true;
        }
        f = { ...f, payload: Buffer.concat(parts) };
      }
      const a = answer(f);
      const ev = answerEvent(cur.cmd, a, this.deps.decode());
      if (cur.cmd.msgType === 'observe' && f.code >> 5 === 2) {
        this.observations.set(tok, { cmd: cur.cmd, autoObserve: cur.autoObserve });
        this.deps.changed(this);
      }
      if (cur.cmd.msgType === 'cancel-observe' && this.observations.delete(tok)) this.deps.changed(this);
      this.finish(cur, ev);
      return true;
    }
    const obs = this.observations.get(tok);
    if (obs && f.type !== 'ACK') {
      ack();
      const a = answer(f);
      const ev = notifyEvent(obs.cmd, a, this.deps.decode());
      const ids = obs.cmd.request.path;
      this.publish(ids[0] === '5' && this.deps.config().emqx_compat.firmware_notify_topic ? 'firmware' : 'notify', ev);
      // A non-2.xx notification ends the observation (RFC 7641 §3.2).
      if (f.code >> 5 !== 2 && this.observations.delete(tok)) this.deps.changed(this);
      return true;
    }
    return false;
  }

  // ---- events to MQTT -----------------------------------------------------------------------

  publish(kind: 'response' | 'notify' | 'register' | 'update' | 'firmware', ev: EventJson): void {
    const s = this.session;
    if (!s) return;
    const t = this.deps.config().translators;
    const tr = kind === 'firmware' ? { topic: '/v1/up/dm', qos: t.notify.qos } : t[kind];
    const r = s.publish(tr.topic, Buffer.from(JSON.stringify(ev)), { qos: tr.qos as QoS, retain: false });
    if (!r.ok) {
      this.deps.count('publish.refused');
      this.deps.ctx.log.error({ gw: 'lwm2m', clientid: this.clientId, topic: tr.topic, reason: r.reason }, 'event_publish_refused');
    }
  }
}

function pathKey(p: string): string {
  const q = p.indexOf('?');
  return (q < 0 ? p : p.slice(0, q)).replace(/\/+$/, '');
}

export function answer(f: CoapFrame): CoapAnswer {
  const cf = getOption(f, Opt.CONTENT_FORMAT);
  const obs = getOption(f, Opt.OBSERVE);
  return { code: f.code, contentFormat: cf === undefined ? null : decodeUint(cf), payload: f.payload, observe: obs === undefined ? null : decodeUint(obs) };
}

