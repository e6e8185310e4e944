// A minimal DTLS 1.2 PSK client over the same addon: the load generator of scripts/bench/dtls.mjs
// and the peer of the transport tests. One session, one UDP socket (or an injected datagram pipe).
import { createSocket, type Socket } from 'node:dgram';
import { F, loadNative, type DtlsNative, type NativeContext, type NativeSession } from './addon.js';

export interface DtlsClientOptions {
  identity: string;
  key: Buffer;
  /** OpenSSL cipher list; default PSK-AES128-CCM8. */
  ciphers?: string;
  mtu?: number;
  /** Give up the handshake after this long; default 10 s. */
  timeoutMs?: number;
}

export class DtlsClient {
  private readonly native: DtlsNative;
  private readonly ctx: NativeContext;
  private readonly session: NativeSession;
  private sock: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private connected = false;
  private settle: ((err?: Error) => void) | undefined;
  private readonly listeners: ((msg: Buffer) => void)[] = [];
  /** Set once the server sent close_notify. */
  closedByPeer = false;
  /** The last alert or error the session saw. */
  lastProblem: string | undefined;

  constructor(
    private readonly opts: DtlsClientOptions,
    private readonly port = 0,
    private readonly host = '127.0.0.1',
    /** Replaces the UDP socket (in-memory tests): where to send our datagrams. */
    private readonly out?: (d: Buffer) => void,
  ) {
    const n = loadNative();
    if (!('native' in n)) throw new Error(n.reason);
    this.native = n.native;
    this.ctx = this.native.newContext({ client: true, identity: opts.identity, key: opts.key, ciphers: opts.ciphers ?? 'PSK-AES128-CCM8' });
    this.session = this.native.newSession(this.ctx, opts.mtu ?? 1280);
  }

  /** Handshake; resolves once the session is up. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => this.fail(new Error('DTLS handshake timed out')), this.opts.timeoutMs ?? 10_000);
      this.settle = (err) => {
        clearTimeout(deadline);
        this.settle = undefined;
        if (err) reject(err);
        else resolve();
      };
      if (!this.out) {
        const sock = createSocket('udp4');
        this.sock = sock;
        sock.on('message', (m) => this.input(m));
        sock.on('error', (e) => this.fail(e));
        sock.connect(this.port, this.host, () => this.after(this.native.connect(this.session)));
      } else {
        this.after(this.native.connect(this.session));
      }
    });
  }

  /** The first flight (a ClientHello without cookie), for tests that need real hello bytes. */
  static clientHello(opts: DtlsClientOptions): Buffer {
    const c = new DtlsClient(opts, 0, '127.0.0.1', () => undefined);
    c.native.connect(c.session);
    const hello = c.native.takeOut(c.session);
    c.native.free(c.session);
    if (!hello) throw new Error('no ClientHello');
    return hello;
  }

  /** The local UDP port (after connect()). */
  localPort(): number {
    return this.sock?.address().port ?? 0;
  }

  onMessage(l: (msg: Buffer) => void): void {
    this.listeners.push(l);
  }

  send(msg: Buffer): void {
    if (this.connected) this.after(this.native.write(this.session, msg));
  }

  /** A datagram from the server (the UDP socket calls this; in-memory tests call it directly). */
  input(d: Buffer): void {
    this.after(this.native.feed(this.session, d));
  }

  close(notify = true): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (notify && this.connected && !this.closedByPeer) this.after(this.native.shutdown(this.session));
    this.connected = false;
    this.native.free(this.session);
    const s = this.sock;
    this.sock = undefined;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }

  private after(flags: number): void {
    if (flags & (F.ALERT | F.FATAL)) {
      const i = this.native.info(this.session);
      this.lastProblem = i.error ?? i.alert;
    }
    for (let b = this.native.takeOut(this.session); b; b = this.native.takeOut(this.session)) {
      if (this.out) this.out(b);
      else this.sock?.send(b);
    }
    if (flags & F.DONE) {
      this.connected = true;
      this.settle?.();
    }
    if (flags & F.PLAIN) for (let b = this.native.takePlain(this.session); b; b = this.native.takePlain(this.session)) for (const l of this.listeners) l(b);
    if (flags & F.CLOSED) {
      this.closedByPeer = true;
      this.connected = false;
    }
    if (flags & F.FATAL) this.fail(new Error(`DTLS client: ${this.lastProblem ?? 'fatal error'}`));
    else if (!this.connected && !this.closedByPeer) this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const ms = this.native.timeout(this.session);
    if (ms < 0) return;
    this.timer = setTimeout(() => this.after(this.native.handleTimeout(this.session)), ms + 1);
    this.timer.unref();
  }

  private fail(err: Error): void {
    if (this.timer) clearTimeout(this.timer);
    this.settle?.(err);
  }
}
