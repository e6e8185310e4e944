// The alarm sources that watch the process from outside the data plane (EMQX emqx_os_mon,
// emqx_vm_mon, resource alarms): memory, the data dir's free space, the event loop, bridges and
// listener certificates. Each check raises or clears one named alarm in the registry.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AlarmRegistry } from '../broker/alarms.js';
import type { Config } from '../config/schema.js';

export interface BridgeProbe {
  name: string;
  enable: boolean;
  status: string;
  queued: number;
  lastError?: string | null;
}

export interface SystemMonitorDeps {
  alarms: AlarmRegistry;
  log: Logger;
  dataDir: string;
  bridges: () => BridgeProbe[];
  /** Clients banned for flapping so far (a counter). */
  flappingBans?: () => number;
  /** Injectable for tests. */
  rss?: () => number;
  now?: () => number;
}

const DAY_MS = 86_400_000;

export function alarmSettings(config: Config) {
  return { sizeLimit: config.alarm.size_limit, validityPeriod: config.alarm.validity_period * 1000, actions: config.alarm.actions };
}

/** Listener certificates from the config: [listeners.ssl.*] and [listeners.wss.*] that are enabled. */
export function listenerCertFiles(config: Config): { listener: string; file: string }[] {
  const out: { listener: string; file: string }[] = [];
  for (const type of ['ssl', 'wss'] as const) {
    for (const [name, l] of Object.entries(config.listeners[type])) {
      if (l.enable && l.ssl_options.certfile) out.push({ listener: `${type}:${name}`, file: l.ssl_options.certfile });
    }
  }
  return out;
}

export class SystemMonitor {
  private timers: NodeJS.Timeout[] = [];
  private lag: IntervalHistogram | null = null;
  private config!: Config;
  private readonly rss: () => number;
  private readonly now: () => number;
  private knownBridgeAlarms = new Set<string>();
  private lastFlapping: number | null = null;

  constructor(private readonly deps: SystemMonitorDeps) {
    this.rss = deps.rss ?? (() => process.memoryUsage.rss());
    this.now = deps.now ?? Date.now;
  }

  start(config: Config): void {
    this.stop();
    this.config = config;
    const s = config.sysmon;
    const every = (seconds: number, fn: () => void): void => {
      if (seconds <= 0) return;
      const t = setInterval(() => {
        try {
          fn();
        } catch (err) {
          this.deps.log.warn({ err: (err as Error).message }, 'sysmon_check_failed');
        }
      }, seconds * 1000);
      t.unref();
      this.timers.push(t);
    };
    every(s.os.mem_check_interval, () => this.checkMemory());
    every(s.disk.check_interval, () => this.checkDisk());
    every(s.bridge.check_interval, () => this.checkBridges());
    this.lastFlapping = this.deps.flappingBans?.() ?? null;
    every(s.flapping.check_interval, () => this.checkFlapping());
    if (s.vm.long_schedule > 0) {
      this.lag = monitorEventLoopDelay({ resolution: 20 });
      this.lag.enable();
      // Checked at least once a second so a short stall is seen while it is recent.
      every(Math.min(1, s.os.mem_check_interval || 1), () => this.checkEventLoop());
    }
    // Certificates change only with the config; checking twice a day catches a date crossing.
    this.checkCertificates();
    every(43_200, () => this.checkCertificates());
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.lag?.disable();
    this.lag = null;
  }

  checkMemory(): void {
    const os = this.config.sysmon.os;
    const total = totalmem();
    const sysUsed = ((total - freemem()) / total) * 100;
    const sysHigh = sysUsed > os.sysmem_high_watermark;
    this.deps.alarms.ensure(
      'high_system_memory_usage',
      sysHigh,
      { usage: `${sysUsed.toFixed(2)}%`, high_watermark: os.sysmem_high_watermark },
      `System memory usage is ${sysHigh ? 'higher' : 'lower'} than ${os.sysmem_high_watermark}%`,
    );
    const rss = this.rss();
    const procUsed = (rss / total) * 100;
    const procHigh = procUsed > os.procmem_high_watermark;
    this.deps.alarms.ensure(
      'high_process_memory_usage',
      procHigh,
      { rss, usage: `${procUsed.toFixed(2)}%`, high_watermark: os.procmem_high_watermark },
      `Process memory (RSS ${rss} bytes) is ${procHigh ? 'higher' : 'lower'} than ${os.procmem_high_watermark}% of system memory`,
    );
  }

  checkDisk(): void {
    const low = this.config.sysmon.disk.free_low_watermark;
    const st = statfsSync(this.deps.dataDir);
    const free = st.bavail * st.bsize;
    const near = free < low;
    this.deps.alarms.ensure(
      'store_near_full',
      near,
      { path: this.deps.dataDir, free_bytes: free, free_low_watermark: low },
      near ? `data dir file system has ${free} bytes free, below ${low}` : `data dir file system has ${free} bytes free again`,
    );
  }

  checkEventLoop(): void {
    const h = this.lag;
    if (!h) return;
    const maxMs = h.max / 1e6;
    h.reset();
    const limit = this.config.sysmon.vm.long_schedule;
    const late = maxMs > limit;
    this.deps.alarms.ensure(
      'event_loop_lag',
      late,
      { max_lag_ms: Math.round(maxMs), long_schedule: limit },
      late ? `event loop blocked for ${Math.round(maxMs)} ms (over ${limit} ms)` : 'event loop keeps up again',
    );
  }

  checkBridges(): void {
    const seen = new Set<string>();
    const high = this.config.sysmon.bridge.backlog_high_watermark;
    for (const b of this.deps.bridges()) {
      // EMQX names a resource's alarm by its resource id.
      const down = `connector:mqtt:${b.name}`;
      const backlog = `bridge_backlog:mqtt:${b.name}`;
      seen.add(down).add(backlog);
      const isDown = b.enable && b.status !== 'connected';
      this.deps.alarms.ensure(down, isDown, { bridge: b.name, status: b.status, reason: b.lastError ?? null }, isDown ? `resource down: ${b.lastError ?? b.status}` : 'resource up');
      const over = b.queued > high;
      this.deps.alarms.ensure(backlog, over, { bridge: b.name, queued: b.queued, high_watermark: high }, over ? `bridge ${b.name} has ${b.queued} messages queued (over ${high})` : `bridge ${b.name} backlog below ${high}`);
    }
    // A bridge removed by a reload clears its alarms.
    for (const name of this.knownBridgeAlarms) if (!seen.has(name)) this.deps.alarms.ensure(name, false, {}, 'bridge removed');
    this.knownBridgeAlarms = seen;
  }

  /** Many clients banned for flapping at once: a fleet reconnecting in a loop (a bad rollout, a broken network). */
  checkFlapping(): void {
    const count = this.deps.flappingBans?.();
    if (count === undefined) return;
    const since = count - (this.lastFlapping ?? count);
    this.lastFlapping = count;
    const f = this.config.sysmon.flapping;
    const storm = since >= f.storm_threshold;
    this.deps.alarms.ensure(
      'flapping_ban_storm',
      storm,
      { banned: since, window_s: f.check_interval, storm_threshold: f.storm_threshold },
      storm ? `${since} clients banned for flapping in ${f.check_interval} s` : 'flapping bans back below the storm threshold',
    );
  }

  checkCertificates(): void {
    const days = this.config.sysmon.cert.expiry_warning_days;
    const now = this.now();
    for (const { listener, file } of listenerCertFiles(this.config)) {
      const name = `certificate_expiring:${listener}`;
      let validTo: number;
      try {
        validTo = Date.parse(new X509Certificate(readFileSync(file)).validTo);
      } catch (err) {
        this.deps.log.warn({ listener, file, err: (err as Error).message }, 'certificate_unreadable_for_expiry_check');
        continue;
      }
      const left = validTo - now;
      const soon = days > 0 && left < days * DAY_MS;
      this.deps.alarms.ensure(
        name,
        soon,
        { listener, certfile: file, expiry_at: new Date(validTo).toISOString(), days_left: Math.floor(left / DAY_MS) },
        soon ? `certificate of listener ${listener} expires ${new Date(validTo).toISOString()}` : `certificate of listener ${listener} renewed`,
      );
    }
  }
}
