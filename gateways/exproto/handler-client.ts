// The gateway's client of the user's ConnectionUnaryHandler: one HTTP/2 channel (calls multiplex),
// a deadline on every call, TLS when configured, and reconnection with exponential backoff and
// jitter (grpc-js's own: ±20 % jitter, x1.6 per attempt, between the configured bounds). Automatic
// retries are off, as in EMQX: a failed call closes that device connection instead.
import { readFileSync } from 'node:fs';
import { ChannelCredentials, connectivityState, credentials, status, type Client, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { HandlerCaller } from './channel.js';
import type { ExprotoConfig } from './config.js';
import { exprotoServices, type HandlerMethod, type HandlerRequests } from './proto.js';

type HandlerConfig = ExprotoConfig['handler'];

export interface ParsedAddress {
  target: string;
  tls: boolean;
}

/** "http://127.0.0.1:9001" -> target "127.0.0.1:9001"; https:// (or ssl_options.enable) means TLS. */
export function parseHandlerAddress(address: string, sslEnable: boolean): ParsedAddress {
  const m = /^(?:(https?):\/\/)?([^/]+)\/?$/.exec(address.trim());
  if (!m) throw new Error(`gateway.exproto.handler.address: not a URL: ${address}`);
  return { target: m[2]!, tls: m[1] === 'https' || sslEnable };
}

function readOpt(path: string | undefined, key: string): Buffer | null {
  if (path === undefined || path === '') return null;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`gateway.exproto.handler.ssl_options.${key}: cannot read ${path}: ${(err as Error).message}`);
  }
}

export function handlerCredentials(cfg: HandlerConfig, tls: boolean): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  const o = cfg.ssl_options;
  const ca = readOpt(o.cacertfile, 'cacertfile');
  const key = readOpt(o.keyfile, 'keyfile');
  const cert = readOpt(o.certfile, 'certfile');
  if ((key === null) !== (cert === null)) throw new Error('gateway.exproto.handler.ssl_options: certfile and keyfile go together');
  const verify = o.verify === 'verify_peer';
  return credentials.createSsl(ca, key, cert, verify ? {} : { rejectUnauthorized: false, checkServerIdentity: () => undefined });
}

type Stream = ClientWritableStream<unknown>;

export class HandlerClient implements HandlerCaller {
  private readonly client: Client;
  private readonly timeoutMs: number;
  private readonly streaming: boolean;
  /** ConnectionHandler: the open client stream of each rpc, with its writes not yet confirmed. */
  private readonly streams = new Map<HandlerMethod, { s: Stream; pending: Set<(err: Error | null) => void> }>();
  private closed = false;
  private lastState: connectivityState | null = null;
  /** Global limit: calls in flight, and those waiting for a slot (FIFO). */
  private inflight = 0;
  private readonly maxInflight: number;
  private readonly waiting: { start: () => void; fail: (e: Error) => void }[] = [];

  constructor(
    cfg: HandlerConfig,
    private readonly log: Logger,
  ) {
    const addr = parseHandlerAddress(cfg.address, cfg.ssl_options.enable);
    this.streaming = cfg.service_name === 'ConnectionHandler';
    const Ctor = this.streaming ? exprotoServices().streamHandler : exprotoServices().unaryHandler;
    const sni = cfg.ssl_options.server_name_indication;
    this.client = new Ctor(addr.target, handlerCredentials(cfg, addr.tls), {
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': Math.round(cfg.reconnect.initial_backoff * 1000),
      'grpc.min_reconnect_backoff_ms': Math.round(cfg.reconnect.initial_backoff * 1000),
      'grpc.max_reconnect_backoff_ms': Math.round(cfg.reconnect.max_backoff * 1000),
      // A handler that restarts on the same address is found again without waiting for a device call.
      'grpc.keepalive_time_ms': 30_000,
      ...(sni ? { 'grpc.ssl_target_name_override': sni, 'grpc.default_authority': sni } : {}),
    });
    this.timeoutMs = cfg.request_timeout * 1000;
    this.maxInflight = cfg.max_concurrent_calls;
    this.log.info({ target: addr.target, tls: addr.tls, service: cfg.service_name }, 'exproto_handler_client_created');
    // Connect now, so a handler that is down shows in the log at start rather than at the first device.
    this.watch(this.client.getChannel().getConnectivityState(true));
  }

  /** Log each change of the channel's state; keep a failed channel reconnecting (with its backoff). */
  private watch(state: connectivityState): void {
    if (this.closed) return;
    if (state !== this.lastState) {
      if (state === connectivityState.READY) this.log.info({ state: connectivityState[state] }, 'exproto_handler_connected');
      else if (state === connectivityState.TRANSIENT_FAILURE) this.log.warn({ state: connectivityState[state], reason: 'handler_unreachable' }, 'exproto_handler_unavailable');
      else if (this.log.isLevelEnabled('debug')) this.log.debug({ state: connectivityState[state] }, 'exproto_handler_state');
      this.lastState = state;
    }
    const ch = this.client.getChannel();
    // Far deadline: the watch is re-armed on every change; the timer only bounds an idle wait.
    ch.watchConnectivityState(state, Date.now() + 3_600_000, () => {
      if (this.closed) return;
      const next = ch.getConnectivityState(false);
      // IDLE after a failure's backoff: ask for a connection again, so the handler's return is seen.
      this.watch(next === connectivityState.IDLE && this.lastState === connectivityState.TRANSIENT_FAILURE ? ch.getConnectivityState(true) : next);
    });
  }

  get state(): string {
    return connectivityState[this.client.getChannel().getConnectivityState(false)];
  }

  call<M extends HandlerMethod>(method: M, req: HandlerRequests[M]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('handler client closed'));
    if (this.inflight < this.maxInflight) return this.run(method, req);
    // Over the limit: wait for a slot, but no longer than a call may take.
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: () => {
          clearTimeout(timer);
          this.run(method, req).then(resolve, reject);
        },
        fail: reject,
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error(`DEADLINE_EXCEEDED: no free slot among ${this.maxInflight} concurrent handler calls`));
      }, this.timeoutMs);
      this.waiting.push(entry);
    });
  }

  private run(method: HandlerMethod, req: unknown): Promise<void> {
    this.inflight++;
    const p = this.streaming ? this.write(method, req) : this.unary(method, req);
    return p.finally(() => {
      this.inflight--;
      this.waiting.shift()?.start();
    });
  }

  private unary(method: HandlerMethod, req: unknown): Promise<void> {
    const fn = (this.client as unknown as Record<string, (req: unknown, opts: { deadline: number }, cb: (err: ServiceError | null) => void) => void>)[method]!;
    return new Promise<void>((resolve, reject) => {
      fn.call(this.client, req, { deadline: Date.now() + this.timeoutMs }, (err) => {
        if (err) reject(new Error(`${status[err.code] ?? 'UNKNOWN'}: ${err.details || err.message}`));
        else resolve();
      });
    });
  }

  /**
   * ConnectionHandler: write the event to the rpc's long-lived stream (opened on first use, reopened
   * after it failed). Done once grpc-js has sent it; a failed stream fails its unconfirmed writes, and
   * a write not confirmed within request_timeout fails on its own.
   */
  private write(method: HandlerMethod, req: unknown): Promise<void> {
    let st = this.streams.get(method);
    if (!st) {
      const pending = new Set<(err: Error | null) => void>();
      const fn = (this.client as unknown as Record<string, (cb: (err: ServiceError | null) => void) => Stream>)[method]!;
      const s = fn.call(this.client, (err) => {
        if (this.streams.get(method)?.s === s) this.streams.delete(method);
        const e = new Error(err ? `${status[err.code] ?? 'UNKNOWN'}: ${err.details || err.message}` : 'stream ended by the handler');
        if (err && !this.closed) this.log.warn({ method, reason: e.message }, 'exproto_handler_stream_failed');
        for (const p of [...pending]) p(e);
      });
      s.on('error', () => {});
      st = { s, pending };
      this.streams.set(method, st);
    }
    const { s, pending } = st;
    return new Promise<void>((resolve, reject) => {
      const done = (err: Error | null): void => {
        if (!pending.delete(done)) return;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error('DEADLINE_EXCEEDED: stream write not sent in time')), this.timeoutMs);
      pending.add(done);
      s.write(req, (err?: Error | null) => done(err ?? null));
    });
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.fail(new Error('handler client closed'));
    for (const { s } of this.streams.values()) s.end();
    this.streams.clear();
    this.client.close();
  }
}
