// One STOMP connection's state machine (gateways/stomp/SPEC.md §2-§6): frames in, frames out over
// its StreamLink, the broker through GatewayContext only, time through the injected clock.
// Outpost goes beyond EMQX where the spec allows: escapes decoded per version, real ACK/NACK on
// client ack modes (QoS 1 subscriptions, NACK redelivers), STOMP headers carried as MQTT 5 user
// properties, heart-beats checked against a configurable grace.
import type { Logger } from 'pino';
import type { Delivery, DeliverySink, DisconnectReason, GatewayContext, GatewaySession, MessageProperties, QoS } from '../gateway.js';
import type { StreamChannel, StreamCloseReason, StreamLink } from '../transport/stream-types.js';
import type { StompConfig } from './config.js';
import { header, HEARTBEAT, unescapeHeaders, type StompFrame, type StompVersion } from './frame.js';

export type ChannelState = 'idle' | 'authenticating' | 'connected' | 'closed';
export type AckMode = 'auto' | 'client' | 'client-individual';

export type StompCounter =
  | 'clients.connected'
  | 'clients.auth_failed'
  | 'clients.heartbeat_timeout'
  | 'frames.error'
  | 'messages.received'
  | 'messages.sent'
  | 'messages.acked'
  | 'messages.nacked'
  | 'delivery.dropped.no_subid';

export const SERVER_NAME = 'emqx-stomp/1.2';
const SUPPORTED: readonly StompVersion[] = ['1.2', '1.1', '1.0'];

/** Headers the gateway sets on MESSAGE (and consumes on SEND): never copied from user properties. */
const RESERVED = new Set(['destination', 'subscription', 'message-id', 'ack', 'content-length', 'content-type', 'receipt', 'transaction', 'redelivered', 'persistent']);

interface Sub {
  id: string;
  destination: string;
  /** The filter as deliveries name it: without $share/<g>/, $queue/ and mountpoint. */
  key: string;
  ack: AckMode;
  /** ack id -> broker pid, in delivery order (cumulative ACK in client mode walks it). */
  unacked: Map<string, number>;
}

interface Tx {
  started: number;
  frames: StompFrame[];
}

export interface ChannelDeps {
  ctx: GatewayContext;
  config: StompConfig;
  link: StreamLink<StompFrame>;
  generateClientId(): string;
  count(name: StompCounter): void;
}

/** What CONNECT's accept-version leads to: the highest version both sides speak, or null. */
export function negotiateVersion(acceptVersion: string | undefined): StompVersion | null {
  if (acceptVersion === undefined) return '1.0';
  const offered = acceptVersion.split(',').map((v) => v.trim());
  for (const v of SUPPORTED) if (offered.includes(v)) return v;
  return null;
}

/** `cx,cy` of a heart-beat header; null when malformed. Missing header: 0,0. */
export function parseHeartBeat(v: string | undefined): [number, number] | null {
  if (v === undefined) return [0, 0];
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The subscription key a delivery's filter is matched against (shared-subscription prefix removed). */
export function subscriptionKey(destination: string): string {
  if (destination.startsWith('$share/')) {
    const i = destination.indexOf('/', 7);
    return i < 0 ? destination : destination.slice(i + 1);
  }
  if (destination.startsWith('$queue/')) return destination.slice(7);
  if (destination.startsWith('$exclusive/')) return destination.slice(11);
  return destination;
}

/** ${Packet.headers.<name>} (EMQX clientinfo_override); '' renders to null. */
export function renderTemplate(tpl: string, f: StompFrame): string | null {
  if (tpl === '') return null;
  const out = tpl.replace(/\$\{Packet\.headers\.([^}]+)\}/g, (_m, name: string) => header(f, name) ?? '');
  return out === '' ? null : out;
}

export class StompChannel implements StreamChannel<StompFrame>, DeliverySink {
  state: ChannelState = 'idle';
  version: StompVersion = '1.0';
  clientId: string | null = null;
  session: GatewaySession | null = null;
  private readonly ctx: GatewayContext;
  private readonly cfg: StompConfig;
  readonly link: StreamLink<StompFrame>;
  private log: Logger;
  private mountpoint = '';
  private readonly subs = new Map<string, Sub>();
  private readonly subsByKey = new Map<string, Sub>();
  private readonly acks = new Map<string, Sub>();
  private readonly txs = new Map<string, Tx>();
  private nextMessageId = 1;
  /**
   * Durable session: QoS 1 deliveries (resent inflight, queued while away) for a subscription the
   * client has not re-made on this connection yet, by delivery filter. They stay inflight in the
   * broker, so a disconnect loses nothing.
   */
  private parked: Map<string, Delivery[]> | null = null;
  /** Frames that arrived while CONNECT was being authenticated. */
  private pending: StompFrame[] = [];
  /** The session outlives the connection (session_expiry_interval, named client). */
  private durable = false;
  private lastRx: number;
  private sendEveryMs = 0;
  private expectEveryMs = 0;
  private beatTimer: ReturnType<GatewayContext['clock']['setTimeout']> | null = null;
  private checkTimer: ReturnType<GatewayContext['clock']['setTimeout']> | null = null;
  private connectTimer: ReturnType<GatewayContext['clock']['setTimeout']> | null = null;

  constructor(private readonly deps: ChannelDeps) {
    this.ctx = deps.ctx;
    this.cfg = deps.config;
    this.link = deps.link;
    this.log = deps.ctx.log.child({ gw: 'stomp', listener: deps.link.listener, peer: deps.link.key });
    this.lastRx = deps.ctx.clock.now();
    // A peer that only sends heart-beat EOLs keeps the transport's idle sweep quiet: CONNECT must
    // still come within idle_timeout (EMQX).
    const ms = deps.config.idle_timeout * 1000;
    if (ms > 0) {
      this.connectTimer = deps.ctx.clock.setTimeout(() => {
        this.connectTimer = null;
        if (this.state !== 'idle' && this.state !== 'authenticating') return;
        this.log.info({ reason: 'idle_timeout' }, 'no_connect_frame');
        this.finish('idle_timeout');
      }, ms);
    }
  }

  // ---- transport events ----

  handleFrame(raw: StompFrame): void {
    if (this.state === 'closed') return;
    this.lastRx = this.ctx.clock.now();
    if (raw.command === '') return; // heart-beat: activity only
    if (this.state === 'authenticating') {
      this.pending.push(raw);
      return;
    }
    const un = unescapeHeaders(raw, this.version);
    if (!un.ok) return this.fatal(`Frame error: ${un.detail}`, raw, 'protocol_error');
    const f = un.frame;
    if (this.state === 'idle') {
      if (f.command === 'CONNECT' || f.command === 'STOMP') return this.connect(f);
      return this.fatal('Not connected', f, 'protocol_error');
    }
    this.session?.touch();
    this.dispatch(f);
  }

  handleFrameError(code: string, detail: string): void {
    if (this.state === 'closed') return;
    this.deps.count('frames.error');
    this.log.info({ clientid: this.clientId, code, detail }, 'frame_error');
    this.fatal(`Frame error: ${detail}`, null, code === 'frame_too_large' || code.startsWith('max_') ? 'frame_too_large' : 'malformed_packet');
  }

  handleIdle(idleMs: number): boolean {
    if (this.state === 'closed') return true;
    // Connected clients are watched by heart-beats (or not at all, as negotiated).
    if (this.state === 'connected' || this.state === 'authenticating') return false;
    if (idleMs < this.cfg.idle_timeout * 1000) return false;
    this.log.debug({ reason: 'idle_timeout' }, 'channel_idle');
    this.finish('idle_timeout');
    return true;
  }

  handleTransportClosed(): void {
    if (this.state === 'closed') return;
    this.finish('server_shutdown');
  }

  handleClosed(reason: StreamCloseReason): void {
    if (this.state === 'closed') return;
    this.finish(reason === 'peer_closed' ? 'sock_closed' : reason === 'frame_too_large' ? 'frame_too_large' : reason === 'idle_timeout' ? 'idle_timeout' : 'tcp_closed');
  }

  // ---- broker events ----

  deliver(d: Delivery): void {
    if (this.state !== 'connected') return;
    const sub = this.subsByKey.get(d.filter);
    if (!sub && this.parked !== null && d.pid !== 0) {
      const list = this.parked.get(d.filter);
      if (list) list.push(d);
      else this.parked.set(d.filter, [d]);
      return;
    }
    if (!sub) {
      // A delivery for a subscription this connection no longer has (or never knew): done with it.
      this.deps.count('delivery.dropped.no_subid');
      if (d.pid !== 0) this.session?.ack(d.pid);
      return;
    }
    const m = d.message;
    const id = String(this.nextMessageId++);
    const topic = this.mountpoint !== '' && m.topic.startsWith(this.mountpoint) ? m.topic.slice(this.mountpoint.length) : m.topic;
    const hs: [string, string][] = [
      ['subscription', sub.id],
      ['message-id', id],
      ['destination', topic],
      ['content-type', m.props?.contentType ?? 'text/plain'],
    ];
    if (sub.ack !== 'auto') hs.push(['ack', id]);
    if (d.dup) hs.push(['redelivered', 'true']);
    const up = m.props?.userProperties;
    // User properties in their MQTT order; a repeated name repeats the header (STOMP: the first counts).
    if (up) for (const [n, v] of up) if (!RESERVED.has(n)) hs.push([n, v]);
    this.link.send({ command: 'MESSAGE', headers: hs, body: m.payload, escape: this.version });
    this.deps.count('messages.sent');
    if (d.pid === 0) return;
    if (sub.ack === 'auto') this.session?.ack(d.pid);
    else {
      sub.unacked.set(id, d.pid);
      this.acks.set(id, sub);
    }
  }

  kick(reason: DisconnectReason): void {
    if (this.state === 'closed') return;
    this.log.info({ clientid: this.clientId, reason }, 'client_kicked');
    // The broker already ended the session.
    this.session = null;
    const text = reason === 'kicked' ? 'Kicked out' : reason === 'takenover' ? 'Taken over by another connection' : reason === 'banned' ? 'Banned' : `Disconnected: ${reason}`;
    this.finish(reason, this.errorFrame(text, null));
  }

  // ---- CONNECT ----

  private connect(f: StompFrame): void {
    const version = negotiateVersion(header(f, 'accept-version'));
    if (version === null) return this.fatal(`Login Failed: Supported protocol versions < 1.2`, f, 'protocol_error');
    this.version = version;
    const hb = parseHeartBeat(header(f, 'heart-beat'));
    if (hb === null) return this.fatal(`Login Failed: malformed heart-beat header`, f, 'protocol_error');
    const o = this.cfg.clientinfo_override;
    const named = renderTemplate(o.clientid, f);
    const clientId = named ?? this.deps.generateClientId();
    this.durable = named !== null && this.cfg.session_expiry_interval > 0;
    const username = renderTemplate(o.username, f);
    const password = renderTemplate(o.password, f);
    this.clientId = clientId;
    this.log = this.log.child({ clientid: clientId });
    const link = this.link;
    this.state = 'authenticating';
    let answer: ReturnType<GatewayContext['authenticate']>;
    try {
      answer = this.ctx.authenticate({
        clientId,
        username,
        password: password === null ? null : Buffer.from(password),
        peerHost: link.peer.address,
        peerPort: link.peer.port,
        listener: link.listener,
        ...(link.cert ? { cert: link.cert } : {}),
      });
    } catch (err) {
      this.log.error({ err }, 'authenticate_failed');
      answer = { ok: false, reason: 'server_unavailable' };
    }
    const go = (a: Awaited<typeof answer>): void => {
      if (this.state !== 'authenticating') return;
      if (!a.ok) {
        this.deps.count('clients.auth_failed');
        this.log.info({ reason: a.reason }, 'client_login_failed');
        return this.fatal(`Login Failed: ${a.reason}`, null, a.reason === 'banned' ? 'banned' : 'not_authorized');
      }
      this.connected(f, clientId, a.username, a.superuser, hb);
    };
    if (answer instanceof Promise) answer.then(go, () => go({ ok: false, reason: 'server_unavailable' }));
    else go(answer);
  }

  private connected(f: StompFrame, clientId: string, username: string | null, superuser: boolean, hb: [number, number]): void {
    const [cx, cy] = hb;
    const min = this.cfg.heartbeat.min_interval;
    // EMQX answers the client's pair reversed: we send every cy and expect data every cx.
    const raise = (ms: number): number => (ms === 0 ? 0 : Math.max(ms, min));
    this.sendEveryMs = raise(cy);
    this.expectEveryMs = raise(cx);
    if (this.connectTimer) this.ctx.clock.clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.mountpoint = this.cfg.mountpoint.replaceAll('${clientid}', clientId).replaceAll('${username}', username ?? '');
    this.state = 'connected';
    const hs: [string, string][] = [
      ['version', this.version],
      ['heart-beat', `${this.sendEveryMs},${this.expectEveryMs}`],
      ['server', SERVER_NAME],
      ['session', clientId],
    ];
    this.link.send({ command: 'CONNECTED', headers: hs, body: Buffer.alloc(0), escape: 'none' });
    // A resumed session delivers its inflight and queued messages from inside openSession.
    if (this.durable) this.parked = new Map();
    try {
      this.session = this.openSession(clientId, username, superuser, cx);
    } catch (err) {
      // A durable session while the store is failing (SessionRefusedError), or a broker defect.
      return this.fatal(`Server unavailable: ${err instanceof Error ? err.message : String(err)}`, null, 'server_unavailable');
    }
    this.deps.count('clients.connected');
    this.log.info({ version: this.version, heartbeat: hs[1]![1] }, 'client_connected');
    this.armBeat();
    this.armCheck();
    const queued = this.pending;
    this.pending = [];
    for (const q of queued) {
      if (this.state !== 'connected') break;
      this.handleFrame(q);
    }
  }

  // ---- heart-beats ----

  private armBeat(): void {
    if (this.sendEveryMs <= 0 || this.state !== 'connected') return;
    this.beatTimer = this.ctx.clock.setTimeout(() => {
      this.beatTimer = null;
      if (this.state !== 'connected') return;
      this.link.send(HEARTBEAT);
      this.armBeat();
    }, this.sendEveryMs);
  }

  private armCheck(): void {
    if (this.expectEveryMs <= 0 || this.state !== 'connected') return;
    const limit = this.expectEveryMs * this.cfg.heartbeat.grace;
    const due = this.lastRx + limit - this.ctx.clock.now();
    this.checkTimer = this.ctx.clock.setTimeout(() => {
      this.checkTimer = null;
      if (this.state !== 'connected') return;
      if (this.ctx.clock.now() - this.lastRx >= limit) {
        this.deps.count('clients.heartbeat_timeout');
        this.log.info({ reason: 'heartbeat_timeout', silentMs: this.ctx.clock.now() - this.lastRx }, 'client_heartbeat_timeout');
        this.finish('keepalive_timeout');
        return;
      }
      this.armCheck();
    }, Math.max(1, due));
  }

  // ---- connected frames ----

  private dispatch(f: StompFrame): void {
    switch (f.command) {
      case 'SEND':
      case 'ACK':
      case 'NACK': {
        const tx = header(f, 'transaction');
        if (tx !== undefined) return this.inTransaction(tx, f);
        return this.execute(f);
      }
      case 'SUBSCRIBE':
        return this.subscribe(f);
      case 'UNSUBSCRIBE':
        return this.unsubscribe(f);
      case 'BEGIN':
        return this.begin(f);
      case 'COMMIT':
        return this.commit(f);
      case 'ABORT':
        return this.abort(f);
      case 'DISCONNECT':
        return this.disconnect(f);
      case 'CONNECT':
      case 'STOMP':
        return this.fatal('Already connected', f, 'protocol_error');
      default:
        return this.fatal(`Unknown command ${f.command}`, f, 'protocol_error');
    }
  }

  /** SEND, ACK or NACK, outside a transaction or at COMMIT. */
  private execute(f: StompFrame): void {
    if (f.command === 'SEND') return this.send(f);
    if (f.command === 'NACK' && this.version === '1.0') return this.fatal('NACK is not a STOMP 1.0 command', f, 'protocol_error');
    return this.ackOrNack(f, f.command === 'ACK');
  }

  private send(f: StompFrame): void {
    const dest = header(f, 'destination');
    if (dest === undefined || dest === '') return this.fatal('Missing destination header', f, 'protocol_error');
    const props: MessageProperties = {};
    const ct = header(f, 'content-type');
    if (ct !== undefined) props.contentType = ct;
    // Headers in wire order; of a repeated header only the first counts (STOMP 1.2 "Repeated Header Entries").
    let user: [string, string][] | null = null;
    const seen = new Set<string>();
    for (const [n, v] of f.headers) {
      if (RESERVED.has(n) || seen.has(n)) continue;
      seen.add(n);
      (user ??= []).push([n, v]);
    }
    if (user !== null) props.userProperties = user;
    // persistent:true (RabbitMQ, ActiveMQ) asks for reliable delivery: QoS 1 on the MQTT side.
    const qos: QoS = header(f, 'persistent') === 'true' ? 1 : 0;
    const session = this.session!;
    const r = session.publish(dest, f.body, { qos, retain: false, props: ct !== undefined || user !== null ? props : null });
    if (!r.ok) {
      if (r.reason === 'not_authorized') return this.fatal(`Insufficient permissions for ${dest}`, f, 'not_authorized');
      return this.fatal(`Publish refused: ${r.reason} (${dest})`, f, r.reason === 'quota_exceeded' ? 'quota_exceeded' : 'protocol_error');
    }
    this.deps.count('messages.received');
    const receipt = header(f, 'receipt');
    if (receipt === undefined) return;
    // Nothing acknowledged is lost: a durable publish is receipted once the store has it.
    if (r.durable) this.ctx.whenDurable(() => this.receipt(receipt));
    else this.receipt(receipt);
  }

  private ackOrNack(f: StompFrame, ack: boolean): void {
    // 1.2: id (the MESSAGE's ack header); 1.1 and 1.0: message-id.
    const id = (this.version === '1.2' ? header(f, 'id') : undefined) ?? header(f, 'message-id') ?? header(f, 'id');
    if (id === undefined) return this.fatal(`Missing ${this.version === '1.2' ? 'id' : 'message-id'} header`, f, 'protocol_error');
    const sub = this.acks.get(id);
    if (sub) {
      const pids: number[] = [];
      const ids: string[] = [];
      if (sub.ack === 'client') {
        // Cumulative: everything delivered on this subscription up to this message.
        for (const [k, pid] of sub.unacked) {
          ids.push(k);
          pids.push(pid);
          if (k === id) break;
        }
      } else {
        ids.push(id);
        pids.push(sub.unacked.get(id)!);
      }
      for (const k of ids) {
        sub.unacked.delete(k);
        this.acks.delete(k);
      }
      const s = this.session!;
      if (ack) {
        for (const pid of pids) s.ack(pid);
        this.deps.count('messages.acked');
      } else {
        // Back to the head of the queue in their original order, then redelivered.
        for (let i = pids.length - 1; i >= 0; i--) s.reject(pids[i]!);
        this.deps.count('messages.nacked');
        s.setInflightWindow(this.cfg.max_unacked);
      }
    }
    const receipt = header(f, 'receipt');
    if (receipt !== undefined) this.receipt(receipt);
  }

  private subscribe(f: StompFrame): void {
    const dest = header(f, 'destination');
    if (dest === undefined || dest === '') return this.fatal('Missing destination header', f, 'protocol_error');
    // 1.0 allows SUBSCRIBE without id: the destination names it.
    const id = header(f, 'id') ?? (this.version === '1.0' ? dest : undefined);
    if (id === undefined) return this.fatal('Missing id header', f, 'protocol_error');
    const ackH = header(f, 'ack') ?? 'auto';
    if (ackH !== 'auto' && ackH !== 'client' && ackH !== 'client-individual') return this.fatal(`Invalid ack mode ${ackH}`, f, 'protocol_error');
    if (this.subs.has(id)) return this.fatal(`Subscription id ${id} is in used`, f, 'protocol_error');
    const key = subscriptionKey(dest);
    if (this.subsByKey.has(key)) return this.fatal(`Topic ${dest} already in subscribed`, f, 'protocol_error');
    const qos: QoS = ackH === 'auto' ? 0 : this.cfg.client_ack_qos;
    const r = this.session!.subscribe(dest, { qos, rh: 1, nl: false, rap: false });
    if (!r.ok) {
      if (r.reason === 'not_authorized') return this.fatal(`Insufficient permissions for ${dest}`, f, 'not_authorized');
      return this.fatal(`Invalid destination ${dest}: ${r.reason}`, f, 'protocol_error');
    }
    const sub: Sub = { id, destination: dest, key, ack: ackH, unacked: new Map() };
    this.subs.set(id, sub);
    this.subsByKey.set(key, sub);
    const receipt = header(f, 'receipt');
    if (receipt !== undefined) this.receipt(receipt);
    // A durable subscriber back on its subscription: what waited for it now flows.
    const waiting = this.parked?.get(key);
    if (waiting) {
      this.parked!.delete(key);
      for (const d of waiting) this.deliver(d);
    }
  }

  private unsubscribe(f: StompFrame): void {
    const dest = this.version === '1.0' ? header(f, 'destination') : undefined;
    const id = header(f, 'id') ?? dest;
    if (id === undefined) return this.fatal('Missing id header', f, 'protocol_error');
    // 1.0 may name the subscription by its destination whatever id it was given.
    const sub = this.subs.get(id) ?? (dest !== undefined && header(f, 'id') === undefined ? [...this.subs.values()].find((x) => x.destination === dest) : undefined);
    if (sub) {
      this.subs.delete(sub.id);
      this.subsByKey.delete(sub.key);
      this.session!.unsubscribe(sub.destination);
      // Messages still awaiting ACK on it are done with: nobody can acknowledge them any more.
      for (const [k, pid] of sub.unacked) {
        this.acks.delete(k);
        this.session!.ack(pid);
      }
      sub.unacked.clear();
    }
    const receipt = header(f, 'receipt');
    if (receipt !== undefined) this.receipt(receipt);
  }

  // ---- transactions ----

  private expireTransactions(): void {
    const limit = this.cfg.transaction_timeout * 1000;
    if (limit <= 0) return;
    const now = this.ctx.clock.now();
    for (const [id, tx] of this.txs) if (now - tx.started >= limit) this.txs.delete(id);
  }

  private begin(f: StompFrame): void {
    const id = header(f, 'transaction');
    if (id === undefined) return this.fatal('Missing transaction header', f, 'protocol_error');
    this.expireTransactions();
    if (this.txs.has(id)) return this.error(`Transaction ${id} already started`, f);
    this.txs.set(id, { started: this.ctx.clock.now(), frames: [] });
    const receipt = header(f, 'receipt');
    if (receipt !== undefined) this.receipt(receipt);
  }

  private inTransaction(id: string, f: StompFrame): void {
    this.expireTransactions();
    const tx = this.txs.get(id);
    if (!tx) return this.error(`Transaction ${id} not found`, f);
    tx.frames.push(f);
  }

  private commit(f: StompFrame): void {
    const id = header(f, 'transaction');
    if (id === undefined) return this.fatal('Missing transaction header', f, 'protocol_error');
    this.expireTransactions();
    const tx = this.txs.get(id);
    if (!tx) return this.error(`Transaction ${id} not found`, f);
    this.txs.delete(id);
    for (const q of tx.frames) {
      if (this.state !== 'connected') return;
      this.execute(q);
    }
    if (this.state !== 'connected') return;
    const receipt = header(f, 'receipt');
    if (receipt !== undefined) this.receipt(receipt);
  }

  private abort(f: StompFrame): void {
    const id = header(f, 'transaction');
    if (id === undefined) return this.fatal('Missing transaction header', f, 'protocol_error');
    this.expireTransactions();
    if (!this.txs.delete(id)) return this.error(`Transaction ${id} not found`, f);
    const receipt = header(f, 'receipt');
    if (receipt !== undefined) this.receipt(receipt);
  }

  private disconnect(f: StompFrame): void {
    const receipt = header(f, 'receipt');
    this.finish('normal', receipt === undefined ? undefined : { command: 'RECEIPT', headers: [['receipt-id', receipt]], body: Buffer.alloc(0), escape: this.version });
  }

  // ---- answers and endings ----

  private receipt(id: string): void {
    if (this.state !== 'connected') return;
    this.link.send({ command: 'RECEIPT', headers: [['receipt-id', id]], body: Buffer.alloc(0), escape: this.version });
  }

  private errorFrame(text: string, cause: StompFrame | null): StompFrame {
    const hs: [string, string][] = [['message', text.length > 200 ? text.slice(0, 200) : text]];
    const receipt = cause ? header(cause, 'receipt') : undefined;
    if (receipt !== undefined) hs.push(['receipt-id', receipt]);
    hs.push(['content-type', 'text/plain']);
    return { command: 'ERROR', headers: hs, body: Buffer.from(text), escape: this.state === 'connected' ? this.version : '1.2' };
  }

  /** An ERROR that leaves the connection open (transactions, spec §6). */
  private error(text: string, cause: StompFrame): void {
    this.log.info({ reason: text }, 'frame_refused');
    this.link.send(this.errorFrame(text, cause));
  }

  /** An ERROR, then the close. */
  private openSession(clientId: string, username: string | null, superuser: boolean, cx: number): GatewaySession {
    return this.ctx.openSession(
      {
        clientId,
        username,
        peerHost: this.link.peer.address,
        peerPort: this.link.peer.port,
        listener: this.link.listener,
        sockPort: this.link.sockPort,
        protoName: 'STOMP',
        protoVer: this.version,
        keepalive: Math.round(cx / 1000),
        superuser,
      },
      { cleanStart: !this.durable, expiryInterval: this.durable ? this.cfg.session_expiry_interval : 0, inflightWindow: this.cfg.max_unacked },
      this,
    );
  }

  private fatal(text: string, cause: StompFrame | null, reason: DisconnectReason): void {
    this.log.info({ clientid: this.clientId, reason: text }, 'connection_refused_frame');
    this.finish(reason, this.errorFrame(text, cause));
  }

  private finish(reason: DisconnectReason, last?: StompFrame): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    if (this.beatTimer) this.ctx.clock.clearTimeout(this.beatTimer);
    if (this.checkTimer) this.ctx.clock.clearTimeout(this.checkTimer);
    if (this.connectTimer) this.ctx.clock.clearTimeout(this.connectTimer);
    this.beatTimer = this.checkTimer = this.connectTimer = null;
    this.txs.clear();
    this.parked = null;
    this.acks.clear();
    this.subs.clear();
    this.subsByKey.clear();
    const s = this.session;
    this.session = null;
    s?.close(reason, { sendWill: false });
    this.link.close(last);
  }
}
