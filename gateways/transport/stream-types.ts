// The seams of the stream drivers (TCP, TLS, WebSocket) on top of types.ts: a stream codec, a link
// that knows its connection (certificate, subprotocol, close with a final frame), a channel that
// hears why its connection ended, and the listener options shared by tcp.ts and ws.ts.
import type { Logger } from 'pino';
import type { Clock } from '../gateway.js';
import type { Codec, CodecResult, Link, TransportChannel, TransportCounter } from './types.js';

/** A codec that can cut frames out of a byte stream (STOMP, ExProto's length-prefixed frames). */
export interface StreamCodec<F> extends Codec<F> {
  /** First complete frame of `buf` and the bytes after it; `more` while it is incomplete. */
  decodeStream(buf: Buffer): CodecResult<F>;
}

/** EMQX 5 `ssl_options` (the subset a gateway listener uses). */
export interface StreamSslOptions {
  certfile: string;
  keyfile: string;
  /** CA bundle that verifies client certificates (needed for verify_peer). */
  cacertfile?: string;
  /** Passphrase of an encrypted keyfile. */
  password?: string;
  /** Accepted versions; the lowest and the highest set the range. Default tlsv1.2 + tlsv1.3. */
  versions?: ('tlsv1.2' | 'tlsv1.3')[];
  /** OpenSSL cipher names; empty = Node's defaults. */
  ciphers?: string[];
  verify?: 'verify_none' | 'verify_peer';
  /** With verify_peer: refuse a client that sends no certificate (mTLS). A bad one is always refused. */
  fail_if_no_peer_cert?: boolean;
}

/** The verified client certificate, in the fields authentication uses (AuthRequest.cert). */
export interface PeerCert {
  commonName?: string;
  /** DN in certificate order, comma-joined: "C=DE,O=Acme,CN=sensor-1". */
  subject?: string;
  san?: string[];
  fingerprint?: string;
}

export type StreamKind = 'tcp' | 'ssl' | 'ws' | 'wss';

/** Why a connection ended; logged as `reason` and passed to the channel. */
export type StreamCloseReason =
  | 'peer_closed'
  | 'socket_error'
  | 'frame_error'
  | 'frame_too_large'
  | 'drain_timeout'
  | 'write_buffer_full'
  | 'idle_timeout'
  | 'first_frame_timeout'
  | 'closed_by_channel'
  | 'transport_stopped';

/** One connection as its channel sees it. */
export interface StreamLink<F> extends Link<F> {
  readonly kind: StreamKind;
  /** Local port of the listener (the real one after a bind to port 0): EMQX's `sockport`. */
  readonly sockPort: number;
  /** Verified client certificate (ssl/wss with verify_peer), null otherwise. */
  readonly cert: PeerCert | null;
  /** WebSocket subprotocol chosen in the upgrade ('v12.stomp'), '' when none was offered, null for tcp/ssl. */
  readonly subprotocol: string | null;
  /**
   * Close the connection: `final` (an ERROR or DISCONNECT frame) and everything queued are written,
   * then the write side is ended. The channel hears nothing more (it closed on purpose).
   */
  close(final?: F): void;
  /** The channel keeps a silent peer on purpose (ExProto's StartTimer): the first-frame deadline ends. */
  waiveFirstFrame?(): void;
}

/** A channel driven by a stream driver. */
export interface StreamChannel<F> extends TransportChannel<F> {
  /**
   * The connection ended without the channel asking (peer gone, error, drain or deadline). Not
   * called after the channel's own link.close(), after handleIdle returned true, or on stop()
   * (handleTransportClosed).
   */
  handleClosed(reason: StreamCloseReason): void;
}

export type StreamCounter =
  | TransportCounter
  /** One socket write per connection per tick, however many frames it holds. */
  | 'transport.stream_write'
  | 'transport.backpressure_pause'
  | 'transport.drain_timeout'
  | 'transport.first_frame_timeout'
  | 'transport.frame_too_large'
  | 'transport.tls_error'
  | 'transport.connection_close';

export interface StreamOptions<F, C extends StreamChannel<F>> {
  codec: StreamCodec<F>;
  /** Listener id, e.g. 'tcp:default', 'ws:default'. */
  listener: string;
  clock: Clock;
  log: Logger;
  /** Inactivity after which the channel is asked to go (handleIdle); 0 = never. */
  idleMs: number;
  /** 0 = unlimited. Counts connections still in their TLS handshake or WebSocket upgrade. */
  maxConnections: number;
  /**
   * From accept to the first complete frame (TLS handshake and WS upgrade included): a peer that
   * opens a socket and trickles bytes (slowloris) is closed. 0 = no deadline.
   */
  firstFrameMs: number;
  /** Bytes of an incomplete frame kept per connection; over it the peer is closed (frame_too_large). */
  maxBufferedBytes: number;
  /** Queued outbound bytes above which reading from the peer pauses until it drains. */
  writeHighWater: number;
  /** A paused (or closing) peer that has not drained in this time is closed. */
  drainTimeoutMs: number;
  /** Queued outbound bytes above which the peer is closed at once; 0 = only the drain timeout. */
  maxWriteBuffer?: number;
  /** Create the channel for a new connection; null refuses it (the socket is closed). */
  open(link: StreamLink<F>): C | null;
  count?(name: StreamCounter): void;
}
