// Bridges: state with its reason, the action counters (queuing is the backlog still to forward) and
// restart.
import { api, enc, get } from '../api.js';
import { badge, fill, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Bridge {
  id: string;
  name: string;
  type: string;
  enable: boolean;
  status: string;
  status_reason: string | null;
}

const SHOWN = ['queuing', 'inflight', 'matched', 'success', 'failed', 'dropped', 'received'];

export function bridgesPage(ctx: PageCtx): void {
  const list = h('div');
  ctx.root.append(h('h2', null, 'Bridges'), list);
  const load = async () => {
    const bridges = await get<Bridge[]>('/api/v5/bridges');
    const metrics = await Promise.all(bridges.map((b) => get<{ metrics: Record<string, number> }>(`/api/v5/bridges/${enc(b.id)}/metrics`)));
    ctx.error(null);
    fill(
      list,
      table(
        ['Bridge', 'Status', 'Reason', 'Backlog', 'Counters', ''],
        bridges.map((b, i) => {
          const m = metrics[i]!.metrics;
          return [
            h('span', { class: 'mono' }, b.id),
            h('span', { 'data-testid': `bridge-status-${b.name}` }, badge(b.status, b.status === 'connected' ? true : b.status === 'connecting' ? null : false)),
            b.status_reason ?? '—',
            String(m.queuing ?? 0),
            h('span', { class: 'mono small-text' }, SHOWN.filter((k) => k in m && k !== 'queuing').map((k) => `${k} ${m[k]}`).join(' · ')),
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
  ctx.every(3000, load);
}
