// The DTLS 1.2 server over one UDP socket. Node owns the socket; the addon (addon.ts) holds one
// OpenSSL session per peer. This module routes datagrams: an epoch-0 ClientHello goes through the
// stateless cookie exchange on one reusable listening session (nothing is allocated per peer
// until the cookie checks out), everything else to the peer's session. It also owns the caps,
// retransmission timers, idle eviction and the once-per-peer alert logging.
import { X509Certificate } from 'node:crypto';
import type { DatagramSocket, PeerSecurity, RemoteInfo } from '../datagram.js';
import { F, type DtlsNative, type NativeContext, type NativeContextOptions, type NativeSession } from './addon.js';
import { CookieSecrets } from './cookie.js';
import { clientHelloRandom, isClientHello } from './record.js';
import type { DtlsListenerOptions, DtlsSocket, DtlsStats } from './types.js';

export const DEFAULT_CIPHERS = [
  'PSK-AES128-CCM8',
  'PSK-AES128-CCM',
  'PSK-AES128-GCM-SHA256',
  'PSK-AES128-CBC-SHA256',
  'ECDHE-ECDSA-AES128-CCM8',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
];

const COOKIE_ROTATE_MS = 60_000;
/** A peer address that keeps failing (a wrong key retried by the device) is logged once per this. */
const WARN_QUIET_MS = 10 * 60_000;
/** How many recently warned addresses are remembered (bounded: spoofed sources cannot grow it). */
const WARN_MEMORY = 1024;

interface Peer {
  readonly remote: RemoteInfo;
  readonly session: NativeSession;
  /** Keeps the SSL_CTX (and its PSK callback) alive for this session across reloads. */
  readonly ctx: NativeContext;
  established: boolean;
  startedAt: number;
  lastSeen: number;
  timer: NodeJS.Timeout | undefined;
  /** Alerts and failures are logged once per peer. */
  logged: boolean;
  /** The random of the ClientHello that opened this session (a copy). */
  helloRandom: Buffer;
}

type Log = NonNullable<DtlsListenerOptions['log']>;

export function nativeContextOptions(opts: Pick<DtlsListenerOptions, 'psk' | 'certs' | 'ciphers' | 'retransmitMs'>): NativeContextOptions {
  const o: NativeContextOptions = { ciphers: (opts.ciphers ?? DEFAULT_CIPHERS).join(':') };
  if (opts.retransmitMs) o.retransmitMs = opts.retransmitMs;
  const psk = opts.psk;
  if (psk) {
    // The SSL_CTX calls this synchronously during the handshake.
    o.psk = (identity) => psk.key(identity);
    if (psk.hint) o.hint = psk.hint;
  }
  if (opts.certs) {
    o.certfile = opts.certs.certfile;
    o.keyfile = opts.certs.keyfile;
    if (opts.certs.cacertfile) o.cacertfile = opts.certs.cacertfile;
    o.verify = opts.certs.verify === 'verify_none' ? 0 : opts.certs.failIfNoPeerCert ? 2 : 1;
  }
  return o;
}

/** The fields AuthRequest.cert carries, from the peer certificate OpenSSL verified. */
export function certSecurity(der: Buffer): PeerSecurity['cert'] {
  const x = new X509Certificate(der);
  const out: NonNullable<PeerSecurity['cert']> = { subject: x.subject.split('\n').join(','), fingerprint: x.fingerprint256 };
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.subject);
  if (cn?.[1]) out.commonName = cn[1];
  if (x.subjectAltName) {
    const san = x.subjectAltName
      .split(/,\s*/)
      .map((s) => s.replace(/^(DNS|IP Address|URI|email):/, ''))
      .filter((s) => s.length > 0);
    if (san.length > 0) out.san = san;
  }
  return out;
}

export class DtlsListener implements DtlsSocket {
  private readonly peers = new Map<string, Map<number, Peer>>();
  private established = 0;
  private halfOpen = 0;
  private ctx: NativeContext;
  private listening: NativeSession;
  private readonly cookies: CookieSecrets;
  private readonly messageListeners: ((msg: Buffer, from: RemoteInfo) => void)[] = [];
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly now: () => number;
  /** peer "address:port" -> when its warnings may be logged again (oldest first, bounded). */
  private readonly warned = new Map<string, number>();
  private readonly log: Log | undefined;
  private readonly mtu: number;
  private readonly maxPeers: number;
  private readonly maxHandshakes: number;
  private readonly idleTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private closed = false;
  private readonly counters = { handshakesDone: 0, handshakeFailures: 0, cookieRejects: 0, alerts: 0, evicted: 0, refused: 0, dropped: 0 };

  constructor(
    private readonly raw: DatagramSocket,
    private readonly native: DtlsNative,
    private readonly opts: DtlsListenerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.mtu = opts.mtu ?? 1280;
    this.maxPeers = opts.maxPeers ?? 10_000;
    this.maxHandshakes = opts.maxHandshakes ?? 256;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 600_000;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 30_000;
    if (!opts.psk && !opts.certs) throw new Error('DTLS listener needs psk or certs');
    this.ctx = native.newContext(nativeContextOptions(opts));
    this.listening = native.newSession(this.ctx, this.mtu);
    this.cookies = new CookieSecrets(COOKIE_ROTATE_MS, this.now);
    const sweepMs = Math.max(50, Math.min(5_000, Math.floor(Math.min(this.idleTimeoutMs, this.handshakeTimeoutMs) / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
    raw.onMessage((msg, from) => this.input(msg, from));
  }

  // ---- DatagramSocket ----

  onMessage(listener: (msg: Buffer, from: RemoteInfo) => void): void {
    this.messageListeners.push(listener);
  }

  onError(listener: (err: Error) => void): void {
    this.raw.onError(listener);
  }

  send(msg: Buffer, port: number, address: string): void {
    const p = this.peers.get(address)?.get(port);
    if (!p || !p.established) {
      this.counters.dropped++;
      return;
    }
    this.after(p, this.native.write(p.session, msg));
  }

  address(): RemoteInfo {
    return this.raw.address();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const byPort of this.peers.values()) for (const p of byPort.values()) this.drop(p, true);
    this.native.free(this.listening);
    await this.raw.close();
  }

  // ---- DtlsSocket ----

  reload(o: Pick<DtlsListenerOptions, 'psk' | 'certs'>): void {
    const ctx = this.native.newContext(nativeContextOptions({ ...o, ciphers: this.opts.ciphers, retransmitMs: this.opts.retransmitMs }));
    this.ctx = ctx;
    this.native.free(this.listening);
    this.listening = this.native.newSession(ctx, this.mtu);
  }

  closePeer(address: string, port: number): void {
    const p = this.peers.get(address)?.get(port);
    if (p) this.drop(p, true);
  }

  stats(): DtlsStats {
    const c = this.counters;
    return {
      peers: this.established,
      handshakes: this.halfOpen,
      handshakesDone: c.handshakesDone,
      handshakeFailures: c.handshakeFailures,
      cookieRejects: c.cookieRejects,
      alerts: c.alerts,
      evicted: c.evicted,
      refused: c.refused,
      dropped: c.dropped,
    };
  }

  // ---- datagrams in ----

  private input(msg: Buffer, from: RemoteInfo): void {
    if (this.closed) return;
    const p = this.peers.get(from.address)?.get(from.port);
    if (p) {
      if (isClientHello(msg)) {
        // The hello that opened this session again (retransmitted or duplicated): OpenSSL
        // answers a retransmission during the handshake; afterwards it is stale.
        if (clientHelloRandom(msg).equals(p.helloRandom)) {
          if (p.established) this.counters.dropped++;
          else this.after(p, this.native.feed(p.session, msg));
          return;
        }
        // A new hello from a known address: the client restarted (RFC 6347 §4.2.8). It goes
        // through the cookie exchange; the old session is replaced only once the new hello
        // carries a valid cookie, so a spoofed hello cannot kill a live session.
        this.hello(msg, from, p);
        return;
      }
      p.lastSeen = this.now();
      this.after(p, this.native.feed(p.session, msg));
      return;
    }
    if (isClientHello(msg)) this.hello(msg, from, undefined);
    else this.counters.dropped++;
  }

  private hello(msg: Buffer, from: RemoteInfo, replacing: Peer | undefined): void {
    const flags = this.native.listen(
      this.listening,
      msg,
      this.cookies.cookie(from.address, from.port),
      this.cookies.previousCookie(from.address, from.port),
    );
    if (!(flags & F.ACCEPTED)) {
      if (flags & F.OUT) {
        this.counters.cookieRejects++;
        this.flush(this.listening, from.port, from.address);
      }
      return;
    }
    const session = this.listening;
    this.listening = this.native.newSession(this.ctx, this.mtu);
    const total = this.established + this.halfOpen - (replacing ? 1 : 0);
    const halfOpen = this.halfOpen - (replacing && !replacing.established ? 1 : 0);
    if (halfOpen >= this.maxHandshakes || total >= this.maxPeers) {
      this.counters.refused++;
      this.native.free(session);
      if (!replacing) this.warnOnce(undefined, from, { reason: halfOpen >= this.maxHandshakes ? 'max_handshakes' : 'max_peers' }, 'DTLS handshake refused: listener full');
      return;
    }
    if (replacing) this.drop(replacing, false);
    const t = this.now();
    const peer: Peer = {
      remote: { address: from.address, port: from.port, family: from.family ?? 'IPv4' },
      session,
      ctx: this.ctx,
      established: false,
      startedAt: t,
      lastSeen: t,
      timer: undefined,
      logged: false,
      helloRandom: Buffer.from(clientHelloRandom(msg)),
    };
    let byPort = this.peers.get(from.address);
    if (!byPort) this.peers.set(from.address, (byPort = new Map()));
    byPort.set(from.port, peer);
    this.halfOpen++;
    this.after(peer, flags);
  }

  /** Acts on the flags a native call returned for this peer. */
  private after(p: Peer, flags: number): void {
    if (flags & (F.ALERT | F.FATAL)) this.problem(p, flags);
    if (flags & F.OUT) this.flush(p.session, p.remote.port, p.remote.address);
    if (flags & F.DONE) this.done(p);
    if (flags & F.PLAIN) {
      for (let b = this.native.takePlain(p.session); b; b = this.native.takePlain(p.session)) {
        for (const l of this.messageListeners) l(b, p.remote);
      }
    }
    if (flags & F.CLOSED) {
      this.drop(p, true);
      return;
    }
    if (flags & F.FATAL) {
      if (!p.established) this.counters.handshakeFailures++;
      this.drop(p, false);
      return;
    }
    if (!p.established) this.arm(p);
  }

  private done(p: Peer): void {
    p.established = true;
    this.halfOpen--;
    this.established++;
    this.counters.handshakesDone++;
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    const i = this.native.info(p.session);
    const security: PeerSecurity = {};
    if (i.pskIdentity !== undefined) security.pskIdentity = i.pskIdentity;
    if (i.certDer) {
      try {
        security.cert = certSecurity(i.certDer);
      } catch {
        /* OpenSSL parsed it; node:crypto always does too */
      }
    }
    p.remote.security = security;
    this.log?.info({ peer: `${p.remote.address}:${p.remote.port}`, cipher: i.cipher, pskIdentity: i.pskIdentity, cert: security.cert?.subject }, 'DTLS session established');
  }

  private problem(p: Peer, flags: number): void {
    // A close_notify exchange is the normal end, not a problem worth counting or a warning.
    if (flags & F.CLOSED && !(flags & F.FATAL)) return;
    const i = this.native.info(p.session);
    if (i.alert) this.counters.alerts++;
    const detail: Record<string, unknown> = {};
    if (i.alert) detail.alert = i.alert;
    if (i.error) detail.error = i.error;
    if (i.verifyError) detail.verify = i.verifyError;
    this.warnOnce(p, p.remote, detail, p.established ? 'DTLS alert' : 'DTLS handshake failed');
  }

  private warnOnce(p: Peer | undefined, from: RemoteInfo, detail: Record<string, unknown>, msg: string): void {
    if (p) {
      if (p.logged) return;
      p.logged = true;
    }
    // Each retry of a failing device is a new session: remember the address, not only the session.
    const key = `${from.address}:${from.port}`;
    const t = this.now();
    const quietUntil = this.warned.get(key);
    if (quietUntil !== undefined && quietUntil > t) return;
    this.warned.delete(key);
    this.warned.set(key, t + WARN_QUIET_MS);
    if (this.warned.size > WARN_MEMORY) this.warned.delete(this.warned.keys().next().value as string);
    this.log?.warn({ peer: key, ...detail }, msg);
  }

  /** Handshake retransmission: OpenSSL's timer (1 s doubling to 60 s) drives it. */
  private arm(p: Peer): void {
    const ms = this.native.timeout(p.session);
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (ms < 0) return;
    p.timer = setTimeout(() => {
      p.timer = undefined;
      if (!this.closed && !p.established) this.after(p, this.native.handleTimeout(p.session));
    }, ms + 1);
    p.timer.unref();
  }

  private flush(s: NativeSession, port: number, address: string): void {
    for (let b = this.native.takeOut(s); b; b = this.native.takeOut(s)) this.raw.send(b, port, address);
  }

  /** Forgets a peer, sending close_notify first when asked and the session is up. */
  private drop(p: Peer, notify: boolean): void {
    const byPort = this.peers.get(p.remote.address);
    if (byPort?.get(p.remote.port) !== p) return;
    byPort.delete(p.remote.port);
    if (byPort.size === 0) this.peers.delete(p.remote.address);
    if (p.established) this.established--;
    else this.halfOpen--;
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (notify && p.established && this.native.shutdown(p.session) & F.OUT) this.flush(p.session, p.remote.port, p.remote.address);
    this.native.free(p.session);
  }

  /** Idle eviction and the handshake deadline; runs on an interval, callable by tests. */
  sweep(): void {
    const t = this.now();
    const stale: Peer[] = [];
    for (const byPort of this.peers.values()) {
      for (const p of byPort.values()) {
        if (p.established ? t - p.lastSeen >= this.idleTimeoutMs : t - p.startedAt >= this.handshakeTimeoutMs) stale.push(p);
      }
    }
    for (const p of stale) {
      if (p.established) {
        this.counters.evicted++;
        this.drop(p, true);
      } else {
        this.counters.handshakeFailures++;
        this.warnOnce(p, p.remote, { reason: 'handshake timed out: no valid Finished (a wrong PSK, since DTLS drops records that do not decrypt) or the peer went away' }, 'DTLS handshake failed');
        this.drop(p, false);
      }
    }
  }
}
