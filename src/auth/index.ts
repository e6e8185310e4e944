// Access control and connection protection, composed from the config: the authenticator chain,
// the ACL authorizer, bans + flapping detection, per-client rate limits and the global connection
// cap. The runtime creates this once (createAuth) and hands the parts to the broker and front ends;
// the CLI and HTTP API manage users, rules and bans through `users`, `acl` and `bans`.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ConnectionGuard, RateLimits } from '../core/hooks.js';
import type { Metrics } from '../core/metrics.js';
import type { ClientIdentity, Clock, TimerHandle } from '../core/types.js';
import type { Store } from '../store/store.js';
import { DEFAULT_ACL, normalizeIp, parseAcl, type AclRule } from './acl.js';
import { AclDb } from './acl-db.js';
import type { AuthSettings } from './config.js';
import { ChainAuthenticator, type CertAsLookup, type CertField } from './authenticator.js';
import { AclAuthorizer } from './authorizer.js';
import { BanList } from './ban-list.js';
import { FlappingDetector } from './flapping.js';
import { DeviceRegistry } from './device-registry.js';
import { PskStore, loadPskFile } from './psk.js';
import { AUTH_MIGRATIONS } from './migrations.js';
import { ConnectionCounter, bucketFor } from './rate-limit.js';
import { UserDb } from './user-db.js';

export type { AuthSettings, HashAlgorithm } from './config.js';
export { UserDb, type ExportedUser, type ImportOptions, type ImportResult, type ListUsersQuery, type UserInfo } from './user-db.js';
export { AclDb, type AclWhoType, type StoredAclRule } from './acl-db.js';
export { PskStore, PskFileError, parsePskFile, loadPskFile } from './psk.js';
export { DeviceRegistry, PSK_PROTOCOLS, type DevicePsk, DEVICE_PROTOCOLS, MAX_PERMIT_JOIN_S, defaultScope, type Device, type DeviceProtocol, type PairRequest, type PermitJoinStatus, type TopicId } from './device-registry.js';
export { BanList, BAN_KINDS, type Ban, type BanKind } from './ban-list.js';
export { AuthError, AUTH_ERRORS, type AuthErrorCode } from './errors.js';
export { parseAcl, DEFAULT_ACL } from './acl.js';
export { ConnectionCounter, TokenBucket, parseRate, bucketFor } from './rate-limit.js';
export { hashPassword, verifyPassword } from './hash.js';
export { userDbAdmin, banAdmin } from './admin-adapters.js';

export interface AuthServices {
  authenticator: ChainAuthenticator;
  authorizer: AclAuthorizer;
  guard: ConnectionGuard;
  rateLimits: RateLimits;
  /** Built-in user database (CLI `users`, API `/authentication/…/users`). */
  users: UserDb;
  /** Per-user/client/all ACL rules (API `/authorization/sources/built_in_database/rules`). */
  acl: AclDb;
  /** Banned clients (CLI `banned`, API `/banned`). */
  bans: BanList;
  /** Paired sensors and the permit-join window (CLI `pair`/`devices`, API `/devices`). */
  devices: DeviceRegistry;
  /** DTLS pre-shared keys: [psk_authentication] init_file and paired devices (one synchronous lookup). */
  psk: PskStore;
  /** Global cap over every listener: take a slot at accept, release it on close. */
  connections: ConnectionCounter;
  /** True when unknown/anonymous clients are let in right now. */
  anonymousAllowed(): boolean;
  /**
   * Log a loud warning for every listener bound beyond loopback while anonymous access is on;
   * returns the ids warned about. Call after the listeners are bound, and after a reload.
   */
  warnAnonymousExposure(listeners: readonly { id: string; bind: string }[]): string[];
  /** Apply a new, already validated config live (users, ACL rules, limits). Throws on a bad ACL file, keeping the old rules. */
  reload(config: AuthSettings): void;
  close(): void;
}

/** True for 127.0.0.0/8, ::1, localhost (a bind that nothing off the box can reach). */
export function isLoopbackBind(bind: string): boolean {
  const b = normalizeIp(bind.replace(/^\[|\]$/g, ''));
  return b === 'localhost' || b === '::1' || /^127\.\d+\.\d+\.\d+$/.test(b);
}

/** The MQTT listener binds a config enables ([mqtt] and [listeners.*.*]), for the anonymous-access warning. */
export function configuredBinds(config: AuthSettings): { id: string; bind: string }[] {
  const out: { id: string; bind: string }[] = [];
  if (config.mqtt.enable) out.push({ id: 'tcp:default', bind: config.mqtt.bind });
  for (const type of ['ssl', 'ws', 'wss'] as const) {
    for (const [name, l] of Object.entries(config.listeners[type])) if (l.enable) out.push({ id: `${type}:${name}`, bind: l.bind });
  }
  return out;
}

function loadFileRules(config: AuthSettings): AclRule[] {
  const f = config.authorization.file;
  if (!f.enable) return [];
  if (f.path === '') return parseAcl(DEFAULT_ACL, 'default-acl');
  const path = isAbsolute(f.path) ? f.path : resolve(config.node.data_dir, f.path);
  return parseAcl(readFileSync(path, 'utf8'), path);
}

function gatewayCertAs(gateway: object | undefined, gw: string, name: string): { username: CertField; clientId: CertField } | null {
  const l = (gateway as Record<string, { listeners?: { dtls?: Record<string, { peer_cert_as_username?: CertField; peer_cert_as_clientid?: CertField }> } }> | undefined)?.[gw]?.listeners?.dtls?.[name];
  const username = l?.peer_cert_as_username ?? 'disabled';
  const clientId = l?.peer_cert_as_clientid ?? 'disabled';
  return username === 'disabled' && clientId === 'disabled' ? null : { username, clientId };
}

function certAsLookup(getConfig: () => AuthSettings): CertAsLookup {
  return (listener) => {
    const parts = listener.split(':');
    // A gateway's DTLS listener ('coap:dtls:default') maps certificates as an MQTT TLS listener does.
    if (parts.length === 3 && parts[1] === 'dtls') return gatewayCertAs(getConfig().gateway, parts[0]!, parts[2]!);
    const [type, name] = parts;
    if (!name || (type !== 'ssl' && type !== 'wss')) return null;
    const l = getConfig().listeners[type][name];
    if (!l || (l.peer_cert_as_username === 'disabled' && l.peer_cert_as_clientid === 'disabled')) return null;
    return { username: l.peer_cert_as_username, clientId: l.peer_cert_as_clientid };
  };
}

export function createAuth(config: AuthSettings, store: Store, log: Logger, clock: Clock, metrics?: Metrics): AuthServices {
  store.migrate('auth', AUTH_MIGRATIONS);
  let cfg = config;
  const now = () => clock.now();
  const alog = log.child({ component: 'auth' });

  const users = new UserDb(store.db, { algorithm: cfg.authentication.password_hash_algorithm, importAlgorithm: cfg.authentication.import_hash_algorithm, now });
  const acl = new AclDb(store.db);
  const bans = new BanList(store.db, now);
  if (cfg.banned.bootstrap_file !== '') {
    const r = bans.importCsv(readFileSync(cfg.banned.bootstrap_file, 'utf8'));
    alog.info({ file: cfg.banned.bootstrap_file, ...r }, 'banned_bootstrap_imported');
  }
  const flapping = new FlappingDetector(cfg.flapping_detect);
  const connections = new ConnectionCounter(cfg.limiter.max_connections);
  const devices = new DeviceRegistry(store.db, users, acl, now);
  let pskFile: Map<string, Buffer>;
  try {
    pskFile = loadPskFile(cfg.psk_authentication, cfg.node.data_dir);
  } catch (err) {
    // Refuse to start naming the key: a DTLS device would otherwise fail its handshakes silently.
    throw new Error(`psk_authentication.init_file: ${(err as Error).message}`);
  }
  const psk = new PskStore(pskFile, devices);
  devices.onRemoved((d) => {
    if (d.psk_identity !== null) psk.revoke(d.psk_identity);
  });
  const authenticator = new ChainAuthenticator(cfg.authentication, users, bans, certAsLookup(() => cfg), alog, now, metrics, (id) => psk.has(id));
  const fileRules = loadFileRules(cfg);
  authenticator.setJoinHook((username, clientId, password, protocol) => devices.admitUnknown(username, clientId, password, protocol));
  const authorizer = new AclAuthorizer(cfg.authorization, fileRules, acl, alog, now, metrics);

  const guard: ConnectionGuard = {
    checkBanned(clientId, username, peerHost) {
      const b = bans.find(clientId, username, peerHost);
      if (!b) return null;
      metrics?.inc('client.banned');
      const reason = `banned as ${b.as} by ${b.by}${b.reason ? ': ' + b.reason : ''}`;
      alog.info({ clientid: clientId, username, peerhost: peerHost, reason }, 'client_banned');
      return reason;
    },
    onDisconnected(client: ClientIdentity, at: number) {
      authorizer.clearCache(client.clientId);
      const hit = flapping.disconnected(client.clientId, client.peerHost, at);
      if (!hit) return;
      alog.warn({ clientid: hit.clientId, peer_host: hit.peerHost, detect_cnt: hit.count, wind_time_in_ms: hit.windowMs }, 'flapping_detected');
      metrics?.inc('client.flapping');
      bans.add({ as: 'clientid', who: hit.clientId, by: 'flapping detector', reason: 'flapping is detected', at, until: hit.until });
    },
    onBan(listener) {
      bans.onBan(listener);
    },
  };

  const rateLimits: RateLimits = {
    messages: () => bucketFor(cfg.limiter.messages_rate, cfg.limiter.messages_burst, clock.now(), now),
    bytes: () => bucketFor(cfg.limiter.bytes_rate, cfg.limiter.bytes_burst, clock.now(), now),
  };

  let timer: TimerHandle | null = null;
  let closed = false;
  const sweep = () => {
    timer = null;
    if (closed) return;
    const t = clock.now();
    const n = bans.sweep();
    if (n > 0) alog.info({ expired: n }, 'banned_expired');
    flapping.sweep(t);
    authenticator.sweep(t);
    timer = clock.setTimeout(sweep, cfg.banned.cleanup_interval * 1000);
  };
  timer = clock.setTimeout(sweep, cfg.banned.cleanup_interval * 1000);

  const services: AuthServices = {
    authenticator,
    authorizer,
    guard,
    rateLimits,
    users,
    acl,
    bans,
    devices,
    psk,
    connections,
    anonymousAllowed: () => authenticator.anonymousAllowed(),
    warnAnonymousExposure(listeners) {
      if (!authenticator.anonymousAllowed()) return [];
      const exposed = listeners.filter((l) => !isLoopbackBind(l.bind));
      for (const l of exposed) {
        alog.warn(
          { listener: l.id, bind: l.bind, allow_anonymous: cfg.authentication.allow_anonymous, users: users.count() },
          'anonymous_access_on_public_listener: any client on the network can connect without credentials; add a user (outpostctl users add) or set authentication.allow_anonymous = false',
        );
      }
      return exposed.map((l) => l.id);
    },
    reload(next: AuthSettings) {
      // Parse the ACL first: a broken file throws here and nothing changes.
      const rules = loadFileRules(next);
      // A bad PSK file keeps the keys in use (devices keep working) and says why; the rest applies.
      try {
        psk.replaceFile(loadPskFile(next.psk_authentication, next.node.data_dir));
      } catch (err) {
        alog.error({ key: 'psk_authentication.init_file', reason: (err as Error).message }, 'psk_file_reload_failed: keeping the previous keys');
      }
      cfg = next;
      users.setOptions({ algorithm: next.authentication.password_hash_algorithm, importAlgorithm: next.authentication.import_hash_algorithm, now });
      authenticator.update(next.authentication);
      authorizer.update(next.authorization, rules);
      flapping.update(next.flapping_detect);
      connections.setMax(next.limiter.max_connections);
      alog.info({ acl_rules: rules.length }, 'auth_reloaded');
      services.warnAnonymousExposure(configuredBinds(next));
    },
    close() {
      closed = true;
      if (timer) clock.clearTimeout(timer);
      timer = null;
    },
  };
  // The warning does not depend on the runtime remembering to ask: at start, after a reload, and
  // whenever the last user is removed (anonymous access switches on under "auto").
  services.warnAnonymousExposure(configuredBinds(cfg));
  users.onChange(() => {
    if (users.count() === 0) services.warnAnonymousExposure(configuredBinds(cfg));
  });
  alog.info(
    { users: users.count(), bans: bans.size(), psk_file_identities: psk.fileSize(), acl_file_rules: fileRules.length, anonymous: authenticator.anonymousAllowed(), no_match: cfg.authorization.no_match },
    'auth_started',
  );
  return services;
}
