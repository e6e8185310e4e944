// Node health at a glance: tiles from /nodes and /stats, live charts of connections and message
// rates (per-second deltas of the /metrics counters between two polls).
import { get, type Page } from '../api.js';
import { LiveChart } from '../chart.js';
import { facts, fmtBytes, fmtDuration, h } from '../dom.js';
import type { PageCtx } from '../page.js';

interface NodeInfo {
  node: string;
  version: string;
  uptime: number;
  connections: number;
  live_connections: number;
  memory_used: number;
  load1: number;
}
type Counters = Record<string, number>;
interface PromFamily {
  name: string;
  values: { value: number }[];
}

const POLL_MS = 2000;

export function overviewPage(ctx: PageCtx): void {
  const tiles = h('div', { class: 'tiles' });
  const connChart = new LiveChart('Connections', [{ name: 'connections', cls: 's1' }]);
  const rateChart = new LiveChart('Messages per second', [
    { name: 'in', cls: 's1' },
    { name: 'out', cls: 's2' },
    { name: 'dropped', cls: 's3' },
  ], 60, '/s');
  const about = h('div');
  ctx.root.append(h('h2', null, 'Overview'), tiles, h('div', { class: 'charts' }, connChart.el, rateChart.el), about);

  // The store's size and the event-loop lag are Prometheus gauges only; read them less often.
  const extra = { store: '—', lag: '—' };
  ctx.every(10_000, async () => {
    const fams = await get<PromFamily[]>('/api/v5/prometheus/stats?format=json');
    const value = (name: string) => fams.find((f) => f.name === name)?.values[0]?.value;
    const store = value('outpost_store_size_bytes');
    const lag = value('nodejs_eventloop_lag_seconds');
    extra.store = store === undefined ? '—' : fmtBytes(store);
    extra.lag = lag === undefined ? '—' : `${(lag * 1000).toFixed(1)} ms`;
  });

  let last: { at: number; m: Counters } | null = null;
  ctx.every(POLL_MS, async () => {
    const [nodes, stats, metrics, alarms] = await Promise.all([
      get<NodeInfo[]>('/api/v5/nodes'),
      get<Counters>('/api/v5/stats?aggregate=true'),
      get<Counters>('/api/v5/metrics?aggregate=true'),
      // A node without alarms answers NOT_SUPPORTED: the tile shows a dash rather than failing the page.
      get<Page<unknown>>('/api/v5/alarms?activated=true&limit=1').then((p) => p.meta.count, () => null),
    ]);
    ctx.error(null);
    const n = nodes[0]!;
    const now = performance.now();
    let rates = [0, 0, 0];
    if (last) {
      const dt = Math.max(0.001, (now - last.at) / 1000);
      const d = (k: string) => Math.max(0, ((metrics[k] ?? 0) - (last!.m[k] ?? 0)) / dt);
      rates = [d('messages.received'), d('messages.sent'), d('messages.dropped')];
    }
    last = { at: now, m: metrics };
    const tile = (label: string, value: string | number, id: string) => h('div', { class: 'tile' }, h('div', { class: 'tile-value', 'data-testid': id }, String(value)), h('div', { class: 'tile-label' }, label));
    tiles.replaceChildren(
      tile('Uptime', fmtDuration(n.uptime), 'uptime'),
      tile('Connections', stats['connections.count'] ?? 0, 'connections'),
      tile('Sessions', stats['sessions.count'] ?? 0, 'sessions'),
      tile('Subscriptions', stats['subscriptions.count'] ?? 0, 'subscriptions'),
      tile('Retained', stats['retained.count'] ?? 0, 'retained'),
      tile('Queued', stats['mqueue.total'] ?? 0, 'mqueue'),
      tile('In flight', stats['inflight.total'] ?? 0, 'inflight'),
      tile('Memory', fmtBytes(n.memory_used), 'memory'),
      tile('Store', extra.store, 'store'),
      h('a', { class: `tile tile-link${alarms ? ' alarmed' : ''}`, href: '#/alarms' }, h('div', { class: 'tile-value', 'data-testid': 'alarms' }, alarms === null ? '—' : String(alarms)), h('div', { class: 'tile-label' }, 'Active alarms')),
    );
    connChart.push([stats['connections.count'] ?? 0]);
    rateChart.push(rates);
    about.replaceChildren(
      h('h3', null, 'Node'),
      facts([
        ['Node', n.node],
        ['Version', n.version],
        ['Load (1 min)', String(n.load1)],
        ['Event-loop lag', extra.lag],
        ['Messages received', String(metrics['messages.received'] ?? 0)],
        ['Messages sent', String(metrics['messages.sent'] ?? 0)],
        ['Messages dropped', String(metrics['messages.dropped'] ?? 0)],
        ['Auth failures', String(metrics['authentication.failure'] ?? 0)],
      ]),
    );
  });
}
