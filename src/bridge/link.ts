// The bridge's socket: one TCP or TLS connection to an upstream broker, MQTT packets in and out
// through mqtt-packet. No protocol decisions here; the Bridge drives it (see bridge.ts).
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { BridgeError } from './errors.js';
import type { ServerAddress } from './address.js';
import { FrameReader } from './frames.js';
import type { UserProperties } from '../core/types.js';
import { appendUserProperties } from '../core/user-properties.js';

const EMPTY = Buffer.alloc(0);

export interface TlsFiles {
  ca_file?: string | undefined;
  cert_file?: string | undefined;
  key_file?: string | undefined;
  server_name?: string | undefined;
  verify: boolean;
}

/** TLS options for one server; files are read at connect time so rotated certificates are picked up. */
export function tlsOptions(addr: ServerAddress, t: TlsFiles): ConnectionOptions {
  const o: ConnectionOptions = { host: addr.host, port: addr.port, rejectUnauthorized: t.verify };
  const sni = t.server_name ?? (isIP(addr.host) ? undefined : addr.host);
  if (sni !== undefined) o.servername = sni;
  if (t.server_name !== undefined) {
    // Verify the certificate against the configured name, not the address we dialled.
    const name = t.server_name;
    o.checkServerIdentity = (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  }
  if (t.ca_file) o.ca = readFileSync(t.ca_file);
  if (t.cert_file) o.cert = readFileSync(t.cert_file);
  if (t.key_file) o.key = readFileSync(t.key_file);
  return o;
}

export interface LinkHandler {
  onOpen(): void;
  /** `frame` is the packet's bytes (valid during the call only). */
  onPacket(p: Packet, frame: Buffer): void;
  /** Once per link; err null on a clean end. */
  onClose(err: Error | null): void;
  /** The socket accepted all buffered writes again after write() returned false. */
  onDrain(): void;
}

export class Link {
  private readonly socket: Socket | TLSSocket;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private closed = false;
  private closeWaiters: (() => void)[] = [];
  private closeErr: Error | null = null;
  private corked = false;
  private readonly frames = new FrameReader();
  /** The bytes of the packet being parsed. */
  private frame: Buffer = EMPTY;
  readonly opts: { protocolVersion: 3 | 4 | 5 };

  /** tls: options from tlsOptions() for a TLS server (built by the caller, whose errors it reports), else null. */
  constructor(addr: ServerAddress, tls: ConnectionOptions | null, protocolVersion: 3 | 4 | 5, private readonly h: LinkHandler) {
    this.opts = { protocolVersion };
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => {
      if (!this.closed) this.h.onPacket(p, this.frame);
    });
    this.parser.on('error', (err: Error) => this.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_MALFORMED', err.message)));
    const s: Socket | TLSSocket = tls ? tlsConnect(tls) : netConnect({ host: addr.host, port: addr.port });
    this.socket = s;
    s.setNoDelay(true);
    s.on(tls ? 'secureConnect' : 'connect', () => {
      if (!this.closed) this.h.onOpen();
    });
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('drain', () => {
      if (!this.closed) this.h.onDrain();
    });
    s.on('error', (err: Error) => {
      this.closeErr ??= err;
    });
    s.on('close', () => this.finish());
  }

  /** Whole packets go to mqtt-packet one at a time, so onPacket also gets each packet's bytes. */
  private onData(d: Buffer): void {
    this.frames.push(d);
    for (;;) {
      if (this.closed) return;
      const f = this.frames.next();
      if (f === null) return;
      if (f === 'malformed') {
        this.destroy(new BridgeError('OUTPOST_ERR_BRIDGE_MALFORMED', 'bad remaining length'));
        return;
      }
      this.frame = f;
      try {
        this.parser.parse(f);
      } finally {
        this.frame = EMPTY;
      }
    }
  }

  /**
   * false when the socket buffer is full: wait for onDrain before writing more. `userProperties` go
   * at the end of a v5 PUBLISH's properties in their order (mqtt-packet's object form would merge
   * repeated names) [MQTT-3.3.2-18].
   */
  write(p: Packet, userProperties?: UserProperties): boolean {
    if (this.closed) return false;
    const frame = mqttPacket.generate(p, this.opts);
    return this.socket.write(userProperties ? appendUserProperties(frame, userProperties) : frame);
  }

  cork(): void {
    if (!this.corked && !this.closed) {
      this.corked = true;
      this.socket.cork();
    }
  }

  uncork(): void {
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  /** Flush what is written, then close (after DISCONNECT). */
  end(): void {
    this.uncork();
    if (!this.closed) this.socket.end();
  }

  destroy(err: Error | null): void {
    if (err) this.closeErr ??= err;
    this.corked = false;
    this.socket.destroy();
  }

  /** Resolves once the socket has closed. */
  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.h.onClose(this.closeErr);
    for (const w of this.closeWaiters) w();
    this.closeWaiters = [];
  }
}
