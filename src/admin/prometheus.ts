// Prometheus exposition. The broker's counters stay plain integers on the hot path; they are read
// into a prom-client registry only when scraped. EMQX-named metrics keep EMQX's Prometheus names
// (`messages.received` -> `emqx_messages_received`, `connections.count` -> `emqx_connections_count`,
// emqx_prometheus.erl) so existing dashboards work; Outpost's own gauges are `outpost_*`.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BrokerApi } from '../broker/api.js';
import type { GatewaySummary } from './deps.js';

/** `a.b-c` -> `prefix_a_b_c`; Prometheus names are [a-zA-Z_:][a-zA-Z0-9_:]*. */
export function promName(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

export class PrometheusExporter {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();

  /** outpost_dtls_* by name: labelled by gateway and listener, rebuilt from the listeners at each scrape. */
  private readonly dtls = new Map<string, Gauge<'gateway' | 'listener'> | Counter<'gateway' | 'listener'>>();

  constructor(
    private readonly broker: BrokerApi,
    private readonly gateways: () => GatewaySummary[] = () => [],
  ) {
    // process_* (memory, CPU, fds) and nodejs_* (heap, GC, event-loop lag) from prom-client itself.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    this.sync();
    return this.registry.metrics();
  }

  async json(): Promise<unknown> {
    this.sync();
    return this.registry.getMetricsAsJSON();
  }

  /** Copy the broker's current numbers into the registry. */
  private sync(): void {
    const b = this.broker;
    const seen = new Set<string>();
    for (const [name, v] of Object.entries(b.metrics.snapshot())) this.setCounter(promName('emqx', name), v, `EMQX metric ${name}`, seen);
    for (const [name, v] of Object.entries(b.stats())) this.setGauge(promName('emqx', name), v, `EMQX stat ${name}`, seen);
    for (const [name, v] of Object.entries(b.metrics.gaugeSnapshot())) this.setGauge(promName('outpost', name), v, `gauge ${name}`, seen);
    // A single node: the EMQX cluster gauges dashboards expect.
    this.setGauge('emqx_cluster_nodes_running', 1, 'Nodes running in the cluster', seen);
    this.setGauge('emqx_cluster_nodes_stopped', 0, 'Nodes stopped in the cluster', seen);
    const store = b.store;
    this.setGauge('outpost_store_size_bytes', store.sizeBytes(), 'SQLite database size including WAL', seen);
    this.setCounter('outpost_store_commits_total', store.commits, 'Group commits since start', seen);
    this.setGauge('outpost_store_last_commit_seconds', store.lastCommitMs / 1000, 'Duration of the last group commit', seen);
    this.setGauge('outpost_store_max_commit_seconds', store.maxCommitMs / 1000, 'Longest group commit since start', seen);
    this.syncDtls();
    this.setGauge('outpost_uptime_seconds', Math.max(0, (b.clock.now() - b.startedAt) / 1000), 'Seconds since the broker started', seen);
    // Dynamic gauges (a gateway that stopped) disappear rather than freeze at their last value.
    for (const [name] of this.gauges) {
      if (!seen.has(name)) {
        this.registry.removeSingleMetric(name);
        this.gauges.delete(name);
      }
    }
  }

  /** The DTLS engines' counters, one series per gateway listener (a stopped listener's series go). */
  private syncDtls(): void {
    for (const m of this.dtls.values()) m.reset();
    for (const g of this.gateways()) {
      for (const l of g.listeners) {
        if (!l.dtls) continue;
        const labels = { gateway: g.name, listener: l.id };
        for (const [stat, v] of Object.entries(l.dtls)) {
          const info = DTLS_STATS[stat];
          if (!info) continue;
          let m = this.dtls.get(stat);
          if (!m) {
            const opts = { name: info.name, help: info.help, labelNames: ['gateway', 'listener'] as const, registers: [this.registry] };
            m = info.gauge ? new Gauge(opts) : new Counter(opts);
            this.dtls.set(stat, m);
          }
          if (m instanceof Gauge) m.set(labels, v);
          else if (v > 0) m.inc(labels, v);
        }
      }
    }
  }

  private setCounter(name: string, v: number, help: string, seen: Set<string>): void {
    if (seen.has(name) || this.gauges.has(name)) return;
    seen.add(name);
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name, help, registers: [this.registry] });
      this.counters.set(name, c);
    }
    c.reset();
    if (v > 0) c.inc(v);
  }

  private setGauge(name: string, v: number, help: string, seen: Set<string>): void {
    if (seen.has(name) || this.counters.has(name)) return;
    seen.add(name);
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({ name, help, registers: [this.registry] });
      this.gauges.set(name, g);
    }
    g.set(Number.isFinite(v) ? v : 0);
  }
}

/** The engine's stats() fields as Prometheus series (gateways/transport/dtls). */
const DTLS_STATS: Record<string, { name: string; help: string; gauge?: true }> = {
  peers: { name: 'outpost_dtls_sessions', help: 'Established DTLS sessions', gauge: true },
  handshakes: { name: 'outpost_dtls_handshakes_in_progress', help: 'DTLS handshakes past the cookie exchange, not finished', gauge: true },
  handshakesDone: { name: 'outpost_dtls_handshakes_total', help: 'DTLS handshakes completed' },
  handshakeFailures: { name: 'outpost_dtls_handshake_failures_total', help: 'DTLS handshakes failed (bad key, unknown identity, timeout, alert)' },
  cookieRejects: { name: 'outpost_dtls_cookie_rejects_total', help: 'ClientHellos answered with a HelloVerifyRequest (no cookie, or a stale or forged one); no state kept' },
  alerts: { name: 'outpost_dtls_alerts_total', help: 'DTLS alerts other than close_notify, sent or received' },
  evicted: { name: 'outpost_dtls_evicted_total', help: 'DTLS sessions closed for idleness' },
  refused: { name: 'outpost_dtls_refused_total', help: 'Valid handshakes refused because the session or handshake cap was full' },
  dropped: { name: 'outpost_dtls_dropped_total', help: 'Datagrams dropped: not DTLS for a known peer, or sent to a peer without a session' },
};
