// Wiring and lifecycle: open the store, build the broker, start listeners and gateways, and stop
// it all again in order. The only module that knows every other one.
import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { runtimePointerPath } from '../admin/local-key.js';
import { writeToStream } from 'mqtt-packet';
import type { Logger } from 'pino';
import { GATEWAYS } from '../../gateways/index.js';
import type { Gateway, ListenerInfo } from '../../gateways/gateway.js';
import type { AuthzSource, BridgeStatus as AdminBridgeStatus, GatewaySummary, ReloadResult } from '../admin/deps.js';
import { startAdmin } from '../admin/lazy.js';
import { MonitorSampler } from '../admin/monitor.js';
import type { AdminService } from '../admin/server.js';
import { banAdmin, userDbAdmin } from '../auth/admin-adapters.js';
import { createAuth, DEFAULT_ACL, type AuthServices } from '../auth/index.js';
import { startBridges, type BridgeService } from '../bridge/index.js';
import { AlarmRegistry } from '../broker/alarms.js';
import { Broker } from '../broker/broker.js';
import { alarmSettings, SystemMonitor } from './alarms.js';
import { GatewayHost } from './gateway-host.js';
import { Metrics } from '../core/metrics.js';
import { systemClock, type Clock } from '../core/types.js';
import type { Config } from '../config/schema.js';
import { MqttFront } from '../mqtt/front.js';
import type { ListenerHandle } from '../mqtt/listener.js';
import { startExtraListeners, withConnectionCap } from '../mqtt/listeners/index.js';
import { startTcpListener } from '../mqtt/tcp-listener.js';
import { Store } from '../store/store.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';

// mqtt-packet's writer fills a cache of all 65,536 two-byte numbers as Buffers on its first write: ~6 MB
// of heap for the life of the process, which showed up as ~0.6 KiB per connection in the bench's
// idle-conns scenario (10,000 connections; heap snapshot, 2026-11-22). PUBLISH traffic goes through
// Outpost's own codec (mqtt/hot-codec.ts); mqtt-packet writes control packets here and the bridge's
// packets (MQTT.js shares the module), where a 2-byte allocation per number costs nothing.
writeToStream.cacheNumbers = false;

export interface RunningGateway {
  name: string;
  status: 'running' | 'stopped' | 'failed';
  error?: string;
  gateway: Gateway | null;
  host: GatewayHost;
  startedAt: number;
}

export interface Runtime {
  config: Config;
  broker: Broker;
  store: Store;
  auth: AuthServices;
  bridges: BridgeService;
  admin: AdminService;
  front: MqttFront;
  listeners: ListenerHandle[];
  gateways: RunningGateway[];
  log: Logger;
  dataDir: string;
  /** Listener id -> bound port, as written to runtime.json. */
  ports(): Record<string, number>;
  reload(next: Config): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  clock?: Clock;
  /** Re-read the config source (file + env) for API-triggered reloads; throws (rejects) on a bad config. */
  loadConfig?: () => Config | Promise<Config>;
}

export async function startOutpost(config: Config, opts: StartOptions): Promise<Runtime> {
  const dataDir = config.node.data_dir;
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    throw new StartupError('node.data_dir', `node.data_dir ${dataDir}: ${(err as Error).message}`);
  }
  // Before anything opens or writes in the dir (store, local API key, runtime.json): a second daemon
  // on the same dir stops here with DataDirLockedError (issue 15).
  const lock = lockDataDir(dataDir);
  try {
    return await startLocked(config, opts, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startLocked(config: Config, opts: StartOptions, lock: DataDirLock): Promise<Runtime> {
  const log = opts.log;
  const clock = opts.clock ?? systemClock;
  const dataDir = config.node.data_dir;
  const dbPath = isAbsolute(config.store.file) ? config.store.file : join(dataDir, config.store.file);
  const store = Store.open({ path: dbPath, synchronous: config.store.synchronous, log });
  const metrics = new Metrics();
  metrics.registerGauge('store.size_bytes', () => store.sizeBytes());
  metrics.registerGauge('store.last_commit_ms', () => store.lastCommitMs);
  metrics.registerGauge('store.max_commit_ms', () => store.maxCommitMs);
  const auth = createAuth(config, store, log, clock, metrics);
  let current = config;
  const broker = new Broker({ config, store, log, clock, metrics, authorizer: auth.authorizer, guard: auth.guard });
  broker.start();
  // EMQX's alarm registry: kept here, published on $SYS by the broker's publisher (broker/alarms.ts).
  const alarms = new AlarmRegistry(
    {
      publish: (name, activate, details, at) => broker.sys.alarm(name, activate, details, at),
      log: (event, a) => log.warn({ alarm: a.name, message: a.message }, event),
    },
    () => clock.now(),
    alarmSettings(config),
  );
  if (store.quarantined) {
    metrics.c['store.quarantined']++;
    metrics.registerGauge('store.quarantined', () => 1);
    alarms.activate('store_quarantined', { ...store.quarantined }, `database moved aside to ${store.quarantined.movedTo}`);
  }
  metrics.registerGauge('store.pending_ops', () => store.pendingOps);
  metrics.registerGauge('store.rejected_ops', () => store.rejectedOps);
  metrics.registerGauge('store.write_failing', () => (store.writeFailure === null ? 0 : 1));
  metrics.registerGauge('store.writable', () => (store.writable ? 1 : 0));
  // Commits failing for the disk (full, I/O error): acks are held; say so until a commit succeeds.
  store.onWriteFailing = (f) => {
    if (f) alarms.activate('store_write_failing', { ...f, error: f.message }, f.outOfSpace ? 'disk full: nothing can be stored, acknowledgements are held' : `store writes failing (${f.code}): acknowledgements are held`);
    else alarms.deactivate('store_write_failing', undefined, 'store writes succeed again');
  };
  const front = new MqttFront({
    broker,
    authenticator: () => auth.authenticator,
    rateLimits: () => auth.rateLimits,
    log,
    clock,
    mqtt: () => current.mqtt,
  });
  // limiter.max_connections: one cap across every MQTT listener.
  const accept = withConnectionCap(front.accept, auth.connections, log);
  const listeners: ListenerHandle[] = [];
  const gateways: RunningGateway[] = [];
  try {
    if (config.mqtt.enable) {
      try {
        listeners.push(await startTcpListener({ id: 'tcp:default', bind: config.mqtt.bind, port: config.mqtt.port, maxConnections: config.mqtt.max_connections, maxConnRate: config.mqtt.max_conn_rate }, accept, log));
      } catch (err) {
        throw bindFailure(err, 'mqtt', config.mqtt);
      }
    }
    try {
      listeners.push(...(await startExtraListeners(config, accept, log)));
    } catch (err) {
      // "listener ssl:default failed to start: ..." (mqtt/listeners/index.ts) names the section.
      const m = /^listener (ssl|ws|wss):([A-Za-z0-9_-]+) failed to start: (.*)$/s.exec((err as Error).message);
      const l = m ? config.listeners[m[1] as 'ssl' | 'ws' | 'wss'][m[2]!] : undefined;
      if (!m || !l) throw err;
      const section = `listeners.${m[1]}.${m[2]}`;
      const bound = bindFailure(err, section, l);
      if (bound !== err) throw bound;
      // A certificate file that cannot be read is named by its key; anything else by the listener's.
      const why = m[3]!.replace(/^listener \S+: /, '');
      const file = /^(certfile|keyfile|cacertfile) (.*)$/s.exec(why);
      throw file ? new StartupError(`${section}.ssl_options.${file[1]}`, `${section}.ssl_options.${file[1]} ${file[2]}`) : new StartupError(section, `${section}: ${why}`);
    }
  } catch (err) {
    for (const l of listeners) await l.close();
    broker.stop();
    store.close();
    throw err;
  }
  for (const entry of GATEWAYS) {
    const gcfg = (config.gateway as Record<string, { enable?: boolean; mountpoint?: string }>)[entry.name];
    if (!gcfg?.enable) continue;
    const mod = await entry.load();
    const host = new GatewayHost({ name: mod.name, protoName: mod.protoName, sysName: mod.sysName, broker, authenticator: () => auth.authenticator, log: log.child({ gw: mod.name }), mountpoint: gcfg.mountpoint ?? '', topicIds: (id) => auth.devices.topicIdsFor(id), psk: auth.psk });
    const rg: RunningGateway = { name: mod.name, status: 'stopped', gateway: null, host, startedAt: 0 };
    gateways.push(rg);
    try {
      rg.gateway = mod.create(host, gcfg);
      await rg.gateway.start();
      rg.status = 'running';
      rg.startedAt = clock.now();
      log.info({ gw: mod.name, listeners: rg.gateway.listeners() }, 'gateway_started');
    } catch (err) {
      // A gateway that fails to start does not take the others down.
      rg.status = 'failed';
      rg.error = (err as Error).message;
      log.error({ gw: mod.name, err }, 'gateway_start_failed');
    }
  }

  const bridges = await startBridges(broker, config, log);
  const sysmon = new SystemMonitor({
    alarms,
    log,
    dataDir,
    bridges: () => bridges.status().map((b) => ({ name: b.name, enable: b.enable, status: b.status, queued: b.queued, lastError: b.lastError ?? null })),
    flappingBans: () => metrics.get('client.flapping'),
  });
  sysmon.start(config);
  // The dashboard's history (/monitor) starts at boot, not at the API's first request.
  const monitor = new MonitorSampler(broker);
  monitor.start();
  let lifecycle: 'starting' | 'running' | 'stopping' = 'starting';
  let rt: Runtime;
  const reloadFromSource = async (): Promise<ReloadResult> => {
    if (!opts.loadConfig) return { ok: false, error: 'reload is not available' };
    try {
      await rt.reload(await opts.loadConfig());
      return { ok: true };
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'config_reload_rejected: keeping the running config');
      return { ok: false, error: (err as Error).message };
    }
  };
  let admin: AdminService;
  try {
    admin = await startAdmin(
      {
        broker,
        log,
        users: userDbAdmin(auth.users),
        bans: banAdmin(auth.bans),
        bridges: {
          list: () => bridges.status().map(toAdminBridge),
          restart: (id: string) => bridges.restart(id.startsWith('mqtt:') ? id.slice(5) : id),
        },
        gateways: {
          list: () =>
            gateways
              .map((g): GatewaySummary => ({
              name: g.name,
              status: g.status === 'running' ? 'running' : 'stopped',
              createdAt: g.startedAt,
              startedAt: g.startedAt,
              maxConnections: 1_024_000,
              listeners: g.gateway ? g.gateway.listeners().map((l) => ({ id: l.id, type: l.type, bind: l.bind, running: l.running, ...(l.dtls ? { dtls: l.dtls } : {}) })) : [],
            }))
              // EMQX lists every gateway it knows; those not enabled show as unloaded.
              .concat(GATEWAYS.filter((e) => !gateways.some((g) => g.name === e.name)).map((e) => ({ name: e.name, status: 'unloaded' as const, createdAt: 0, startedAt: 0, maxConnections: 0, listeners: [] }))),
          request: (name: string, clientId: string, body: unknown) => {
            const g = gateways.find((x) => x.name === name && x.status === 'running');
            return g?.gateway?.deviceRequest ? g.gateway.deviceRequest(clientId, body) : null;
          },
        },
        listeners: () =>
          listeners.map((l) => ({ id: l.id, type: l.type, bind: `${l.bind}:${l.port}`, running: true, currentConnections: l.currentConnections(), maxConnections: 0 })),
        listenerAction: async (id: string, action: 'start' | 'stop' | 'restart') => {
          const [type, name = ''] = id.split(':');
          const declared = id === 'tcp:default' || ((type === 'ssl' || type === 'ws' || type === 'wss') && name in current.listeners[type]);
          if (!declared) return false;
          if (action !== 'start') {
            const i = listeners.findIndex((l) => l.id === id);
            // close() stops accepting at once and cuts the listener's connections after a grace period.
            if (i >= 0) await listeners.splice(i, 1)[0]!.close();
          }
          if (action !== 'stop' && !listeners.some((l) => l.id === id)) listeners.push(await startOneListener(current, id, accept, log));
          writeRuntimeFile(rt);
          return true;
        },
        reload: reloadFromSource,
        lifecycle: () => lifecycle,
        alarms,
        monitor,
        config: () => current,
        acl: auth.acl,
        devices: auth.devices,
        authzSources: () => authzSources(current),
      },
      config,
    );
  } catch (err) {
    err = bindFailure(err, 'api', config.api);
    sysmon.stop();
    monitor.stop();
    await bridges.stop();
    // The gateways hold sockets too: left open, the process would never exit and systemd would
    // wait out its whole start timeout instead of seeing the failure.
    for (const g of gateways) if (g.gateway && g.status === 'running') await g.gateway.stop().catch(() => {});
    for (const l of listeners) await l.close();
    broker.stop();
    store.close();
    throw err;
  }

  const ports = (): Record<string, number> => {
    const out: Record<string, number> = {};
    if (admin.port) out['api:http'] = admin.port;
    for (const l of listeners) out[l.type === 'tcp' ? 'mqtt:tcp' : `mqtt:${l.id}`] = l.port;
    for (const g of gateways) {
      if (!g.gateway || g.status !== 'running') continue;
      for (const li of g.gateway.listeners() as ListenerInfo[]) {
        const port = Number(li.bind.slice(li.bind.lastIndexOf(':') + 1));
        if (Number.isFinite(port)) out[`${g.name}:${li.id}`] = port;
      }
    }
    return out;
  };

  let stopped = false;
  rt = {
    get config() {
      return current;
    },
    broker,
    store,
    auth,
    bridges,
    admin,
    front,
    listeners,
    gateways,
    log,
    dataDir,
    ports,
    async reload(next: Config) {
      // Only what can change live; listener binds and the store path need a restart.
      // auth first: it throws on a bad ACL file and keeps the old rules, so nothing is half-applied.
      auth.reload(next);
      broker.reload(next);
      for (const l of listeners) await l.reload?.(next).catch((err: unknown) => log.error({ listener: l.id, err }, 'listener_reload_failed: keeping the old certificates'));
      await bridges.reload(next);
      alarms.configure(alarmSettings(next));
      sysmon.start(next);
      log.level = next.log.level;
      for (const g of gateways) {
        const gcfg = (next.gateway as Record<string, unknown>)[g.name];
        if (g.gateway?.reload && gcfg) {
          try {
            await g.gateway.reload(gcfg);
          } catch (err) {
            log.error({ gw: g.name, err }, 'gateway_reload_failed: keeping the old settings');
          }
        }
      }
      current = next;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      lifecycle = 'stopping';
      sysmon.stop();
      monitor.stop();
      await admin.close().catch(() => {});
      // Bridges disconnect cleanly (no UNSUBSCRIBE); their queued messages stay in the store.
      await bridges.stop().catch((err: unknown) => log.error({ err }, 'bridges_stop_failed'));
      // Stop accepting first, then end every connection (v5 clients get DISCONNECT 0x8B), and only
      // then wait for the listeners: a server's close waits for its open connections.
      const closing = listeners.map((l) => l.close().catch(() => {}));
      for (const g of gateways) if (g.gateway && g.status === 'running') await g.gateway.stop().catch((err: unknown) => log.error({ gw: g.name, err }, 'gateway_stop_failed'));
      broker.stop();
      await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 3000).unref())]);
      auth.close();
      store.close();
      lock.release();
      removeRuntimePointer();
    },
  };
  lifecycle = 'running';
  return rt;
}

/** Start one declared MQTT listener (enabled or not in the config), as at start. */
async function startOneListener(config: Config, id: string, accept: Parameters<typeof startTcpListener>[1], log: Logger): Promise<ListenerHandle> {
  if (id === 'tcp:default') {
    const m = config.mqtt;
    return startTcpListener({ id, bind: m.bind, port: m.port, maxConnections: m.max_connections, maxConnRate: m.max_conn_rate }, accept, log);
  }
  const [type, name] = id.split(':') as ['ssl' | 'ws' | 'wss', string];
  const one = { ...config, listeners: { ssl: {}, ws: {}, wss: {}, [type]: { [name]: { ...config.listeners[type][name], enable: true } } } } as Config;
  const [handle] = await startExtraListeners(one, accept, log);
  return handle!;
}

/** [authorization] as EMQX's GET /authorization/sources shows it; the file source with its rules text. */
function authzSources(config: Config): AuthzSource[] {
  const a = config.authorization;
  return a.sources.map((type): AuthzSource => {
    if (type === 'built_in_database') return { type, enable: true };
    let rules: string;
    try {
      rules = a.file.path === '' ? DEFAULT_ACL : readFileSync(isAbsolute(a.file.path) ? a.file.path : join(config.node.data_dir, a.file.path), 'utf8');
    } catch (err) {
      rules = `# cannot read ${a.file.path}: ${(err as Error).message}`;
    }
    return { type, enable: a.file.enable, path: a.file.path, rules };
  });
}

function toAdminBridge(b: ReturnType<BridgeService['status']>[number]): AdminBridgeStatus {
  const c = b.counters;
  const metrics: Record<string, number> = {
    matched: c.matched,
    success: c.success,
    failed: c.failed,
    dropped: c.dropped,
    retried: c.retried,
    received: c.received,
    queuing: b.queued,
    inflight: b.inflight,
    'queuing.bytes': b.queuedBytes,
    'replay.lag_ms': b.replayLagMs,
    'oldest_queued.age_ms': b.oldestQueuedAgeMs,
  };
  for (const [k, v] of Object.entries(c.droppedBy)) metrics[`dropped.${k}`] = v ?? 0;
  return { id: `mqtt:${b.name}`, name: b.name, type: 'mqtt', enable: b.enable, status: b.status, ...(b.lastError ? { statusReason: b.lastError } : {}), metrics };
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this host',
};

/**
 * A start-up failure an operator can act on from one line: the config key, the value and the cause.
 * main.ts prints its message alone on stderr, without a stack.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** A listen() failure as `mqtt.port 1883: address already in use (bind 0.0.0.0)`; anything else unchanged. */
function bindFailure(err: unknown, section: string, l: { bind: string; port: number }): unknown {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' && BIND_ERRORS[e.code] ? e.code : /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(String(e.message ?? ''))?.[1];
  if (!code) return err;
  return new StartupError(`${section}.port`, `${section}.port ${l.port}: ${BIND_ERRORS[code]} (bind ${l.bind})`);
}

/**
 * runtime.json tells tests and tools which ports the daemon bound (port 0 in config). The per-user
 * pointer (admin/local-key.ts runtimePointerPath) lets outpostctl find a foreground daemon's data dir
 * from anywhere; it is best effort, a read-only tmp dir costs nothing.
 */
export function writeRuntimeFile(rt: Runtime): void {
  const path = join(rt.dataDir, 'runtime.json');
  writeFileSync(path + '.tmp', JSON.stringify({ pid: process.pid, listeners: rt.ports() }));
  renameSync(path + '.tmp', path);
  const pointer = runtimePointerPath(process.env, tmpdir(), process.getuid?.() ?? 0);
  try {
    // Exclusive create: in a shared /tmp a name planted beforehand (a symlink) is refused, not followed.
    const tmp = `${pointer}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, data_dir: resolve(rt.dataDir) }), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, pointer);
  } catch {
    // No pointer: outpostctl still finds the daemon by --data-dir or its working directory.
  }
}

/** Removes the per-user pointer if it still names this process (a later daemon may own it now). */
export function removeRuntimePointer(): void {
  const pointer = runtimePointerPath(process.env, tmpdir(), process.getuid?.() ?? 0);
  try {
    const p = JSON.parse(readFileSync(pointer, 'utf8')) as { pid?: unknown };
    if (p.pid === process.pid) rmSync(pointer, { force: true });
  } catch {
    // Gone already or never written.
  }
}
