// The connection core shared by the stream drivers (tcp.ts for TCP and TLS, ws.ts for WebSocket):
// the stream decode loop with a per-connection cap, one write per connection per tick, read
// pausing under backpressure, and one coarse sweep timer per listener for idle channels,
// first-frame deadlines and peers that do not drain (style anchors §4: no timer per socket).
// A driver adapts its socket to a StreamPipe and feeds the events into StreamConn.
import type { Clock } from '../gateway.js';
import { peerKey } from './mux.js';
import type { Peer } from './types.js';
import type { PeerCert, StreamChannel, StreamCloseReason, StreamKind, StreamLink, StreamOptions } from './stream-types.js';

type TimerHandle = ReturnType<Clock['setTimeout']>;

const EMPTY = Buffer.alloc(0);
/** Bytes of a bad frame logged at debug level: enough to see the header, not a whole flood. */
const HEX_LOG_BYTES = 64;

/** The socket side of one connection, as the core drives it. */
export interface StreamPipe {
  /** Write one tick's buffers as one socket write; `done` runs once they reached the kernel. */
  write(bufs: Buffer[], done: (err?: Error | null) => void): void;
  /** Outbound bytes queued in user space, not yet handed to the kernel. */
  readonly buffered: number;
  pauseReading(): void;
  resumeReading(): void;
  /** End the write side after what is queued (FIN, or a WebSocket close frame). */
  end(): void;
  /** Drop the connection now. */
  destroy(): void;
}

/** What the driver knows about a connection when it is accepted. */
export interface AcceptInfo {
  kind: StreamKind;
  sockPort: number;
  cert: PeerCert | null;
  subprotocol: string | null;
}

type ConnState = 'open' | 'closing' | 'closed';

export class StreamConn<F, C extends StreamChannel<F>> implements StreamLink<F> {
  readonly key: string;
  readonly sub = null;
  readonly listener: string;
  readonly kind: StreamKind;
  readonly sockPort: number;
  readonly cert: PeerCert | null;
  readonly subprotocol: string | null;
  state: ConnState = 'open';
  channel: C | null = null;
  /** Bytes received that do not make a complete frame yet. */
  private inBuf: Buffer = EMPTY;
  openedAt: number;
  lastInput: number;
  /** A complete frame has arrived (ends the first-frame deadline). */
  framed = false;
  private out: Buffer[] = [];
  dirty = false;
  private ended = false;
  /** Reading is paused because the peer does not take our writes; 0 when not. */
  pausedSince = 0;
  closingSince = 0;
  /** Written once per connection: no closure per write (style anchors §7). */
  private readonly written: (err?: Error | null) => void;

  constructor(
    readonly peer: Peer,
    readonly pipe: StreamPipe,
    info: AcceptInfo,
    private readonly hub: StreamHub<F, C>,
    openedAt: number,
  ) {
    this.key = peerKey(peer);
    this.listener = hub.opts.listener;
    this.kind = info.kind;
    this.sockPort = info.sockPort;
    this.cert = info.cert;
    this.subprotocol = info.subprotocol;
    this.openedAt = openedAt;
    this.lastInput = hub.opts.clock.now();
    this.written = (err) => this.onWritten(err);
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  send(frame: F): void {
    if (this.state !== 'open') return;
    this.enqueue(frame);
  }

  waiveFirstFrame(): void {
    this.framed = true;
  }

  close(final?: F): void {
    if (this.state !== 'open') return;
    if (final !== undefined) this.enqueue(final);
    this.shut('closed_by_channel', true, false);
  }

  private enqueue(frame: F): void {
    const o = this.hub.opts;
    this.out.push(o.codec.encode(frame));
    o.count?.('transport.frames_out');
    if (o.log.isLevelEnabled('debug')) o.log.debug({ peer: this.key, frame: o.codec.format(frame) }, 'frame_out');
    this.hub.markDirty(this);
  }

  /** Bytes from the peer: decode every complete frame, keep the rest up to maxBufferedBytes. */
  input(chunk: Buffer): void {
    if (this.state !== 'open') return;
    const o = this.hub.opts;
    this.lastInput = o.clock.now();
    let buf = this.inBuf.length === 0 ? chunk : Buffer.concat([this.inBuf, chunk]);
    while (buf.length > 0) {
      const r = o.codec.decodeStream(buf);
      if (r.kind === 'more') break;
      if (r.kind === 'error' || r.rest.length >= buf.length) {
        // A stream has no resync point: after a bad frame the rest of the bytes mean nothing.
        const code = r.kind === 'error' ? r.code : 'codec_no_progress';
        const detail = r.kind === 'error' ? r.detail : 'decoder returned a frame without consuming bytes';
        this.inBuf = EMPTY;
        this.frameError(code, detail, buf, 'frame_error');
        return;
      }
      buf = r.rest;
      this.framed = true;
      o.count?.('transport.frames_in');
      if (o.log.isLevelEnabled('debug')) o.log.debug({ peer: this.key, frame: o.codec.format(r.frame) }, 'frame_in');
      this.channel?.handleFrame(r.frame);
      if (this.state !== 'open') return;
    }
    this.inBuf = buf.length === 0 ? EMPTY : buf;
    if (buf.length > o.maxBufferedBytes) {
      this.inBuf = EMPTY;
      o.count?.('transport.frame_too_large');
      this.frameError('frame_too_large', `${buf.length} bytes without a complete frame (max ${o.maxBufferedBytes})`, buf, 'frame_too_large');
    }
  }

  /** The driver refused a message before decoding (a WebSocket message over its size limit). */
  messageTooLarge(detail: string): void {
    if (this.state !== 'open') return;
    this.inBuf = EMPTY;
    this.hub.opts.count?.('transport.frame_too_large');
    this.frameError('frame_too_large', detail, EMPTY, 'frame_too_large');
  }

  private frameError(code: string, detail: string, raw: Buffer, reason: StreamCloseReason): void {
    const o = this.hub.opts;
    o.count?.('transport.frame_error');
    if (o.log.isLevelEnabled('debug')) o.log.debug({ peer: this.key, code, detail, hex: raw.subarray(0, HEX_LOG_BYTES).toString('hex') }, 'frame_decode_failed');
    // The channel may answer (STOMP ERROR) and close itself; otherwise the driver closes.
    this.channel?.handleFrameError(code, detail);
    if (this.state === 'open') this.shut(reason, true, true);
  }

  /** The peer half-closed (FIN): answer what it sent, then end our side too. */
  peerEnded(): void {
    if (this.state !== 'open') return;
    if (this.inBuf.length > 0 && this.hub.opts.log.isLevelEnabled('debug')) {
      this.hub.opts.log.debug({ peer: this.key, bytes: this.inBuf.length }, 'partial_frame_at_end');
    }
    this.inBuf = EMPTY;
    this.shut('peer_closed', true, true);
  }

  /** The socket is gone (closed by either side, or an error). */
  lost(reason: 'peer_closed' | 'socket_error'): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.hub.forget(this);
    if (wasOpen) {
      this.hub.logClose(this, reason);
      this.channel?.handleClosed(reason);
    }
  }

  /**
   * End the connection. `graceful`: flush what is queued, then end the write side (the sweep
   * destroys it when the peer does not take it within drainTimeoutMs). `notify`: the channel did
   * not ask for this, so it hears handleClosed.
   */
  shut(reason: StreamCloseReason, graceful: boolean, notify: boolean): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    if (wasOpen) this.hub.logClose(this, reason);
    if (graceful && wasOpen) {
      this.state = 'closing';
      this.closingSince = this.hub.opts.clock.now();
      this.hub.markDirty(this);
    } else {
      this.state = 'closed';
      this.out = [];
      this.hub.forget(this);
      this.pipe.destroy();
    }
    if (notify && wasOpen) this.channel?.handleClosed(reason);
  }

  /** Write everything queued this tick as one write; pause reading when the peer falls behind. */
  flush(): void {
    this.dirty = false;
    if (this.state === 'closed') return;
    const o = this.hub.opts;
    if (this.out.length > 0) {
      const bufs = this.out;
      this.out = [];
      this.pipe.write(bufs, this.written);
      o.count?.('transport.stream_write');
      const queued = this.pipe.buffered;
      if (o.maxWriteBuffer && o.maxWriteBuffer > 0 && queued > o.maxWriteBuffer) {
        o.count?.('transport.write_drop');
        this.shut('write_buffer_full', false, true);
        return;
      }
      if (queued > o.writeHighWater && this.pausedSince === 0) {
        this.pausedSince = o.clock.now();
        this.pipe.pauseReading();
        o.count?.('transport.backpressure_pause');
        if (o.log.isLevelEnabled('debug')) o.log.debug({ peer: this.key, queued }, 'backpressure_pause');
      }
    }
    if (this.state === 'closing' && !this.ended) {
      this.ended = true;
      this.pipe.end();
    }
  }

  /** A write reached the kernel (or the socket's 'drain'): resume reading once the queue is low. */
  onWritten(err?: Error | null): void {
    if (err) {
      this.hub.opts.count?.('transport.write_error');
      return;
    }
    if (this.pausedSince === 0 || this.state === 'closed') return;
    if (this.pipe.buffered > this.hub.opts.writeHighWater / 2) return;
    this.pausedSince = 0;
    this.pipe.resumeReading();
  }
}

interface Handshake {
  since: number;
  abort: () => void;
}

/** One listener's connections: caps, the tick flush and the sweep. */
export class StreamHub<F, C extends StreamChannel<F>> {
  private readonly conns = new Set<StreamConn<F, C>>();
  private readonly handshakes = new Map<string, Handshake>();
  private dirty: StreamConn<F, C>[] = [];
  private flushScheduled = false;
  private sweepTimer: TimerHandle | null = null;
  private stopped = false;
  private readonly sweepMs: number;
  private readonly runFlush = (): void => this.flush();

  constructor(
    readonly opts: StreamOptions<F, C>,
    /** Runs the batch flush after the current tick's work (setImmediate in production). */
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {
    const periods = [opts.idleMs, opts.firstFrameMs, opts.drainTimeoutMs].filter((ms) => ms > 0);
    // Half the shortest deadline: each fires between 1x and 1.5x its configured time.
    this.sweepMs = periods.length === 0 ? 0 : Math.max(50, Math.min(...periods) / 2);
    this.armSweep();
  }

  /** Open connections plus those still in their TLS handshake or WebSocket upgrade. */
  get size(): number {
    return this.conns.size + this.handshakes.size;
  }

  channels(): C[] {
    const out: C[] = [];
    for (const c of this.conns) if (c.channel && c.state === 'open') out.push(c.channel);
    return out;
  }

  private refuseOverCap(peer: string): boolean {
    if (this.stopped) return true;
    if (this.opts.maxConnections > 0 && this.size >= this.opts.maxConnections) {
      this.opts.count?.('transport.channel_limit');
      this.opts.log.warn({ peer, reason: 'max_connections', limit: this.opts.maxConnections }, 'connection_refused');
      return true;
    }
    return false;
  }

  /**
   * A socket that must finish a handshake (TLS, WebSocket upgrade) before it becomes a connection.
   * false: over the cap, the caller drops the socket. `abort` drops it at the first-frame deadline.
   */
  admit(key: string, abort: () => void): boolean {
    if (this.refuseOverCap(key)) return false;
    this.handshakes.set(key, { since: this.opts.clock.now(), abort });
    return true;
  }

  /** The handshake of `key` ended (failed, or accept() follows). */
  settle(key: string): number | null {
    const h = this.handshakes.get(key);
    if (!h) return null;
    this.handshakes.delete(key);
    return h.since;
  }

  /** A ready connection: returns it with its channel open, or null when refused (pipe destroyed). */
  accept(peer: Peer, pipe: StreamPipe, info: AcceptInfo): StreamConn<F, C> | null {
    const key = peerKey(peer);
    const since = this.settle(key);
    if (since === null && this.refuseOverCap(key)) {
      pipe.destroy();
      return null;
    }
    if (this.stopped) {
      pipe.destroy();
      return null;
    }
    const conn = new StreamConn<F, C>(peer, pipe, info, this, since ?? this.opts.clock.now());
    this.conns.add(conn);
    const ch = this.opts.open(conn);
    if (!ch) {
      this.conns.delete(conn);
      conn.state = 'closed';
      if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: key, reason: 'refused_by_gateway' }, 'connection_refused');
      pipe.destroy();
      return null;
    }
    conn.channel = ch;
    this.opts.count?.('transport.channel_open');
    return conn;
  }

  markDirty(conn: StreamConn<F, C>): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirty.push(conn);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.defer(this.runFlush);
    }
  }

  flush(): void {
    this.flushScheduled = false;
    const batch = this.dirty;
    this.dirty = [];
    for (const c of batch) c.flush();
  }

  forget(conn: StreamConn<F, C>): void {
    this.conns.delete(conn);
  }

  logClose(conn: StreamConn<F, C>, reason: StreamCloseReason): void {
    this.opts.count?.('transport.connection_close');
    // Ordinary ends at debug; the driver's own decisions (limits, deadlines, bad input) at info.
    if (reason === 'peer_closed' || reason === 'closed_by_channel' || reason === 'transport_stopped') {
      if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: conn.key, reason }, 'connection_closed');
    } else {
      this.opts.log.info({ peer: conn.key, reason }, 'connection_closed');
    }
  }

  private armSweep(): void {
    if (this.sweepMs <= 0 || this.stopped) return;
    this.sweepTimer = this.opts.clock.setTimeout(() => this.sweep(), this.sweepMs);
  }

  /** Deadlines of every connection, checked by one timer. */
  sweep(): void {
    const o = this.opts;
    const now = o.clock.now();
    if (o.firstFrameMs > 0) {
      for (const [key, h] of [...this.handshakes]) {
        if (now - h.since < o.firstFrameMs) continue;
        this.handshakes.delete(key);
        o.count?.('transport.first_frame_timeout');
        o.log.info({ peer: key, reason: 'first_frame_timeout', stage: 'handshake' }, 'connection_closed');
        h.abort();
      }
    }
    for (const c of [...this.conns]) {
      if (c.state === 'closing') {
        // A peer that does not take our last frame (or the FIN) is dropped.
        if (now - c.closingSince >= o.drainTimeoutMs) c.shut('drain_timeout', false, false);
        continue;
      }
      if (c.state !== 'open') continue;
      if (c.pausedSince > 0 && now - c.pausedSince >= o.drainTimeoutMs) {
        o.count?.('transport.drain_timeout');
        c.shut('drain_timeout', false, true);
        continue;
      }
      if (!c.framed && o.firstFrameMs > 0 && now - c.openedAt >= o.firstFrameMs) {
        o.count?.('transport.first_frame_timeout');
        c.shut('first_frame_timeout', false, true);
        continue;
      }
      const idle = now - c.lastInput;
      if (o.idleMs > 0 && idle >= o.idleMs && (!c.channel || c.channel.handleIdle(idle))) {
        o.count?.('transport.channel_idle_close');
        // The channel cleaned up when it said yes; it hears nothing more.
        if (c.state === 'open') c.shut('idle_timeout', true, false);
      }
    }
    this.armSweep();
  }

  /**
   * Stop: handshakes are dropped, every channel hears handleTransportClosed, what they queue
   * (DISCONNECT frames) is flushed and the write sides end. The driver destroys what remains.
   */
  close(): void {
    if (this.stopped) return;
    for (const h of this.handshakes.values()) h.abort();
    this.handshakes.clear();
    for (const c of [...this.conns]) {
      if (c.state !== 'open') continue;
      c.channel?.handleTransportClosed();
      if (c.state === 'open') c.shut('transport_stopped', true, false);
    }
    this.flush();
    this.stopped = true;
    if (this.sweepTimer) this.opts.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** After close(): drop connections whose peers have not finished closing. */
  destroyAll(): void {
    for (const c of [...this.conns]) c.shut('transport_stopped', false, false);
  }

  /** Connections not yet fully closed (tests, stop()). */
  get live(): number {
    return this.conns.size;
  }
}
