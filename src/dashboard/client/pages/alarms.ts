// Alarms (EMQX's alarm list): the active ones with a force-deactivate, and the history of
// deactivated ones, paged, with a clear. Durations are ms, times RFC 3339 (GET /api/v5/alarms).
import { api, get, type Page } from '../api.js';
import { fill, fmtDuration, fmtTime, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Alarm {
  name: string;
  message: string;
  duration: number;
  activate_at: string;
  deactivate_at?: string;
  details: Record<string, unknown> | null;
}

const LIMIT = 20;

function detailsOf(a: Alarm): string {
  return Object.entries(a.details ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

export function alarmsPage(ctx: PageCtx): void {
  const active = h('div');
  const history = h('div', { 'data-testid': 'alarm-history' });
  const pager = h('div', { class: 'toolbar' });
  let page = 1;
  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn();
      await load();
    } catch (err) {
      ctx.error(err);
    }
  };
  const load = async () => {
    const [on, off] = await Promise.all([get<Page<Alarm>>('/api/v5/alarms?activated=true&limit=1000'), get<Page<Alarm>>(`/api/v5/alarms?activated=false&page=${page}&limit=${LIMIT}`)]);
    ctx.error(null);
    if (off.data.length === 0 && page > 1) {
      page = Math.max(1, Math.ceil(off.meta.count / LIMIT));
      return load();
    }
    fill(
      active,
      table(
        ['Alarm', 'Message', 'Details', 'Since', 'For', ''],
        on.data.map((a) => [
          h('span', { class: 'mono', 'data-testid': `alarm-${a.name}` }, a.name),
          a.message,
          h('span', { class: 'mono small-text' }, detailsOf(a)),
          fmtTime(a.activate_at),
          fmtDuration(a.duration),
          h('button', { type: 'button', class: 'small', onclick: act(() => api('POST', '/api/v5/alarms/force_deactivate', { name: a.name })) }, 'Deactivate'),
        ]),
        'No active alarms.',
      ),
    );
    fill(
      history,
      table(
        ['Alarm', 'Message', 'Activated', 'Deactivated', 'Lasted'],
        off.data.map((a) => [h('span', { class: 'mono' }, a.name), a.message, fmtTime(a.activate_at), fmtTime(a.deactivate_at), fmtDuration(a.duration)]),
        'No deactivated alarms.',
      ),
    );
    const pages = Math.max(1, Math.ceil(off.meta.count / LIMIT));
    fill(
      pager,
      h('button', { type: 'button', class: 'small', disabled: page <= 1, onclick: act(async () => void (page -= 1)) }, '‹ Newer'),
      h('span', { class: 'muted' }, `page ${page} of ${pages} (${off.meta.count})`),
      h('button', { type: 'button', class: 'small', disabled: !off.meta.hasnext, onclick: act(async () => void (page += 1)) }, 'Older ›'),
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          type: 'button',
          class: 'small danger',
          disabled: off.meta.count === 0,
          onclick: act(async () => {
            if (confirm('Clear the alarm history?')) await api('DELETE', '/api/v5/alarms');
          }),
        },
        'Clear history',
      ),
    );
  };
  ctx.root.append(h('h2', null, 'Alarms'), h('h3', null, 'Active'), active, h('h3', null, 'History'), pager, history);
  ctx.every(3000, load);
}
