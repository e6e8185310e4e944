// The authentication chain (EMQX emqx_authn_chains, emqx-broker-behaviour.md §8): bans first, then
// the client certificate (when enabled), the built-in database, the HTTP backend; each answers
// allow, deny or ignore. When every step ignores, anonymous access decides (EMQX: not_authorized).
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthRequest, AuthResult, Authenticator } from '../core/hooks.js';
import type { Metrics } from '../core/metrics.js';
import type { BanList } from './ban-list.js';
import type { AuthenticationConfig } from './config.js';
import type { UserDb } from './user-db.js';

export type CertField = 'disabled' | 'cn' | 'dn' | 'san';
/** peer_cert_as_username / _clientid of the listener a client came through. */
export type CertAsLookup = (listener: string) => { username: CertField; clientId: CertField } | null;

type Step = { kind: 'allow'; superuser: boolean; by: string } | { kind: 'deny'; reason: 'bad_username_or_password' | 'not_authorized'; by: string } | { kind: 'ignore' };
/** Asked about a client no step recognised (the permit-join window): true admits it. */
export type JoinHook = (username: string | null, clientId: string, password: Buffer | null, protocol: string) => Promise<boolean>;
type Failure = 'bad_username_or_password' | 'not_authorized' | 'banned' | 'server_unavailable';

/** Bound on remembered credentials, so a flood of distinct users cannot grow memory without limit. */
const MAX_CACHE = 10_000;
/** Slow hashes verified at once; the rest wait in a bounded queue (max_pending). */
const CONCURRENT_VERIFY = 2;

interface Cached {
  digest: string;
  superuser: boolean;
  expires: number;
  by: string;
}

export function certField(cert: AuthRequest['cert'], f: CertField): string | undefined {
  if (!cert || f === 'disabled') return undefined;
  if (f === 'cn') return cert.commonName || undefined;
  if (f === 'dn') return cert.subject || undefined;
  return cert.san?.[0] || undefined;
}

/** Whether a PSK identity is still known (a paired device unpaired, an init_file line removed). */
export type PskKnown = (identity: string) => boolean;

export class ChainAuthenticator implements Authenticator {
  /** Per-process key so cached digests are useless outside this process. */
  private readonly cacheKey = randomBytes(16);
  private readonly verified = new Map<string, Cached>();
  private readonly httpCache = new Map<string, Cached & { allow: boolean }>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private userCount: number;
  private joinHook: JoinHook | null = null;

  constructor(
    private cfg: AuthenticationConfig,
    private readonly users: UserDb,
    private readonly bans: BanList,
    private readonly certAs: CertAsLookup,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly metrics?: Metrics,
    private readonly pskKnown: PskKnown = () => false,
  ) {
    this.userCount = users.count();
    users.onChange((userId) => {
      this.userCount = users.count();
      this.verified.delete(userId);
    });
  }

  setJoinHook(hook: JoinHook | null): void {
    this.joinHook = hook;
  }

  update(cfg: AuthenticationConfig): void {
    this.cfg = cfg;
    this.verified.clear();
    this.httpCache.clear();
  }

  /** Whether a client no step recognises is let in (the loud-warning check uses this too). */
  anonymousAllowed(): boolean {
    if (!this.cfg.enable) return true;
    if (this.cfg.allow_anonymous !== 'auto') return this.cfg.allow_anonymous;
    return this.userCount === 0 && !this.cfg.http.enable;
  }

  pending(): number {
    return this.active + this.waiting.length;
  }

  cacheSize(): number {
    return this.verified.size + this.httpCache.size;
  }

  /** Drop expired cache entries (periodic). */
  sweep(now: number): void {
    for (const m of [this.verified, this.httpCache] as Map<string, Cached>[]) for (const [k, v] of m) if (v.expires <= now) m.delete(k);
  }

  authenticate(req: AuthRequest): AuthResult | Promise<AuthResult> {
    if (req.pskIdentity !== undefined) return this.pskAuthenticate(req, req.pskIdentity);
    const as = this.certAs(req.listener);
    const username = (as && certField(req.cert, as.username)) ?? req.username;
    const clientId = (as && certField(req.cert, as.clientId)) ?? req.clientId;
    const ban = this.bans.find(clientId, username, req.peerHost);
    if (ban) {
      this.metrics?.inc('client.banned');
      return this.fail(req, clientId, username, 'banned', `banned as ${ban.as} by ${ban.by}${ban.reason ? ': ' + ban.reason : ''}`);
    }
    if (!this.cfg.enable) return this.ok(req, clientId, username, false, 'authentication_disabled');
    if (this.cfg.client_cert.enable && req.cert) return this.ok(req, clientId, username, this.cfg.client_cert.superuser, 'client_cert');
    const userId = this.cfg.user_id_type === 'clientid' ? clientId : username;
    // Sync fast path: nothing to verify, or a cached verification.
    if (userId !== null && userId !== '' && req.password !== null) {
      const c = this.verified.get(userId);
      if (c && c.expires > this.now() && c.digest === this.digest(userId, req.password)) return this.ok(req, clientId, username, c.superuser, `${c.by}(cached)`);
      return this.slowPath(req, clientId, username, userId);
    }
    if (userId !== null && userId !== '' && this.users.get(userId)) return this.fail(req, clientId, username, 'bad_username_or_password', 'built_in_database: no password');
    if (this.cfg.http.enable) return this.slowPath(req, clientId, username, userId);
    return this.exhausted(req, clientId, username);
  }

  /**
   * A DTLS peer that completed a PSK handshake proved it holds the identity's key: that is its
   * authentication (EMQX: TLS-PSK), so no password is asked and the identity is the username ACLs
   * see (a paired device's scope rules are written for it). Bans still apply; an identity that is
   * no longer known (unpaired, removed from the init_file) is refused even on a session
   * established before.
   */
  private pskAuthenticate(req: AuthRequest, identity: string): AuthResult {
    const clientId = req.clientId;
    const ban = this.bans.find(clientId, identity, req.peerHost);
    if (ban) {
      this.metrics?.inc('client.banned');
      return this.fail(req, clientId, identity, 'banned', `banned as ${ban.as} by ${ban.by}${ban.reason ? ': ' + ban.reason : ''}`);
    }
    if (!this.pskKnown(identity)) return this.fail(req, clientId, identity, 'not_authorized', 'psk: identity no longer known');
    return this.ok(req, clientId, identity, false, 'psk');
  }

  private digest(userId: string, password: Buffer): string {
    return createHash('sha256').update(this.cacheKey).update(userId).update('\u0000').update(password).digest('base64');
  }

  private async slowPath(req: AuthRequest, clientId: string, username: string | null, userId: string | null): Promise<AuthResult> {
    if (this.active >= CONCURRENT_VERIFY) {
      if (this.waiting.length >= this.cfg.max_pending) {
        this.metrics?.inc('authentication.overload');
        return this.fail(req, clientId, username, 'server_unavailable', 'too many pending authentications');
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await this.runChain(req, clientId, username, userId);
    } catch (err) {
      this.log.error({ err, clientid: clientId }, 'authentication_error');
      return this.fail(req, clientId, username, 'server_unavailable', 'internal error');
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  private async runChain(req: AuthRequest, clientId: string, username: string | null, userId: string | null): Promise<AuthResult> {
    if (userId !== null && userId !== '' && req.password !== null) {
      const v = await this.users.verify(userId, req.password);
      if (v.found) {
        if (!v.ok) return this.fail(req, clientId, username, 'bad_username_or_password', 'built_in_database');
        this.remember(this.verified, userId, { digest: this.digest(userId, req.password), superuser: v.superuser, expires: 0, by: 'built_in_database' }, this.cfg.cache_ttl);
        return this.ok(req, clientId, username, v.superuser, 'built_in_database');
      }
    }
    if (this.cfg.http.enable) {
      const step = await this.http(req, clientId, username);
      if (step.kind === 'allow') return this.ok(req, clientId, username, step.superuser, step.by);
      if (step.kind === 'deny') return this.fail(req, clientId, username, step.reason, step.by);
    }
    if (this.joinHook && !this.anonymousAllowed() && (await this.joinHook(username, clientId, req.password, req.protocol))) {
      this.log.info({ clientid: clientId, username, peerhost: req.peerHost, protocol: req.protocol }, 'device_admitted_by_permit_join');
      return this.ok(req, clientId, username, false, 'permit_join');
    }
    return this.exhausted(req, clientId, username);
  }

  private remember<T extends Cached>(m: Map<string, T>, key: string, v: T, ttlSeconds: number): void {
    const ttl = ttlSeconds * 1000;
    if (ttl <= 0) return;
    if (m.size >= MAX_CACHE) m.delete(m.keys().next().value!);
    v.expires = this.now() + ttl;
    m.set(key, v);
  }

  private async http(req: AuthRequest, clientId: string, username: string | null): Promise<Step> {
    const h = this.cfg.http;
    const password = req.password ? req.password.toString('utf8') : null;
    const key = createHash('sha256').update(this.cacheKey).update(JSON.stringify([clientId, username, password, req.peerHost])).digest('base64');
    const cached = this.httpCache.get(key);
    if (cached && cached.expires > this.now()) {
      return cached.allow ? { kind: 'allow', superuser: cached.superuser, by: 'http(cached)' } : { kind: 'deny', reason: 'not_authorized', by: 'http(cached)' };
    }
    let res: Response;
    try {
      res = await fetch(h.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...h.headers },
        body: JSON.stringify({ clientid: clientId, username, password, peerhost: req.peerHost, cert_common_name: req.cert?.commonName ?? null, listener: req.listener, protocol: req.protocol }),
        signal: AbortSignal.timeout(Math.max(1, h.request_timeout * 1000)),
      });
    } catch (err) {
      this.log.warn({ url: h.url, clientid: clientId, err: (err as Error).message }, 'authn_http_request_failed');
      this.metrics?.inc('authentication.http.error');
      return { kind: 'ignore' };
    }
    // EMQX: 204 allows; 200 carries {"result": allow|deny|ignore, "is_superuser"}; anything else ignores.
    if (res.status === 204) {
      this.remember(this.httpCache, key, { digest: '', superuser: false, expires: 0, by: 'http', allow: true }, h.cache_ttl);
      return { kind: 'allow', superuser: false, by: 'http' };
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (res.status !== 200 || typeof body !== 'object' || body === null) {
      this.log.warn({ url: h.url, clientid: clientId, status: res.status }, 'authn_http_bad_response');
      return { kind: 'ignore' };
    }
    const b = body as { result?: unknown; is_superuser?: unknown };
    const superuser = b.is_superuser === true || b.is_superuser === 'true';
    if (b.result === 'allow') {
      this.remember(this.httpCache, key, { digest: '', superuser, expires: 0, by: 'http', allow: true }, h.cache_ttl);
      return { kind: 'allow', superuser, by: 'http' };
    }
    if (b.result === 'deny') {
      this.remember(this.httpCache, key, { digest: '', superuser: false, expires: 0, by: 'http', allow: false }, h.cache_ttl);
      return { kind: 'deny', reason: 'not_authorized', by: 'http' };
    }
    return { kind: 'ignore' };
  }

  private exhausted(req: AuthRequest, clientId: string, username: string | null): AuthResult {
    if (this.anonymousAllowed()) {
      this.metrics?.inc('client.auth.anonymous');
      return this.ok(req, clientId, username, false, 'anonymous');
    }
    return this.fail(req, clientId, username, 'not_authorized', username === null ? 'anonymous access is off' : 'no authenticator recognised the client');
  }

  private ok(req: AuthRequest, clientId: string, username: string | null, superuser: boolean, by: string): AuthResult {
    this.metrics?.inc('authentication.success');
    if (this.log.isLevelEnabled('debug')) this.log.debug({ clientid: clientId, username, peerhost: req.peerHost, listener: req.listener, by, superuser }, 'client_authenticated');
    const r: AuthResult = { ok: true, superuser };
    if (username !== req.username) r.username = username;
    if (clientId !== req.clientId) r.clientId = clientId;
    return r;
  }

  private fail(req: AuthRequest, clientId: string, username: string | null, reason: Failure, detail: string): AuthResult {
    this.metrics?.inc('authentication.failure');
    this.log.info({ clientid: clientId, username, peerhost: req.peerHost, listener: req.listener, protocol: req.protocol, reason, detail }, 'client_authentication_failed');
    return { ok: false, reason };
  }
}
