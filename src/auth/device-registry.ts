// The device registry (issue 21): sensors paired with `outpostctl pair` or admitted during a
// permit-join window. A device is an ordinary built-in database user plus ACL rules that confine it
// to its scope (allow the scope, deny everything else), so every gateway's normal authentication
// and authorization path applies to it unchanged; this table only remembers what was paired.
import { randomBytes } from 'node:crypto';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { AclDb, StoredAclRule } from './acl-db.js';
import { compileTopic } from './acl.js';
import { AuthError } from './errors.js';
import type { UserDb } from './user-db.js';

export const DEVICE_PROTOCOLS = ['coap', 'mqttsn', 'mqtt'] as const;
export type DeviceProtocol = (typeof DEVICE_PROTOCOLS)[number];
export type DeviceState = 'paired' | 'pending';

/** An MQTT-SN predefined topic id handed to the device at pairing. */
export interface TopicId {
  id: number;
  topic: string;
}

export interface Device {
  name: string;
  protocol: DeviceProtocol;
  client_id: string;
  username: string;
  /** Topic filter the device may publish and subscribe to. */
  scope: string;
  topic_ids: TopicId[];
  created_at: number;
  state: DeviceState;
  /** DTLS PSK identity handed to the device at pairing (coap, mqttsn); null when it has none. The key is shown once, at pairing. */
  psk_identity: string | null;
}

/** A DTLS pre-shared key handed to a device: the identity and the 16-byte key in hex. */
export interface DevicePsk {
  identity: string;
  key: string;
}

/** Protocols whose devices get a DTLS PSK at pairing (their gateways have DTLS listeners). */
export const PSK_PROTOCOLS: readonly DeviceProtocol[] = ['coap', 'mqttsn'];
/** 128-bit keys: what the PSK-AES128 suites (CCM_8 for CoAP/LwM2M devices) use. */
const PSK_KEY_BYTES = 16;

export interface PairRequest {
  name: string;
  protocol: DeviceProtocol;
  /** Default `devices/NAME/#`. */
  scope?: string;
  /** Default: generated (24 random bytes, base64url). */
  password?: string;
  /** DTLS key in hex (4..64 bytes) for a device whose firmware has one already; default: 16 random bytes. */
  psk_key?: string;
}

export interface PermitJoinStatus {
  open: boolean;
  /** Epoch ms the window closes; 0 when closed. */
  until: number;
  remaining_s: number;
}

interface Row {
  name: string;
  protocol: DeviceProtocol;
  client_id: string;
  username: string;
  password_hash: string;
  scope: string;
  topic_ids: string;
  created_at: number;
  state: DeviceState;
  psk_identity: string | null;
  psk_key: string | null;
}

/** EMQX reserves 1..1024 for predefined MQTT-SN topic ids. */
const MAX_PREDEFINED_ID = 1024;
/** Names become user ids, client ids and topic levels: keep them to what all three accept. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Longest permit-join window (an hour): an open window admits anyone with a password. */
export const MAX_PERMIT_JOIN_S = 3600;
/** Pending devices at most: a window left open to a noisy network must not fill the user table. */
export const MAX_PENDING = 256;

export function defaultScope(name: string): string {
  return `devices/${name}/#`;
}

function scopeRules(scope: string): StoredAclRule[] {
  // The deny makes the scope hold even when authorization.no_match is allow.
  return [
    { topic: scope, permission: 'allow', action: 'all', qos: [], retain: 'all' },
    { topic: '#', permission: 'deny', action: 'all', qos: [], retain: 'all' },
  ];
}

function toDevice(r: Row): Device {
  return { name: r.name, protocol: r.protocol, client_id: r.client_id, username: r.username, scope: r.scope, topic_ids: JSON.parse(r.topic_ids) as TopicId[], created_at: r.created_at, state: r.state, psk_identity: r.psk_identity ?? null };
}

export class DeviceRegistry {
  private joinUntil = 0;
  private readonly removed: ((d: Device) => void)[] = [];
  private pskStmt: Statement | null = null;

  constructor(
    private readonly db: Db,
    private readonly users: UserDb,
    private readonly acl: AclDb,
    private readonly now: () => number,
  ) {}

  get(name: string): Device | null {
    const r = this.db.prepare('SELECT * FROM auth_devices WHERE name = ?').get(name) as Row | undefined;
    return r ? toDevice(r) : null;
  }

  /** MQTT-SN predefined topic ids handed to the device with this client id at pairing (none if unknown). */
  topicIdsFor(clientId: string): TopicId[] {
    const r = this.db.prepare('SELECT topic_ids FROM auth_devices WHERE client_id = ?').get(clientId) as { topic_ids: string } | undefined;
    return r === undefined ? [] : (JSON.parse(r.topic_ids) as TopicId[]);
  }

  /** The DTLS key of the paired device with this PSK identity (a handshake asks; one indexed read). */
  pskKey(identity: string): Buffer | undefined {
    this.pskStmt ??= this.db.prepare("SELECT psk_key FROM auth_devices WHERE psk_identity = ? AND state = 'paired'");
    const r = this.pskStmt.get(identity) as { psk_key: string | null } | undefined;
    return r?.psk_key ? Buffer.from(r.psk_key, 'hex') : undefined;
  }

  /** Told after a device is unpaired (gateways end its DTLS sessions). */
  onRemoved(listener: (d: Device) => void): void {
    this.removed.push(listener);
  }

  list(): Device[] {
    return (this.db.prepare('SELECT * FROM auth_devices ORDER BY name').all() as Row[]).map(toDevice);
  }

  /** Register a device, create its user and scope rules; the plain password is returned once, here. */
  pair(req: PairRequest): { device: Device; password: string; psk: DevicePsk | null } {
    checkName(req.name);
    if (!DEVICE_PROTOCOLS.includes(req.protocol)) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', `protocol must be one of ${DEVICE_PROTOCOLS.join(', ')}`);
    if (req.password !== undefined && (typeof req.password !== 'string' || req.password === '')) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'password must be a non-empty string');
    const scope = req.scope ?? defaultScope(req.name);
    if (typeof scope !== 'string' || scope === '') throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'scope must be a non-empty topic filter');
    try {
      compileTopic(scope);
    } catch (err) {
      throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', `scope: ${(err as Error).message}`);
    }
    if (this.get(req.name)) throw new AuthError('OUTPOST_ERR_AUTH_USER_EXISTS', `device ${req.name}`);
    const password = req.password ?? randomBytes(24).toString('base64url');
    const topicIds = req.protocol === 'mqttsn' ? this.allocateTopicIds(req.name, scope) : [];
    // The identity is the device name, so it is also the username its ACL scope is written for.
    if (req.psk_key !== undefined) {
      if (!PSK_PROTOCOLS.includes(req.protocol)) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', `psk_key: only ${PSK_PROTOCOLS.join(' and ')} devices use DTLS`);
      if (typeof req.psk_key !== 'string' || !/^(?:[0-9a-fA-F]{2}){4,64}$/.test(req.psk_key)) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'psk_key must be 4 to 64 bytes in hex');
    }
    const psk = PSK_PROTOCOLS.includes(req.protocol) ? { identity: req.name, key: req.psk_key?.toLowerCase() ?? randomBytes(PSK_KEY_BYTES).toString('hex') } : null;
    if (psk && this.db.prepare('SELECT 1 FROM auth_devices WHERE psk_identity = ?').get(psk.identity)) throw new AuthError('OUTPOST_ERR_AUTH_USER_EXISTS', `PSK identity ${psk.identity}`);
    this.db.transaction(() => {
      this.users.addSync(req.name, password);
      this.acl.set('username', req.name, scopeRules(scope));
      this.insert(req.name, req.protocol, scope, topicIds, 'paired', req.name, psk);
    })();
    return { device: this.get(req.name)!, password, psk };
  }

  /** Remove the device, its user and its rules. */
  unpair(name: string): boolean {
    const d = this.get(name);
    if (!d) return false;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM auth_devices WHERE name = ?').run(name);
      this.users.remove(d.username);
      this.acl.remove('username', d.username);
    })();
    for (const l of this.removed) l(d);
    return true;
  }

  /** Mark a device admitted during a permit-join window as paired. */
  approve(name: string): Device {
    const n = this.db.prepare("UPDATE auth_devices SET state = 'paired' WHERE name = ?").run(name).changes;
    if (n === 0) throw new AuthError('OUTPOST_ERR_AUTH_USER_NOT_FOUND', `device ${name}`);
    return this.get(name)!;
  }

  /** Open the permit-join window for `seconds` (0 closes it). */
  permitJoin(seconds: number): PermitJoinStatus {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_PERMIT_JOIN_S) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', `seconds must be an integer in 0..${MAX_PERMIT_JOIN_S}`);
    this.joinUntil = seconds === 0 ? 0 : this.now() + seconds * 1000;
    return this.permitJoinStatus();
  }

  permitJoinStatus(): PermitJoinStatus {
    const left = this.joinUntil - this.now();
    return left > 0 ? { open: true, until: this.joinUntil, remaining_s: Math.ceil(left / 1000) } : { open: false, until: 0, remaining_s: 0 };
  }

  /**
   * Called by the authenticator for a client no step recognised. While the window is open, a client
   * with a username and password that names no device is registered as pending with the default
   * scope and admitted; otherwise false (refused as before).
   */
  async admitUnknown(username: string | null, clientId: string, password: Buffer | null, protocol: string): Promise<boolean> {
    if (!this.permitJoinStatus().open || username === null || password === null || password.length === 0) return false;
    if (!NAME_RE.test(username) || this.get(username) || this.users.get(username)) return false;
    if ((this.db.prepare("SELECT COUNT(*) AS n FROM auth_devices WHERE state = 'pending'").get() as { n: number }).n >= MAX_PENDING) return false;
    const proto: DeviceProtocol = (DEVICE_PROTOCOLS as readonly string[]).includes(protocol) ? (protocol as DeviceProtocol) : 'mqtt';
    try {
      await this.users.add(username, password.toString('utf8'));
    } catch (err) {
      // Another connection with the same name joined while this one was hashing: it owns the name.
      if (err instanceof AuthError && err.code === 'OUTPOST_ERR_AUTH_USER_EXISTS') return false;
      throw err;
    }
    try {
      this.acl.set('username', username, scopeRules(defaultScope(username)));
      this.insert(username, proto, defaultScope(username), [], 'pending', clientId);
    } catch (err) {
      this.users.remove(username);
      throw err;
    }
    return true;
  }

  private insert(name: string, protocol: DeviceProtocol, scope: string, topicIds: TopicId[], state: DeviceState, clientId = name, psk: DevicePsk | null = null): void {
    const hash = (this.db.prepare('SELECT password_hash FROM auth_users WHERE user_id = ?').get(name) as { password_hash: string }).password_hash;
    this.db
      .prepare('INSERT INTO auth_devices (name, protocol, client_id, username, password_hash, scope, topic_ids, created_at, state, psk_identity, psk_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)')
      .run(name, protocol, clientId, name, hash, scope, JSON.stringify(topicIds), this.now(), state, psk?.identity ?? null, psk?.key ?? null);
  }

  /** Two predefined ids (telemetry up, commands down) that no other device holds. */
  private allocateTopicIds(name: string, scope: string): TopicId[] {
    const used = new Set<number>();
    for (const d of this.list()) for (const t of d.topic_ids) used.add(t.id);
    const free: number[] = [];
    for (let id = 1; id <= MAX_PREDEFINED_ID && free.length < 2; id++) if (!used.has(id)) free.push(id);
    if (free.length < 2) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'no free MQTT-SN predefined topic ids (1..1024)');
    // Topics under the scope's prefix (a scope ending in /# is the usual case).
    const base = scope.endsWith('/#') ? scope.slice(0, -2) : `devices/${name}`;
    return [
      { id: free[0]!, topic: `${base}/telemetry` },
      { id: free[1]!, topic: `${base}/cmd` },
    ];
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new AuthError('OUTPOST_ERR_AUTH_BAD_INPUT', 'name must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');
}
