// Serial line driver on `serialport`: a radio module or forwarder on /dev/ttyUSB0 & co. The line is
// a byte stream, so messages are cut out by the codec's own length header (decodeStream); bytes
// that cannot start a message are skipped one at a time to resynchronise, and a partial message
// older than `frameTimeoutMs` is dropped (a radio that reset mid-message). The device is reopened
// after `reopenMs` when it goes away (USB unplug), so a replugged radio comes back by itself.
import { SerialPort } from 'serialport';
import { ChannelMux } from './mux.js';
import type { MuxOptions, Peer, TransportChannel } from './types.js';

export interface SerialOptions {
  device: string;
  baudRate: number;
  /** Drop a partial message when the next byte comes this much later. */
  frameTimeoutMs: number;
  /** Retry opening the device this often after a failure or a close; 0 = never. */
  reopenMs: number;
  /** A write that does not drain within this time is dropped (stuck flow control). */
  drainTimeoutMs: number;
}

/** The part of a serial port the driver uses (SerialPort in production). */
export interface SerialLike {
  readonly isOpen: boolean;
  open(cb: (err: Error | null) => void): void;
  write(data: Buffer): boolean;
  close(cb?: (err: Error | null) => void): void;
  on(event: 'data', fn: (b: Buffer) => void): unknown;
  on(event: 'close' | 'drain', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  removeAllListeners(): unknown;
}

export type SerialFactory = (device: string, baudRate: number) => SerialLike;

export const openSerialPort: SerialFactory = (device, baudRate) =>
  new SerialPort({ path: device, baudRate, autoOpen: false }) as unknown as SerialLike;

export class SerialTransport<F, C extends TransportChannel<F>> {
  readonly mux: ChannelMux<F, C>;
  readonly peer: Peer;
  private port: SerialLike | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private lastByteAt = 0;
  private stopped = false;
  private reopenTimer: ReturnType<typeof setTimeout> | null = null;
  private draining = false;
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  private backlog: Buffer[] = [];

  constructor(
    private readonly serial: SerialOptions,
    private readonly muxOpts: MuxOptions<F, C>,
    private readonly factory: SerialFactory = openSerialPort,
  ) {
    this.peer = { address: serial.device, port: 0, family: 'serial' };
    this.mux = new ChannelMux<F, C>(muxOpts, (_peer, bufs) => this.write(bufs));
  }

  get running(): boolean {
    return this.port?.isOpen ?? false;
  }

  /**
   * Opens the device. Rejects when it cannot be opened, unless `retry` is set: then it resolves
   * and keeps trying every reopenMs (a radio plugged in after boot).
   */
  async start(opts: { retry?: boolean } = {}): Promise<void> {
    this.stopped = false;
    try {
      await this.open();
    } catch (err) {
      if (!opts.retry || this.serial.reopenMs <= 0) throw err;
      this.muxOpts.log.warn({ device: this.serial.device, err: (err as Error).message, reason: 'open_failed' }, 'serial_open_failed');
      this.scheduleReopen();
    }
  }

  private open(): Promise<void> {
    const port = this.factory(this.serial.device, this.serial.baudRate);
    return new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (err) {
          port.removeAllListeners();
          reject(err);
          return;
        }
        this.port = port;
        this.buf = Buffer.alloc(0);
        port.on('data', (b) => this.onData(b));
        port.on('drain', () => this.onDrain());
        port.on('error', (e) => this.muxOpts.log.warn({ device: this.serial.device, err: e.message }, 'serial_error'));
        port.on('close', () => this.onClose());
        resolve();
      });
    });
  }

  private onClose(): void {
    this.port?.removeAllListeners();
    this.port?.on('error', () => {});
    this.port = null;
    if (this.stopped) return;
    this.muxOpts.log.warn({ device: this.serial.device, reason: 'device_closed' }, 'serial_closed');
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped || this.serial.reopenMs <= 0 || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.open().then(
        () => this.muxOpts.log.info({ device: this.serial.device }, 'serial_reopened'),
        () => this.scheduleReopen(),
      );
    }, this.serial.reopenMs);
    this.reopenTimer.unref();
  }

  private onData(chunk: Buffer): void {
    const now = this.muxOpts.clock.now();
    if (this.buf.length > 0 && now - this.lastByteAt > this.serial.frameTimeoutMs) {
      this.muxOpts.count?.('transport.frame_error');
      this.muxOpts.log.debug({ device: this.serial.device, hex: this.buf.toString('hex'), reason: 'frame_timeout' }, 'frame_decode_failed');
      this.buf = Buffer.alloc(0);
    }
    this.lastByteAt = now;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const decodeStream = this.muxOpts.codec.decodeStream;
    if (!decodeStream) return;
    while (this.buf.length > 0) {
      const r = decodeStream(this.buf);
      if (r.kind === 'more') return;
      if (r.kind === 'error') {
        // Resynchronise: skip one byte and look for the next plausible header. Noise on a radio
        // line is normal, so unlike a bad datagram it does not end the device's connection.
        this.mux.noteError(this.peer, r.code, r.detail, this.buf.subarray(0, 1));
        this.buf = this.buf.subarray(1);
        continue;
      }
      const consumed = this.buf.length - r.rest.length;
      const raw = this.buf.subarray(0, consumed);
      this.buf = r.rest;
      this.mux.inputDecoded(this.peer, r, raw);
    }
  }

  /** Raw bytes to the line (gateway-level messages). */
  sendRaw(buf: Buffer): void {
    this.mux.sendRaw(this.peer, buf);
  }

  private write(bufs: Buffer[]): void {
    const port = this.port;
    if (!port || !port.isOpen) {
      this.muxOpts.count?.('transport.write_drop');
      return;
    }
    const data = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    if (this.draining) {
      this.backlog.push(data);
      return;
    }
    if (!port.write(data)) this.startDrainWait();
  }

  private startDrainWait(): void {
    this.draining = true;
    this.drainTimer = setTimeout(() => {
      // Flow control stuck: drop what waits rather than grow without bound.
      this.muxOpts.count?.('transport.write_drop');
      this.muxOpts.log.warn({ device: this.serial.device, dropped: this.backlog.length, reason: 'drain_timeout' }, 'serial_write_dropped');
      this.backlog = [];
      this.draining = false;
      this.drainTimer = null;
    }, this.serial.drainTimeoutMs);
    this.drainTimer.unref();
  }

  private onDrain(): void {
    if (!this.draining) return;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    this.draining = false;
    const backlog = this.backlog;
    this.backlog = [];
    if (backlog.length > 0) this.write(backlog);
  }

  async stop(): Promise<void> {
    this.mux.close();
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.reopenTimer = null;
    const port = this.port;
    this.port = null;
    if (!port) return;
    port.removeAllListeners();
    // A late error from a closing device must not become an unhandled 'error' event.
    port.on('error', () => {});
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
