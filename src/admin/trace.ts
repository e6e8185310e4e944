// Time-boxed traces to files, per client id, topic filter or peer address (EMQX `trace start
// client|topic|ip_address`, /api/v5/trace). While no trace runs nothing is hooked into the publish
// path; while one runs, an interceptor and the connect/disconnect events feed it, and the runtime
// may call record() from anywhere else it wants traced (channels, gateways).
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerApi, ClientSummary, PublishInterceptor } from '../broker/api.js';
import type { Message } from '../core/message.js';
import { clearLongTimeout, longTimeout, type DisconnectReason, type TimerHandle } from '../core/types.js';
import { topicMatches } from './topic-match.js';

export const TRACE_TYPES = ['clientid', 'topic', 'ip_address'] as const;
export type TraceType = (typeof TRACE_TYPES)[number];

export interface TraceSpec {
  /** [A-Za-z0-9_-]{1,64}: also the log file name. */
  name: string;
  type: TraceType;
  /** The client id, topic filter or IP address. */
  filter: string;
  /** ms since epoch; default now. */
  startAt?: number;
  /** ms since epoch; default startAt + 10 minutes (EMQX's default duration). */
  endAt?: number;
}

export interface TraceInfo {
  name: string;
  type: TraceType;
  filter: string;
  startAt: number;
  endAt: number;
  status: 'waiting' | 'running' | 'stopped';
  logSize: number;
}

export type TraceErrorCode = 'OUTPOST_ERR_TRACE_EXISTS' | 'OUTPOST_ERR_TRACE_INVALID';
export class TraceError extends Error {
  constructor(
    readonly code: TraceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Where an event happened, for matching against traces. */
export interface TraceContext {
  clientId?: string | null;
  topic?: string | null;
  peerHost?: string | null;
}

interface Trace {
  info: Omit<TraceInfo, 'status' | 'logSize'>;
  stopped: boolean;
  out: WriteStream | null;
  timer: TimerHandle | null;
  written: number;
  dropped: number;
  /** Set when the file stream is ending; resolves once it is flushed. */
  ended: Promise<void> | null;
}

/** A trace stops itself at this size: a '#' trace on a busy box must not fill the SD card. */
export const MAX_TRACE_BYTES = 16 * 1024 * 1024;
/** Lines are dropped (and counted) while this much is waiting for the disk, bounding memory. */
const MAX_PENDING_BYTES = 1024 * 1024;

const DEFAULT_DURATION_MS = 10 * 60_000;
const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface TraceServiceOptions {
  dir: string;
  log: Logger;
  now?: () => number;
}

export class TraceService {
  private readonly traces = new Map<string, Trace>();
  private readonly dir: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private broker: BrokerApi | null = null;
  private intercepting = false;
  private readonly interceptor: PublishInterceptor = {
    onPublish: (msg: Message) => {
      this.onPublish(msg);
      return false;
    },
  };
  /** Files of finished traces still being flushed; close() waits for them. */
  private readonly ending = new Set<Promise<void>>();
  /** Running traces; checked first by every hook so an idle service costs one comparison. */
  private running: Trace[] = [];

  constructor(opts: TraceServiceOptions) {
    this.dir = opts.dir;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  /** Follow the broker's client events and (while traces run) its publishes. */
  attach(broker: BrokerApi): void {
    this.broker = broker;
    broker.addEventListener({
      onClientConnected: (c) => this.onClient(c, 'client_connected', {}),
      onClientDisconnected: (c, reason: DisconnectReason) => this.onClient(c, 'client_disconnected', { reason }),
    });
    this.refresh();
  }

  get active(): boolean {
    return this.running.length > 0;
  }

  start(spec: TraceSpec): TraceInfo {
    if (!NAME_RE.test(spec.name)) throw new TraceError('OUTPOST_ERR_TRACE_INVALID', 'name must be 1-64 characters of A-Z a-z 0-9 _ -');
    if (!(TRACE_TYPES as readonly string[]).includes(spec.type)) throw new TraceError('OUTPOST_ERR_TRACE_INVALID', `type must be one of ${TRACE_TYPES.join(', ')}`);
    if (spec.filter === '') throw new TraceError('OUTPOST_ERR_TRACE_INVALID', `${spec.type} must not be empty`);
    if (this.traces.has(spec.name)) throw new TraceError('OUTPOST_ERR_TRACE_EXISTS', `trace ${spec.name} already exists`);
    const now = this.now();
    const startAt = spec.startAt ?? now;
    const endAt = spec.endAt ?? startAt + DEFAULT_DURATION_MS;
    if (endAt <= startAt || endAt <= now) throw new TraceError('OUTPOST_ERR_TRACE_INVALID', 'end_at must be after start_at and in the future');
    mkdirSync(this.dir, { recursive: true });
    const t: Trace = { info: { name: spec.name, type: spec.type, filter: spec.filter, startAt, endAt }, stopped: false, out: null, timer: null, written: 0, dropped: 0, ended: null };
    t.out = createWriteStream(this.file(spec.name), { flags: 'a', mode: 0o640 });
    t.out.on('error', (err) => this.log.warn({ trace: spec.name, err: err.message }, 'trace_write_failed'));
    this.traces.set(spec.name, t);
    this.schedule(t);
    this.log.info({ trace: spec.name, type: spec.type, filter: spec.filter, startAt, endAt }, 'trace_started');
    return this.describe(t);
  }

  stop(name: string): boolean {
    const t = this.traces.get(name);
    if (!t) return false;
    this.finish(t);
    return true;
  }

  delete(name: string): boolean {
    const t = this.traces.get(name);
    if (!t) return false;
    this.finish(t);
    this.traces.delete(name);
    rmSync(this.file(name), { force: true });
    return true;
  }

  get(name: string): TraceInfo | null {
    const t = this.traces.get(name);
    return t ? this.describe(t) : null;
  }

  list(): TraceInfo[] {
    return [...this.traces.values()].map((t) => this.describe(t));
  }

  /** The log written so far, including everything a just-stopped trace is still flushing (null when unknown). */
  async readLog(name: string): Promise<Buffer | null> {
    const t = this.traces.get(name);
    if (!t) return null;
    if (t.ended) await t.ended;
    try {
      return readFileSync(this.file(name));
    } catch {
      return Buffer.alloc(0);
    }
  }

  /** Size and last write (ms) of a trace's file; null for an unknown trace, size 0 before its first line. */
  fileDetail(name: string): { size: number; mtimeMs: number } | null {
    if (!this.traces.has(name)) return null;
    try {
      const st = statSync(this.file(name));
      return { size: st.size, mtimeMs: st.mtimeMs };
    } catch {
      return { size: 0, mtimeMs: 0 };
    }
  }

  /** Write one event to every running trace that matches `ctx`. Cheap when nothing is traced. */
  record(ctx: TraceContext, event: string, fields: Record<string, unknown> = {}): void {
    if (this.running.length === 0) return;
    let line: string | null = null;
    for (const t of this.running) {
      if (!this.matches(t, ctx)) continue;
      line ??= this.format(ctx, event, fields);
      this.write(t, line);
    }
  }

  /** Flush and close every trace file; returns once written. */
  async close(): Promise<void> {
    const outs: WriteStream[] = [];
    for (const t of this.traces.values()) {
      if (t.timer) clearLongTimeout(t.timer);
      t.timer = null;
      t.stopped = true;
      if (t.out) outs.push(t.out);
      t.out = null;
    }
    this.refresh();
    await Promise.all([...outs.map((o) => new Promise<void>((r) => o.end(r))), ...this.ending]);
  }

  private write(t: Trace, line: string): void {
    const out = t.out;
    if (!out) return;
    if (out.writableLength > MAX_PENDING_BYTES) {
      t.dropped++;
      return;
    }
    const n = Buffer.byteLength(line);
    if (t.written + n > MAX_TRACE_BYTES) {
      out.write(`${new Date(this.now()).toISOString()} msg: trace_stopped, reason: max_size_reached, max_bytes: ${MAX_TRACE_BYTES}\n`);
      this.log.warn({ trace: t.info.name, maxBytes: MAX_TRACE_BYTES }, 'trace_stopped_at_max_size');
      this.finish(t);
      return;
    }
    t.written += n;
    out.write(line);
  }

  private file(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  private describe(t: Trace): TraceInfo {
    let logSize = 0;
    try {
      logSize = statSync(this.file(t.info.name)).size;
    } catch {
      // not written yet
    }
    const status = t.stopped ? 'stopped' : this.now() < t.info.startAt ? 'waiting' : 'running';
    return { ...t.info, status, logSize };
  }

  private schedule(t: Trace): void {
    const now = this.now();
    if (t.timer) clearLongTimeout(t.timer);
    // longTimeout (unref'd): a trace may be set to start or end months ahead, past one Node timer's reach.
    if (now < t.info.startAt) {
      t.timer = longTimeout(() => this.schedule(t), t.info.startAt - now);
    } else {
      t.timer = longTimeout(() => this.finish(t), t.info.endAt - now);
    }
    this.refresh();
  }

  private finish(t: Trace): void {
    if (t.timer) clearLongTimeout(t.timer);
    t.timer = null;
    if (!t.stopped) {
      t.stopped = true;
      if (t.dropped > 0) {
        t.out?.write(`${new Date(this.now()).toISOString()} msg: trace_lines_dropped, count: ${t.dropped}, reason: disk_too_slow\n`);
        this.log.warn({ trace: t.info.name, dropped: t.dropped }, 'trace_lines_dropped');
      }
      const out = t.out;
      if (out) {
        const ended = new Promise<void>((r) => out.end(r));
        t.ended = ended;
        this.ending.add(ended);
        void ended.then(() => this.ending.delete(ended));
      }
      t.out = null;
      this.log.info({ trace: t.info.name }, 'trace_stopped');
    }
    this.refresh();
  }

  private refresh(): void {
    const now = this.now();
    this.running = [...this.traces.values()].filter((t) => !t.stopped && now >= t.info.startAt);
    const want = this.running.length > 0 && this.broker !== null;
    if (want && !this.intercepting) this.broker!.addInterceptor(this.interceptor);
    if (!want && this.intercepting && this.broker) this.broker.removeInterceptor(this.interceptor);
    this.intercepting = want;
  }

  private matches(t: Trace, ctx: TraceContext): boolean {
    switch (t.info.type) {
      case 'clientid':
        return ctx.clientId === t.info.filter;
      case 'topic':
        return typeof ctx.topic === 'string' && topicMatches(t.info.filter, ctx.topic);
      case 'ip_address':
        return ctx.peerHost === t.info.filter;
    }
  }

  private format(ctx: TraceContext, event: string, fields: Record<string, unknown>): string {
    const who = ctx.clientId ? `${ctx.clientId}${ctx.peerHost ? '@' + ctx.peerHost : ''} ` : '';
    const topic = ctx.topic ? `topic: ${ctx.topic}, ` : '';
    const rest = Object.entries(fields)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(', ');
    return `${new Date(this.now()).toISOString()} ${who}msg: ${event}${topic || rest ? ', ' : ''}${topic}${rest}`.replace(/, $/, '') + '\n';
  }

  private onClient(c: ClientSummary, event: string, fields: Record<string, unknown>): void {
    if (this.running.length === 0) return;
    this.record({ clientId: c.clientId, peerHost: c.peerHost }, event, { ...fields, username: c.username, protocol: c.protocol, listener: c.listener });
  }

  private onPublish(msg: Message): void {
    if (this.running.length === 0) return;
    const needPeer = this.running.some((t) => t.info.type === 'ip_address');
    const peerHost = needPeer && msg.from && this.broker ? (this.broker.client(msg.from)?.peerHost ?? null) : null;
    this.record({ clientId: msg.from || null, topic: msg.topic, peerHost }, 'publish', {
      qos: msg.qos,
      retain: msg.retain,
      payload_size: msg.payload.length,
      // A trace exists to debug a device, so it shows the payload (capped), unlike info-level logs.
      payload: msg.payload.subarray(0, 256).toString('utf8'),
    });
  }
}
