// Runtime entry point for upstream bridges. The runtime calls startBridges() once the broker and the
// store are up, stop() during graceful shutdown (before the store closes) and reload() on SIGHUP.
import type { Logger } from 'pino';
import type { BrokerApi } from '../broker/api.js';
import type { Config } from '../config/schema.js';
import { Bridge } from './bridge.js';
import { emptyCounters, emptyRates, type BridgeStatus } from './status.js';
import type { BridgeConfig } from './config.js';

export type { BridgeConfig } from './config.js';
export type { BridgeStatus, BridgeCounters } from './status.js';
export { toEmqxMetrics } from './status.js';

export interface BridgeService {
  /** Graceful: DISCONNECT each upstream (no UNSUBSCRIBE); queued messages stay in the store. */
  stop(): Promise<void>;
  /** Applies a new config: unchanged bridges keep running, changed ones restart, removed ones stop (their log stays). */
  reload(config: Config): Promise<void>;
  status(): BridgeStatus[];
  /** Reconnect one bridge now (resets its backoff); false when there is no such running bridge. */
  restart(name: string): Promise<boolean>;
}

export interface StartOptions {
  /** Jitter source for reconnect backoff, [0, 1); tests inject a fixed one. */
  random?: () => number;
}

class Service implements BridgeService {
  private readonly bridges = new Map<string, { cfg: BridgeConfig; key: string; bridge: Bridge | null }>();

  constructor(
    private readonly broker: BrokerApi,
    private readonly log: Logger,
    private readonly opts: StartOptions,
  ) {}

  private launch(name: string, cfg: BridgeConfig): void {
    const key = JSON.stringify(cfg);
    if (!cfg.enable) {
      this.bridges.set(name, { cfg, key, bridge: null });
      return;
    }
    const b = new Bridge(this.broker, cfg, name, this.log, { node: this.broker.node, ...(this.opts.random ? { random: this.opts.random } : {}) });
    this.bridges.set(name, { cfg, key, bridge: b });
    b.start();
  }

  start(config: Config): void {
    for (const [name, cfg] of Object.entries(config.bridges)) this.launch(name, cfg);
    if (this.bridges.size > 0) this.log.info({ bridges: [...this.bridges.keys()] }, 'bridges_started');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.bridges.values()].map((b) => b.bridge?.stop()));
    this.bridges.clear();
  }

  async reload(config: Config): Promise<void> {
    const next = config.bridges;
    for (const [name, cur] of [...this.bridges]) {
      const cfg = next[name];
      if (cfg && JSON.stringify(cfg) === cur.key) continue;
      await cur.bridge?.stop();
      this.bridges.delete(name);
      if (!cfg) {
        const n = (this.broker.store.db.prepare('SELECT count(*) AS n FROM bridge_log WHERE bridge = ?').get(name) as { n: number } | undefined)?.n ?? 0;
        if (n > 0) this.log.warn({ bridge: name, queued: n }, 'bridge_removed_with_backlog: kept in the store until a bridge of this name returns');
      }
    }
    // Appends of stopped bridges must be in the file before a new instance reads its log back.
    this.broker.store.flush();
    for (const [name, cfg] of Object.entries(next)) if (!this.bridges.has(name)) this.launch(name, cfg);
  }

  status(): BridgeStatus[] {
    const out: BridgeStatus[] = [];
    for (const [name, b] of this.bridges) {
      if (b.bridge) out.push(b.bridge.status());
      else
        out.push({
          name,
          enable: false,
          status: 'stopped',
          healthy: false,
          server: null,
          clientId: b.cfg.clientid ?? `${this.broker.node}:${name}`,
          lastError: null,
          lastErrorCode: null,
          connectedAt: 0,
          lastAckAt: 0,
          queued: 0,
          queuedBytes: 0,
          inflight: 0,
          replayLagMs: 0,
          oldestQueuedAgeMs: 0,
          counters: emptyCounters(),
          rates: emptyRates(),
        });
    }
    return out;
  }

  async restart(name: string): Promise<boolean> {
    const b = this.bridges.get(name)?.bridge;
    if (!b) return false;
    b.restartLink();
    return true;
  }
}

export async function startBridges(broker: BrokerApi, config: Config, log: Logger, opts: StartOptions = {}): Promise<BridgeService> {
  const s = new Service(broker, log, opts);
  s.start(config);
  return s;
}
