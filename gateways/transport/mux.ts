// The per-peer channel map shared by the datagram and serial drivers: decode, demux (forwarder
// encapsulation), find or open the channel, batch the replies of one tick, sweep idle channels
// with one coarse timer instead of a timer per peer (style anchors §4, §7).
import type { Codec, CodecResult, Link, MuxOptions, Peer, TransportChannel } from './types.js';
import type { Clock } from '../gateway.js';

type TimerHandle = ReturnType<Clock['setTimeout']>;

/** Writes bytes to a peer; the driver's socket side. */
export type RawWriter = (peer: Peer, bufs: Buffer[]) => void;

interface Entry<F, C> {
  link: MuxLink<F>;
  channel: C | null;
  lastSeen: number;
}

export function peerKey(peer: Peer): string {
  return peer.family === 'IPv6' ? `[${peer.address}]:${peer.port}` : peer.family === 'serial' ? peer.address : `${peer.address}:${peer.port}`;
}

class MuxLink<F> implements Link<F> {
  closed = false;
  constructor(
    public key: string,
    public peer: Peer,
    public sub: string | null,
    readonly listener: string,
    readonly mux: ChannelMux<F, TransportChannel<F>>,
    public wrap: ((b: Buffer) => Buffer) | null,
  ) {}
  get sockPort(): number {
    return this.mux.localPort;
  }
  send(frame: F): void {
    if (this.closed) return;
    this.mux.enqueue(this, frame);
  }
  /** The channel ends its link (kick, ban, malformed frame, DISCONNECT). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mux.forget(this, true);
  }

  /** The mux drops the link (another session took the address, idle sweep, shutdown). */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.mux.forget(this, false);
  }
}

export class ChannelMux<F, C extends TransportChannel<F>> {
  private readonly entries = new Map<string, Entry<F, C>>();
  private readonly pending = new Map<string, { peer: Peer; bufs: Buffer[] }>();
  private flushScheduled = false;
  private sweepTimer: TimerHandle | null = null;
  private stopped = false;
  private shuttingDown = false;
  private readonly codec: Codec<F>;
  /** The socket's bound port, set by the driver once bound (0 for a serial line). */
  localPort = 0;

  constructor(
    private readonly opts: MuxOptions<F, C>,
    private readonly writer: RawWriter,
    /** Runs the batch flush after the current tick's work (setImmediate in production). */
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {
    this.codec = opts.codec;
    this.armSweep();
  }

  get size(): number {
    return this.entries.size;
  }

  channels(): C[] {
    const out: C[] = [];
    for (const e of this.entries.values()) if (e.channel) out.push(e.channel);
    return out;
  }

  /** One datagram from `peer`. */
  inputDatagram(peer: Peer, buf: Buffer): void {
    this.inputDecoded(peer, this.codec.decode(buf), buf);
  }

  /** One decoded result (the serial driver decodes the stream itself). */
  inputDecoded(peer: Peer, r: CodecResult<F>, raw: Buffer): void {
    if (this.stopped) return;
    const key = peerKey(peer);
    if (r.kind !== 'frame') {
      this.frameError(key, r.kind === 'more' ? 'truncated' : r.code, r.kind === 'more' ? 'incomplete message' : r.detail, raw);
      return;
    }
    let frame = r.frame;
    let sub: string | null = null;
    let wrap: ((b: Buffer) => Buffer) | null = null;
    const u = this.opts.demux?.unwrap(frame) ?? null;
    if (u) {
      sub = u.sub;
      wrap = u.wrap;
      const inner = this.codec.decode(u.inner);
      if (inner.kind !== 'frame') {
        this.frameError(`${key}/${sub}`, inner.kind === 'error' ? inner.code : 'truncated', inner.kind === 'error' ? inner.detail : '', u.inner);
        return;
      }
      frame = inner.frame;
    }
    const fullKey = sub === null ? key : `${key}/${sub}`;
    this.opts.count?.('transport.frames_in');
    if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: fullKey, frame: this.codec.format(frame) }, 'frame_in');
    let e = this.entries.get(fullKey);
    if (e && e.link.peer.security !== peer.security) {
      // A new DTLS session at this address (a fresh handshake, maybe another identity): the old
      // session's channel ends, and this datagram starts a channel of its own.
      // Dropped first: whatever the old channel does on closing must not reach the new session.
      e.link.drop();
      e.channel?.handleTransportClosed();
      e = undefined;
    }
    if (!e) {
      const link = new MuxLink<F>(fullKey, peer, sub, this.opts.listener, this as unknown as ChannelMux<F, TransportChannel<F>>, wrap);
      if (this.opts.stateless?.(frame, link)) return;
      if (this.opts.maxChannels > 0 && this.entries.size >= this.opts.maxChannels) {
        this.opts.count?.('transport.channel_limit');
        this.opts.log.warn({ peer: fullKey, reason: 'max_connections' }, 'channel_refused');
        return;
      }
      e = { link, channel: null, lastSeen: this.opts.clock.now() };
      this.entries.set(fullKey, e);
      const ch = this.opts.open(link);
      if (!ch) {
        this.entries.delete(fullKey);
        link.closed = true;
        return;
      }
      e.channel = ch;
      this.opts.count?.('transport.channel_open');
    }
    e.lastSeen = this.opts.clock.now();
    e.channel?.handleFrame(frame);
  }

  /** Count and log bad input without telling any channel (line noise on a serial link). */
  noteError(peer: Peer, code: string, detail: string, raw: Buffer): void {
    this.opts.count?.('transport.frame_error');
    if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: peerKey(peer), code, detail, hex: raw.toString('hex') }, 'frame_decode_failed');
  }

  private frameError(key: string, code: string, detail: string, raw: Buffer): void {
    this.opts.count?.('transport.frame_error');
    if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: key, code, detail, hex: raw.toString('hex') }, 'frame_decode_failed');
    const e = this.entries.get(key);
    if (e?.channel) {
      e.lastSeen = this.opts.clock.now();
      e.channel.handleFrameError(code, detail);
    }
  }

  /** @internal Queue an encoded frame for the peer; flushed once per tick. */
  enqueue(link: MuxLink<F>, frame: F): void {
    let buf = this.codec.encode(frame);
    if (link.wrap) buf = link.wrap(buf);
    this.opts.count?.('transport.frames_out');
    if (this.opts.log.isLevelEnabled('debug')) this.opts.log.debug({ peer: link.key, frame: this.codec.format(frame) }, 'frame_out');
    this.sendRaw(link.peer, buf);
  }

  /** Queue raw bytes to any peer (gateway-level messages such as ADVERTISE or stateless replies). */
  sendRaw(peer: Peer, buf: Buffer): void {
    const k = peerKey(peer);
    let p = this.pending.get(k);
    if (!p) {
      p = { peer, bufs: [] };
      this.pending.set(k, p);
    }
    p.bufs.push(buf);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.defer(() => this.flush());
    }
  }

  /** Write everything queued this tick: one writer call per peer. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const p of batch) this.writer(p.peer, p.bufs);
  }

  /**
   * Move an existing channel's link to the address `to` came from (a sleeping device that wakes
   * up from a new source port). `to` is the unregistered link handed to `stateless`; any channel
   * already at that address is told the transport closed. Both links must belong to this mux.
   */
  rebind(existing: Link<F>, to: Link<F>): boolean {
    if (!(existing instanceof MuxLink) || !(to instanceof MuxLink) || existing.mux !== (this as unknown) || to.mux !== (this as unknown)) return false;
    const e = this.entries.get(existing.key);
    if (!e || e.link !== existing || existing.closed) return false;
    const there = this.entries.get(to.key);
    if (there && there !== e) {
      there.link.drop();
      there.channel?.handleTransportClosed();
    }
    this.entries.delete(existing.key);
    existing.key = to.key;
    existing.peer = to.peer;
    existing.sub = to.sub;
    existing.wrap = to.wrap;
    e.lastSeen = this.opts.clock.now();
    this.entries.set(existing.key, e);
    return true;
  }

  /** @internal */
  forget(link: MuxLink<F>, endSession: boolean): void {
    const e = this.entries.get(link.key);
    if (e && e.link === link) this.entries.delete(link.key);
    // Only a link that lived on a session (DTLS) has one to end.
    if (endSession && link.peer.security !== undefined && !this.shuttingDown) {
      // What the channel said last (a DISCONNECT) goes out before the session ends, not after.
      const k = peerKey(link.peer);
      const p = this.pending.get(k);
      if (p) {
        this.pending.delete(k);
        this.writer(p.peer, p.bufs);
      }
      this.opts.onChannelClosed?.(link.peer);
    }
  }

  private armSweep(): void {
    if (this.opts.idleMs <= 0 || this.stopped) return;
    // Half the idle time: a channel is dropped between idleMs and 1.5 x idleMs after its last input.
    this.sweepTimer = this.opts.clock.setTimeout(() => this.sweep(), Math.max(50, this.opts.idleMs / 2));
  }

  /** Ask channels without input for idleMs whether they go; run by the sweep timer. */
  sweep(): void {
    const now = this.opts.clock.now();
    for (const e of [...this.entries.values()]) {
      if (now - e.lastSeen < this.opts.idleMs) continue;
      if (!e.channel || e.channel.handleIdle(now - e.lastSeen)) {
        this.opts.count?.('transport.channel_idle_close');
        // An idle channel leaves a DTLS session to the engine's own idle eviction.
        e.link.drop();
      }
    }
    this.armSweep();
  }

  /** Stop: every channel hears handleTransportClosed, pending writes are flushed. */
  close(): void {
    if (this.stopped) return;
    // The socket closes next (a DTLS socket says close_notify to every peer itself).
    this.shuttingDown = true;
    for (const e of [...this.entries.values()]) {
      e.channel?.handleTransportClosed();
      e.link.close();
    }
    this.flush();
    this.stopped = true;
    if (this.sweepTimer) this.opts.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }
}
