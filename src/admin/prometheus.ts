// Prometheus exposition. The broker's counters stay plain integers on the hot path; they are read
// into a prom-client registry only when scraped. EMQX-named metrics keep EMQX's Prometheus names
// (`messages.received` -> `emqx_messages_received`, `connections.count` -> `emqx_connections_count`,
// emqx_prometheus.erl) so existing dashboards work; Outpost's own gauges are `outpost_*`.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BrokerApi } from '../broker/api.js';

/** `a.b-c` -> `prefix_a_b_c`; Prometheus names are [a-zA-Z_:][a-zA-Z0-9_:]*. */
export function promName(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

export class PrometheusExporter {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();

  constructor(private readonly broker: BrokerApi) {
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
    this.setGauge('outpost_uptime_seconds', Math.max(0, (b.clock.now() - b.startedAt) / 1000), 'Seconds since the broker started', seen);
    // Dynamic gauges (a gateway that stopped) disappear rather than freeze at their last value.
    for (const [name] of this.gauges) {
      if (!seen.has(name)) {
        this.registry.removeSingleMetric(name);
        this.gauges.delete(name);
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
