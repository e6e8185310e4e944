// Wiring and lifecycle: open the store, build the broker, start listeners and gateways, and stop
// it all again in order. The only module that knows every other one.
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import { GATEWAYS } from '../../gateways/index.js';
import type { Gateway, ListenerInfo } from '../../gateways/gateway.js';
import { createAuth, type AuthServices } from '../auth/index.js';
import { Broker } from '../broker/broker.js';
import { GatewayHost } from '../broker/gateway-host.js';
import { Metrics } from '../broker/metrics.js';
import { systemClock, type Clock } from '../broker/types.js';
import type { Config } from '../config/schema.js';
import { MqttFront } from '../mqtt/front.js';
import type { ListenerHandle } from '../mqtt/listener.js';
import { startExtraListeners } from '../mqtt/listeners/index.js';
import { startTcpListener } from '../mqtt/tcp-listener.js';
import { Store } from '../store/store.js';

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
}

export async function startOutpost(config: Config, opts: StartOptions): Promise<Runtime> {
  const log = opts.log;
  const clock = opts.clock ?? systemClock;
  const dataDir = config.node.data_dir;
  mkdirSync(dataDir, { recursive: true });
  const dbPath = isAbsolute(config.store.file) ? config.store.file : join(dataDir, config.store.file);
  const store = Store.open({ path: dbPath, synchronous: config.store.synchronous, log });
  const metrics = new Metrics();
  metrics.registerGauge('store.size_bytes', () => store.sizeBytes());
  metrics.registerGauge('store.last_commit_ms', () => store.lastCommitMs);
  metrics.registerGauge('store.max_commit_ms', () => store.maxCommitMs);
  let auth = createAuth(config, store, log, clock);
  let current = config;
  const broker = new Broker({ config, store, log, clock, metrics, authorizer: auth.authorizer, guard: auth.guard });
  broker.start();
  if (store.quarantined) {
    metrics.c['store.quarantined']++;
    metrics.registerGauge('store.quarantined', () => 1);
    broker.sys.alarm('store_quarantined', true, { message: `database moved aside to ${store.quarantined.movedTo}`, ...store.quarantined });
  }
  const front = new MqttFront({
    broker,
    authenticator: () => auth.authenticator,
    rateLimits: () => auth.rateLimits,
    log,
    clock,
    mqtt: () => current.mqtt,
  });
  const listeners: ListenerHandle[] = [];
  const gateways: RunningGateway[] = [];
  try {
    if (config.mqtt.enable) {
      listeners.push(await startTcpListener({ id: 'tcp:default', bind: config.mqtt.bind, port: config.mqtt.port, maxConnections: config.mqtt.max_connections }, front.accept, log));
    }
    listeners.push(...(await startExtraListeners(config, front.accept, log)));
  } catch (err) {
    for (const l of listeners) await l.close();
    broker.stop();
    store.close();
    throw err;
  }
  for (const mod of GATEWAYS) {
    const gcfg = (config.gateway as Record<string, { enable?: boolean; mountpoint?: string }>)[mod.name];
    if (!gcfg?.enable) continue;
    const host = new GatewayHost({ name: mod.name, broker, authenticator: () => auth.authenticator, log: log.child({ gw: mod.name }), mountpoint: gcfg.mountpoint ?? '' });
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

  const ports = (): Record<string, number> => {
    const out: Record<string, number> = {};
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
  const rt: Runtime = {
    get config() {
      return current;
    },
    broker,
    store,
    get auth() {
      return auth;
    },
    front,
    listeners,
    gateways,
    log,
    dataDir,
    ports,
    async reload(next: Config) {
      // Only what can change live; listener binds and the store path need a restart.
      broker.reload(next);
      auth.reload(next);
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
      // Stop accepting first, then end every connection (v5 clients get DISCONNECT 0x8B), and only
      // then wait for the listeners: a server's close waits for its open connections.
      const closing = listeners.map((l) => l.close().catch(() => {}));
      for (const g of gateways) if (g.gateway && g.status === 'running') await g.gateway.stop().catch((err: unknown) => log.error({ gw: g.name, err }, 'gateway_stop_failed'));
      broker.stop();
      await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 3000).unref())]);
      auth.close();
      store.close();
    },
  };
  void (auth = auth);
  return rt;
}

/** runtime.json tells tests and tools which ports the daemon bound (port 0 in config). */
export function writeRuntimeFile(rt: Runtime): void {
  const path = join(rt.dataDir, 'runtime.json');
  writeFileSync(path + '.tmp', JSON.stringify({ pid: process.pid, listeners: rt.ports() }));
  renameSync(path + '.tmp', path);
}
