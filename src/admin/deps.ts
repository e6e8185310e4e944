// What the admin API needs from the rest of the process. The broker comes as BrokerApi; everything
// else is a small structural interface that the runtime adapts its real services to. An absent
// optional dependency makes its endpoints answer 501 NOT_SUPPORTED rather than pretend.
import type { Logger } from 'pino';
import type { ActiveAlarm, DeactivatedAlarm } from '../broker/alarms.js';
import type { BrokerApi } from '../broker/api.js';
import type { Config } from '../config/schema.js';
import type { MonitorSource } from './monitor.js';
import type { TraceService } from './trace.js';

/** One user of the built-in database authenticator (EMQX users API). */
export interface UserRecord {
  userId: string;
  isSuperuser: boolean;
}

export interface UserDbAdmin {
  list(): UserRecord[];
  get(userId: string): UserRecord | null;
  /** false when the user already exists. */
  add(userId: string, password: string, isSuperuser: boolean): boolean;
  /** false when unknown. */
  remove(userId: string): boolean;
  /** Change password and/or superuser flag; false when unknown. */
  update(userId: string, changes: { password?: string; isSuperuser?: boolean }): boolean;
  /**
   * EMQX's import_users: a CSV or JSON file of users, plain passwords or hashes. Throws an error
   * with a message when the file cannot be read as that format. Absent: the route answers 501.
   */
  importUsers?(text: string, opts: { format: 'csv' | 'json'; type: 'plain' | 'hash' }): Promise<ImportUsersResult>;
}

/** EMQX's import result. */
export interface ImportUsersResult {
  total: number;
  success: number;
  override: number;
  skipped: number;
  failed: number;
}

export type BanKind = 'clientid' | 'username' | 'peerhost' | 'clientid_re' | 'username_re' | 'peerhost_net';

/** A ban as EMQX shows it; times in ms since epoch, `until` 0 for never. */
export interface BanRecord {
  as: BanKind;
  who: string;
  by: string;
  reason: string;
  at: number;
  until: number;
}

export interface BanAdmin {
  list(): BanRecord[];
  /** false when a ban for (as, who) already exists. Kicking banned connected clients is the service's job. */
  add(ban: BanRecord): boolean;
  remove(as: BanKind, who: string): boolean;
  clear(): void;
}

export interface BridgeStatus {
  /** EMQX action id, e.g. 'mqtt:upstream'. */
  id: string;
  name: string;
  type: string;
  enable: boolean;
  status: 'connected' | 'connecting' | 'disconnected' | 'stopped';
  statusReason?: string;
  /** Counters named as EMQX action metrics (matched, success, failed, dropped, queuing, inflight, received, …). */
  metrics: Record<string, number>;
}

export interface BridgeAdmin {
  list(): BridgeStatus[];
  /** false when unknown. */
  restart(id: string): Promise<boolean>;
}

export interface ListenerSummary {
  /** e.g. 'tcp:default', 'ws:default'. */
  id: string;
  type: string;
  /** 'host:port' as bound. */
  bind: string;
  running: boolean;
  currentConnections: number;
  maxConnections: number;
}

export interface GatewaySummary {
  name: string;
  status: 'running' | 'stopped' | 'unloaded';
  createdAt: number;
  startedAt: number;
  maxConnections: number;
  listeners: { id: string; type: string; bind: string; running: boolean; dtls?: Readonly<Record<string, number>> }[];
}

export interface GatewayAdmin {
  list(): GatewaySummary[];
  /** Device-request API: null when the gateway is not running or has none. */
  request?(name: string, clientId: string, body: unknown): Promise<{ status: number; body: unknown }> | null;
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
}

/** One built-in database authorization rule, in EMQX's API shape. */
export interface AclRuleRecord {
  topic: string;
  permission: 'allow' | 'deny';
  action: 'publish' | 'subscribe' | 'all';
  qos: (0 | 1 | 2)[];
  retain: boolean | 'all';
}
export type AclWho = 'username' | 'clientid' | 'all';

/** The built_in_database authorization source's rules (src/auth/acl-db.ts). Writes throw a 4xx-typed error on a bad rule. */
export interface AclAdmin {
  set(whoType: AclWho, who: string, rules: AclRuleRecord[]): void;
  get(whoType: AclWho, who: string): AclRuleRecord[];
  list(whoType: AclWho): { who: string; rules: AclRuleRecord[] }[];
  remove(whoType: AclWho, who: string): boolean;
  clear(): void;
}

/** An authorization source as GET /authorization/sources shows it (config fields by EMQX's names). */
export type AuthzSource = { type: string; enable: boolean } & Record<string, unknown>;

/** The alarm registry (src/broker/alarms.ts) as the API sees it. */
export interface AlarmAdmin {
  activated(): ActiveAlarm[];
  /** Newest first. */
  deactivated(): DeactivatedAlarm[];
  clearDeactivated(): number;
  deactivate(name: string): boolean;
}

export interface AdminDeps {
  broker: BrokerApi;
  /** Parent logger; the API logs as a child { component: 'admin' }. */
  log: Logger;
  users?: UserDbAdmin;
  bans?: BanAdmin;
  bridges?: BridgeAdmin;
  gateways?: GatewayAdmin;
  listeners?: () => ListenerSummary[];
  /**
   * Start, stop or restart one MQTT listener until the next restart of the node (the config file
   * is not changed). false when no such listener is configured; throws when it cannot start.
   */
  listenerAction?: (id: string, action: 'start' | 'stop' | 'restart') => Promise<boolean>;
  /** Re-read and apply the config file (same as SIGHUP). */
  reload?: () => Promise<ReloadResult>;
  /** Lifecycle for GET /status: anything but 'running' answers 503 with retry-after (EMQX). Default: running. */
  lifecycle?: () => 'starting' | 'running' | 'stopping';
  alarms?: AlarmAdmin;
  /** Dashboard samples (/monitor); when absent the API samples from its first request on. */
  monitor?: MonitorSource;
  acl?: AclAdmin;
  /** Paired sensors and the permit-join window (routes/devices.ts). */
  devices?: import('./routes/devices.js').DeviceAdmin;
  /** Authorization sources in the order they are checked. */
  authzSources?: () => AuthzSource[];
  /** The config running now (after reloads); default: the one the API started with. */
  config?: () => Config;
  /** When absent, startAdmin creates one writing under <data_dir>/trace. */
  trace?: TraceService;
}
