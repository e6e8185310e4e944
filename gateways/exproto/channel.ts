// One device connection of the ExProto gateway (gateways/exproto/SPEC.md §3, §4): the serial queue
// of handler events (one call in flight per connection, in order), the adapter operations the
// handler calls back with (Send, Close, Authenticate, StartTimer, Publish, Subscribe, Unsubscribe),
// keepalive, and the session once authenticated. Adapter calls never wait behind the event queue,
// so a handler that calls back from inside its own OnSocketCreated neither deadlocks nor queues.
import type { Logger } from 'pino';
import type { AuthOutcome, Delivery, DeliverySink, DisconnectReason, GatewayContext, GatewaySession, QoS } from '../gateway.js';
import { code, type ClientInfo, type CodeResponse, type ConnInfo, type ExprotoMessage, type HandlerEvent, type HandlerMethod, type HandlerRequests, type SocketType } from './proto.js';
import { CLOSE_FLUSH_MS, KEEPALIVE_MULTIPLIER, MAX_MERGED_BYTES, MAX_QUEUED_BYTES, MSG } from './params.js';

type TimerHandle = ReturnType<GatewayContext['clock']['setTimeout']>;

/** The device's socket, whatever its kind. */
export interface DeviceSocket {
  readonly socktype: SocketType;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly sockHost: string;
  readonly sockPort: number;
  readonly cert: { cn: string; dn: string } | null;
  /** Over DTLS with a pre-shared key: the identity the handshake proved (it authenticates the device). */
  readonly pskIdentity?: string;
  /** Listener id ('tcp:default'). */
  readonly listener: string;
  /** A byte stream (TCP/SSL): consecutive queued chunks may travel in one OnReceivedBytes. */
  readonly stream: boolean;
  send(bytes: Buffer): void;
  /** Close the socket after what is queued. */
  close(): void;
  /** The handler started a keepalive: idle_timeout no longer applies (TCP: the wait for the first bytes). */
  keepaliveStarted(): void;
}

/** Calls the user's handler; rejects on a gRPC error, an unreachable handler or a passed deadline. */
export interface HandlerCaller {
  call<M extends HandlerMethod>(method: M, req: HandlerRequests[M]): Promise<void>;
}

export type ExprotoCounter =
  | 'handler.calls'
  | 'handler.errors'
  | 'handler.backlog_close'
  | 'auth.failed'
  | 'messages.received'
  | 'messages.delivered'
  | 'keepalive.timeout'
  | 'connections.closed';

export interface ChannelDeps {
  conn: string;
  ctx: GatewayContext;
  socket: DeviceSocket;
  handler: HandlerCaller;
  log: Logger;
  /** Events queued behind the one in flight; more closes the connection. */
  maxQueued: number;
  /** Client id before Authenticate (EMQX: exproto-<random>). */
  placeholderId: string;
  count(name: ExprotoCounter): void;
  /** The connection is over (OnSocketClosed delivered or given up): forget its conn. */
  gone(conn: string): void;
}

export type ChannelState = 'anonymous' | 'authenticating' | 'connected' | 'closing' | 'closed';

const QOS: readonly number[] = [0, 1, 2];

/** EMQX's GUID text for a message id: 32 upper-case hex digits. */
export function messageId(id: number): string {
  return id.toString(16).toUpperCase().padStart(32, '0');
}

/** OnReceivedBytes -> on_received_bytes, as EMQX names the failed call in a close reason. */
function snake(method: HandlerMethod): string {
  return method.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

export class ExprotoChannel implements DeliverySink {
  state: ChannelState = 'anonymous';
  readonly conn: string;
  clientId: string;
  username: string | null = null;
  private session: GatewaySession | null = null;
  private readonly queue: HandlerEvent[] = [];
  private inflight = false;
  /** Device bytes waiting in the queue. */
  private queuedBytes = 0;
  /** Keepalive interval in ms once StartTimer ran, 0 before. */
  keepaliveMs = 0;
  lastInput: number;
  private flushTimer: TimerHandle | null = null;
  private readonly ctx: GatewayContext;
  private readonly socket: DeviceSocket;
  private log: Logger;

  constructor(private readonly d: ChannelDeps) {
    this.conn = d.conn;
    this.ctx = d.ctx;
    this.socket = d.socket;
    this.clientId = d.placeholderId;
    this.log = d.log;
    this.lastInput = d.ctx.clock.now();
  }

  get open(): boolean {
    return this.state !== 'closing' && this.state !== 'closed';
  }

  /** Queued handler events, the one in flight excluded (tests, diagnostics). */
  get queued(): number {
    return this.queue.length;
  }

  connInfo(): ConnInfo {
    const s = this.socket;
    return { socktype: s.socktype, peername: { host: s.peerHost, port: s.peerPort }, sockname: { host: s.sockHost, port: s.sockPort }, peercert: s.cert };
  }

  /** The socket was accepted (or the first datagram came): OnSocketCreated is the first event. */
  start(): void {
    this.enqueue({ method: 'OnSocketCreated', req: { conn: this.conn, conninfo: this.connInfo() } });
  }

  // ---- device side ----

  input(bytes: Buffer): void {
    if (!this.open) return;
    this.lastInput = this.ctx.clock.now();
    this.session?.touch();
    this.queuedBytes += bytes.length;
    if (this.queuedBytes > MAX_QUEUED_BYTES) return this.backlog();
    const tail = this.queue[this.queue.length - 1];
    if (this.socket.stream && tail?.method === 'OnReceivedBytes' && tail.req.bytes.length + bytes.length <= MAX_MERGED_BYTES) {
      // A stream has no message boundaries: chunks that waited together travel together.
      tail.req.bytes = Buffer.concat([tail.req.bytes, bytes]);
      return;
    }
    this.enqueue({ method: 'OnReceivedBytes', req: { conn: this.conn, bytes } });
  }

  /** The socket is gone (peer closed, error, first-bytes deadline). */
  socketClosed(reason: string, dr: DisconnectReason): void {
    this.shutdown(reason, dr, true);
  }

  /** UDP: no datagram for idle_timeout. Goes unless the handler started a keepalive (EMQX). */
  idle(): boolean {
    if (!this.open) return true;
    if (this.keepaliveMs > 0) return false;
    this.shutdown('idle_timeout', 'idle_timeout', true);
    return true;
  }

  /** Keepalive check, run by the gateway's one sweep timer: silence for 1.5 x interval ends the connection. */
  checkKeepalive(now: number): void {
    if (this.keepaliveMs === 0 || !this.open) return;
    if (now - this.lastInput < this.keepaliveMs * KEEPALIVE_MULTIPLIER) return;
    this.d.count('keepalive.timeout');
    this.log.info({ reason: 'keepalive_timeout', interval_ms: this.keepaliveMs }, 'connection_closed');
    this.enqueue({ method: 'OnTimerTimeout', req: { conn: this.conn, type: 'KEEPALIVE' } });
    this.shutdown('keepalive_timeout', 'keepalive_timeout', false);
  }

  // ---- broker side (DeliverySink) ----

  deliver(dv: Delivery): void {
    const s = this.session;
    if (!s) return;
    // No inflight window or retry in ExProto: a QoS 1/2 delivery is handed to the handler once (spec §3).
    if (dv.qos === 1) s.ack(dv.pid);
    else if (dv.qos === 2) {
      s.received(dv.pid);
      s.complete(dv.pid);
    }
    if (!this.open) return;
    const m = dv.message;
    const msg: ExprotoMessage = { node: this.ctx.node, id: messageId(m.id), qos: dv.qos, from: m.from, topic: m.topic, payload: m.payload, timestamp: String(m.ts) };
    this.d.count('messages.delivered');
    const tail = this.queue[this.queue.length - 1];
    if (tail?.method === 'OnReceivedMessages') {
      tail.req.messages.push(msg);
      return;
    }
    this.enqueue({ method: 'OnReceivedMessages', req: { conn: this.conn, messages: [msg] } });
  }

  kick(reason: DisconnectReason): void {
    // The broker already ended the session (kicked, banned, or another connection took the client id).
    this.session = null;
    this.shutdown(reason === 'takenover' ? 'discarded' : reason, reason, false);
  }

  // ---- adapter operations (called by the handler through ConnectionAdapter) ----

  send(bytes: Buffer): CodeResponse {
    if (!this.open) return code('CONN_PROCESS_NOT_ALIVE', MSG.notAlive);
    this.socket.send(bytes);
    return code('SUCCESS');
  }

  close(): CodeResponse {
    if (!this.open) return code('CONN_PROCESS_NOT_ALIVE', MSG.notAlive);
    this.shutdown('normal', 'normal', false);
    return code('SUCCESS');
  }

  async authenticate(ci: ClientInfo | null, password: string): Promise<CodeResponse> {
    if (!this.open) return code('PERMISSION_DENY', MSG.socketGone);
    if (this.state !== 'anonymous') return code('PERMISSION_DENY', MSG.duplicatedAuth);
    if (!ci || ci.proto_name === '' || ci.proto_ver === '' || ci.clientid === '') return code('REQUIRED_PARAMS_MISSED', 'clientinfo needs proto_name, proto_ver and clientid');
    this.state = 'authenticating';
    const s = this.socket;
    // proto3 cannot tell an empty string from an absent one: empty means none, as for MQTT.
    const username = ci.username === '' ? null : ci.username;
    const req = {
      clientId: ci.clientid,
      username,
      password: password === '' ? null : Buffer.from(password),
      peerHost: s.peerHost,
      peerPort: s.peerPort,
      listener: s.listener,
      ...(s.cert ? { cert: { commonName: s.cert.cn, subject: s.cert.dn } } : {}),
      ...(s.pskIdentity !== undefined ? { pskIdentity: s.pskIdentity } : {}),
    };
    let a: AuthOutcome;
    try {
      a = await this.ctx.authenticate(req);
    } catch (err) {
      this.log.error({ err }, 'authenticate_failed');
      a = { ok: false, reason: 'server_unavailable' };
    }
    if (this.state !== 'authenticating') return code('PERMISSION_DENY', MSG.socketGone);
    if (!a.ok) {
      this.state = 'anonymous';
      this.d.count('auth.failed');
      this.log.info({ clientid: ci.clientid, username, reason: a.reason }, 'client_login_failed');
      return code('PERMISSION_DENY', a.reason);
    }
    try {
      this.session = this.ctx.openSession(
        {
          clientId: ci.clientid,
          username: a.username,
          peerHost: s.peerHost,
          peerPort: s.peerPort,
          listener: s.listener,
          sockPort: s.sockPort,
          protoName: ci.proto_name,
          protoVer: ci.proto_ver,
          // EMQX's client events go under gateway/<proto_name>/ (its `protocol` is the proto_name).
          sysName: ci.proto_name,
          superuser: a.superuser,
        },
        // No persistent session in ExProto: subscriptions live as long as the connection (spec §3).
        { cleanStart: true, expiryInterval: 0, inflightWindow: 65535 },
        this,
      );
    } catch (err) {
      this.state = 'anonymous';
      this.log.error({ err, clientid: ci.clientid }, 'open_session_failed');
      return code('UNKNOWN', (err as Error).message);
    }
    this.state = 'connected';
    this.clientId = ci.clientid;
    this.username = a.username;
    this.log = this.log.child({ clientid: ci.clientid });
    this.log.info({ username: a.username, proto_name: ci.proto_name }, 'client_connected');
    return code('SUCCESS');
  }

  startTimer(type: string | number, interval: number): CodeResponse {
    if (!this.open) return code('CONN_PROCESS_NOT_ALIVE', MSG.notAlive);
    if (type !== 'KEEPALIVE' || !(interval > 0)) return code('PARAMS_TYPE_ERROR', 'type must be KEEPALIVE and interval > 0');
    this.keepaliveMs = interval * 1000;
    this.lastInput = this.ctx.clock.now();
    // EMQX: StartTimer cancels the idle timer, so a protocol where the server speaks first may stay silent.
    this.socket.keepaliveStarted();
    return code('SUCCESS');
  }

  async publish(topic: string, qos: number, payload: Buffer): Promise<CodeResponse> {
    const s = this.connectedSession();
    if (!s) return this.open ? code('UNKNOWN', MSG.unexpectedCall) : code('CONN_PROCESS_NOT_ALIVE', MSG.notAlive);
    if (!QOS.includes(qos)) return code('PARAMS_TYPE_ERROR', 'qos must be 0, 1 or 2');
    const r = s.publish(topic, payload, { qos: qos as QoS, retain: false });
    if (!r.ok) {
      if (r.reason === 'not_authorized') return code('PERMISSION_DENY', MSG.authzDeny);
      return code(r.reason === 'topic_invalid' ? 'PARAMS_TYPE_ERROR' : 'UNKNOWN', r.reason);
    }
    this.d.count('messages.received');
    // The reply is the device's acknowledgement: for QoS 1/2 only once the message is durable.
    if (r.durable && qos > 0) await new Promise<void>((resolve) => this.ctx.whenDurable(resolve));
    return code('SUCCESS');
  }

  subscribe(topic: string, qos: number): CodeResponse {
    const s = this.connectedSession();
    if (!s) return this.open ? code('UNKNOWN', MSG.unexpectedCall) : code('CONN_PROCESS_NOT_ALIVE', MSG.notAlive);
    if (!QOS.includes(qos)) return code('PARAMS_TYPE_ERROR', 'qos must be 0, 1 or 2');
    const r = s.subscribe(topic, { qos: qos as QoS, rh: 1, rap: false, nl: false });
    if (!r.ok) return r.reason === 'not_authorized' ? code('PERMISSION_DENY', MSG.authzDeny) : code('PARAMS_TYPE_ERROR', r.reason);
    return code('SUCCESS');
  }

  unsubscribe(topic: string): CodeResponse {
    const s = this.connectedSession();
    if (!s) return this.open ? code('UNKNOWN', MSG.unexpectedCall) : code('CONN_PROCESS_NOT_ALIVE', MSG.notAlive);
    s.unsubscribe(topic);
    return code('SUCCESS');
  }

  /** The listener stops (shutdown, reload). */
  transportClosed(): void {
    this.shutdown('shutdown', 'server_shutdown', false);
  }

  private connectedSession(): GatewaySession | null {
    return this.state === 'connected' ? this.session : null;
  }

  // ---- the event queue ----

  private enqueue(ev: HandlerEvent): void {
    if (this.state === 'closed') return;
    if (this.queue.length >= this.d.maxQueued && ev.method !== 'OnSocketClosed') return this.backlog();
    this.queue.push(ev);
    this.pump();
  }

  /** The handler does not keep up with this device: drop what waits and close (bounded memory per device). */
  private backlog(): void {
    this.d.count('handler.backlog_close');
    this.log.warn({ reason: 'handler_backlog', queued: this.queue.length, bytes: this.queuedBytes }, 'connection_closed');
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.shutdown('handler_backlog', 'internal_error', false);
  }

  private pump(): void {
    if (this.inflight || this.queue.length === 0 || this.state === 'closed') return;
    const ev = this.queue.shift()!;
    if (ev.method === 'OnReceivedBytes') this.queuedBytes -= ev.req.bytes.length;
    this.inflight = true;
    this.d.count('handler.calls');
    this.d.handler.call(ev.method, ev.req).then(
      () => {
        this.inflight = false;
        if (ev.method === 'OnSocketClosed') this.finish();
        else this.pump();
      },
      (err: unknown) => {
        this.inflight = false;
        this.callFailed(ev.method, err);
      },
    );
  }

  private callFailed(method: HandlerMethod, err: unknown): void {
    this.d.count('handler.errors');
    const detail = err instanceof Error ? err.message : String(err);
    if (method === 'OnSocketClosed') {
      this.log.info({ method, reason: detail }, 'handler_call_failed');
      this.finish();
      return;
    }
    // EMQX closes the device connection when a handler call fails; only OnSocketClosed is still tried.
    const reason = `{error,{${snake(method)},${JSON.stringify(detail)}}}`;
    this.log.warn({ method, reason: detail }, 'handler_call_failed');
    const closing = this.queue.filter((e) => e.method === 'OnSocketClosed');
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.queue.push(...closing);
    if (this.open) this.shutdown(reason, 'internal_error', false);
    else this.pump();
  }

  /**
   * End the connection: socket, keepalive and session now; OnSocketClosed after the events already
   * queued, which get at most CLOSE_FLUSH_MS to drain (EMQX keeps the process 15 s for them).
   */
  private shutdown(reason: string, dr: DisconnectReason, socketGone: boolean): void {
    if (!this.open) return;
    this.state = 'closing';
    this.keepaliveMs = 0;
    this.d.count('connections.closed');
    if (!socketGone) this.socket.close();
    const s = this.session;
    this.session = null;
    s?.close(dr);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ reason }, 'connection_closing');
    this.queue.push({ method: 'OnSocketClosed', req: { conn: this.conn, reason } });
    this.flushTimer = this.ctx.clock.setTimeout(() => this.flushExpired(reason), CLOSE_FLUSH_MS);
    this.pump();
  }

  private flushExpired(reason: string): void {
    this.flushTimer = null;
    if (this.state === 'closed') return;
    this.log.warn({ reason: 'close_flush_timeout', dropped: this.queue.length }, 'handler_events_dropped');
    this.queue.length = 0;
    const conn = this.conn;
    this.finish();
    // Last word to the handler, without waiting for the call still in flight.
    this.d.handler.call('OnSocketClosed', { conn, reason }).catch(() => {});
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.flushTimer) this.ctx.clock.clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.d.gone(this.conn);
  }
}
