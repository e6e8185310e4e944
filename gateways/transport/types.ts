// The seams between the shared socket drivers (UDP, serial; DTLS and TCP later) and a gateway's
// codec and channels. Drivers know bytes and peers; codecs know frames; channels know protocol.
import type { Logger } from 'pino';
import type { Clock } from '../gateway.js';
import type { PeerSecurity } from './datagram.js';

/** Where a datagram or a serial line's bytes come from. */
export interface Peer {
  /** IP address, or the device path for a serial line. */
  address: string;
  /** UDP port; 0 for a serial line. */
  port: number;
  family: 'IPv4' | 'IPv6' | 'serial';
  /** What a DTLS socket proved about the peer (RemoteInfo.security); absent on plain UDP and serial. */
  security?: PeerSecurity;
}

/** Decode outcome: the same shape every gateway codec returns (style anchors §2). */
export type CodecResult<F> =
  | { kind: 'frame'; frame: F; rest: Buffer }
  | { kind: 'more' }
  | { kind: 'error'; code: string; detail: string };

export interface Codec<F> {
  /** One datagram, one frame. */
  decode(buf: Buffer): CodecResult<F>;
  /** First frame of a byte stream (serial line); `more` until it is complete. */
  decodeStream?(buf: Buffer): CodecResult<F>;
  encode(frame: F): Buffer;
  /** Short log form without payload. */
  format(frame: F): string;
}

/**
 * Addressing inside a message: one socket peer carries several clients (MQTT-SN forwarder
 * encapsulation; later DTLS connection ids). `unwrap` returns null for a plain frame.
 */
export interface Demux<F> {
  unwrap(frame: F): { sub: string; inner: Buffer; wrap(encoded: Buffer): Buffer } | null;
}

/** How a channel talks back to its peer. */
export interface Link<F> {
  /** Channel key: the peer address, plus the sub-address for demuxed clients (changes on rebind). */
  readonly key: string;
  readonly peer: Peer;
  /** Sub-address inside the peer (hex wireless node id), null for a direct client. */
  readonly sub: string | null;
  /** Listener id, e.g. 'udp:default'. */
  readonly listener: string;
  /** Local port of the listener's socket (0 for a serial line): `sockport` in $SYS events. */
  readonly sockPort: number;
  /** Queue a frame; written out with everything else sent this tick. */
  send(frame: F): void;
  /** Forget this channel: the next message from the peer opens a fresh one. */
  close(): void;
  /** true once close() ran or the listener stopped. */
  readonly closed: boolean;
}

/** A channel as the drivers drive it. */
export interface TransportChannel<F> {
  handleFrame(frame: F): void;
  handleFrameError(code: string, detail: string): void;
  /** No input for `idleMs`: return true to have the channel dropped (the channel cleans up first). */
  handleIdle(idleMs: number): boolean;
  /** The listener stops (shutdown, reload). */
  handleTransportClosed(): void;
}

export interface MuxOptions<F, C extends TransportChannel<F>> {
  codec: Codec<F>;
  listener: string;
  clock: Clock;
  log: Logger;
  /** Sweep period and inactivity after which a channel is asked to go (handleIdle). */
  idleMs: number;
  /** 0 = unlimited. */
  maxChannels: number;
  demux?: Demux<F> | null;
  /** Create the channel for a new peer (or sub-address). Return null to ignore the message. */
  open(link: Link<F>): C | null;
  /** Frame that arrives from an unknown peer and must not open a channel (e.g. answered statelessly). */
  stateless?(frame: F, link: Link<F>): boolean;
  /** Metric hook: counts frames, errors and drops ('transport.frame_error', ...). */
  count?(name: TransportCounter): void;
  /**
   * A channel ended its own link (kick, ban, a malformed frame, DISCONNECT): the driver ends the
   * peer's transport session with it (DTLS). Not called when the mux itself drops a link because a
   * new session took over the address, nor at shutdown.
   */
  onChannelClosed?(peer: Peer): void;
}

export type TransportCounter =
  | 'transport.frames_in'
  | 'transport.frames_out'
  | 'transport.frame_error'
  | 'transport.channel_limit'
  | 'transport.channel_open'
  | 'transport.channel_idle_close'
  | 'transport.write_error'
  | 'transport.write_drop';
