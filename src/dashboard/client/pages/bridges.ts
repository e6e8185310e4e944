// Bridges: state with its reason, the backlog still to forward (messages and bytes) and how far
// replay is behind, drain progress between two polls, the action counters and restart.
import { api, enc, get } from '../api.js';
import { badge, fill, fmtBytes, fmtDuration, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Bridge {
  id: string;
  name: string;
  type: string;
  enable: boolean;
  status: string;
  status_reason: string | null;
}

const SHOWN = ['matched', 'success', 'failed', 'dropped', 'retried', 'received'];

/** Lag: the age of the next message to send (replay.lag_ms), else of the oldest queued one. */
function lagOf(m: Record<string, number>): string {
  const ms = m['replay.lag_ms'] ?? m['oldest_queued.age_ms'];
  return ms === undefined ? '—' : ms < 1000 ? `${Math.round(ms)} ms` : fmtDuration(ms);
}

/** While the backlog shrinks: how fast, and when it is gone at that pace. */
function drainOf(prev: { at: number; q: number } | undefined, q: number, now: number): string {
  if (q === 0) return 'empty';
  if (!prev || prev.q <= q) return prev && prev.q < q ? 'growing' : '—';
  const perS = ((prev.q - q) * 1000) / Math.max(1, now - prev.at);
  return `draining ${perS.toFixed(perS < 10 ? 1 : 0)}/s, ~${fmtDuration((q / perS) * 1000)} left`;
}

export function bridgesPage(ctx: PageCtx): void {
  const list = h('div');
  const seen = new Map<string, { at: number; q: number }>();
  ctx.root.append(h('h2', null, 'Bridges'), list);
  const load = async () => {
    const bridges = await get<Bridge[]>('/api/v5/bridges');
    const metrics = await Promise.all(bridges.map((b) => get<{ metrics: Record<string, number> }>(`/api/v5/bridges/${enc(b.id)}/metrics`)));
    ctx.error(null);
    const now = performance.now();
    fill(
      list,
      table(
        ['Bridge', 'Status', 'Reason', 'Backlog', 'Lag', 'In flight', 'Drain', 'Counters', ''],
        bridges.map((b, i) => {
          const m = metrics[i]!.metrics;
          const q = m.queuing ?? 0;
          const drain = drainOf(seen.get(b.id), q, now);
          seen.set(b.id, { at: now, q });
          return [
            h('span', { class: 'mono' }, b.id),
            h('span', { 'data-testid': `bridge-status-${b.name}` }, badge(b.status, b.status === 'connected' ? true : b.status === 'connecting' ? null : false)),
            b.status_reason ?? '—',
            h('span', { 'data-testid': `bridge-backlog-${b.name}` }, String(q), m['queuing.bytes'] === undefined ? '' : ` (${fmtBytes(m['queuing.bytes'])})`),
            h('span', { 'data-testid': `bridge-lag-${b.name}` }, lagOf(m)),
            String(m.inflight ?? 0),
            h('span', { class: 'small-text', 'data-testid': `bridge-drain-${b.name}` }, drain),
            h('span', { class: 'mono small-text' }, SHOWN.filter((k) => k in m).map((k) => `${k} ${m[k]}`).join(' · ')),
            h(
              'button',
              {
                type: 'button',
                class: 'small',
                onclick: async () => {
                  try {
                    await api('POST', `/api/v5/bridges/${enc(b.id)}/restart`);
                    await load();
                  } catch (err) {
                    ctx.error(err);
                  }
                },
              },
              'Restart',
            ),
          ];
        }),
        'No bridges are configured.',
      ),
    );
  };
  // Every 2 s: a backlog drains fast once the link is back.
  ctx.every(2000, load);
}
