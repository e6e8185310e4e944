// Log traces (EMQX /trace): follow one client ID, topic or address into its own log for a while,
// stop it, read the log.
import { api, enc, get, getText } from '../api.js';
import { badge, fill, fmtBytes, fmtTime, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Trace {
  name: string;
  type: 'clientid' | 'topic' | 'ip_address';
  clientid?: string;
  topic?: string;
  ip_address?: string;
  start_at: string;
  end_at: string;
  status: string;
  log_size: Record<string, number>;
}

export function tracePage(ctx: PageCtx): void {
  const list = h('div');
  const viewer = h('pre', { class: 'payload', hidden: true, 'data-testid': 'trace-log' });
  const name = h('input', { name: 'trace-name', placeholder: 'name', required: true, pattern: '[A-Za-z0-9_\\-]+', 'aria-label': 'Trace name' });
  const type = h('select', { name: 'trace-type', 'aria-label': 'Trace by' }, ['clientid', 'topic', 'ip_address'].map((t) => h('option', { value: t }, t)));
  const value = h('input', { name: 'trace-value', placeholder: 'client ID, topic or address', required: true, 'aria-label': 'Trace filter' });
  const minutes = h('input', { name: 'trace-minutes', type: 'number', min: 1, value: 10, 'aria-label': 'Minutes' });
  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn();
      await load();
    } catch (err) {
      ctx.error(err);
    }
  };
  const show = async (t: Trace) => {
    viewer.textContent = (await getText(`/api/v5/trace/${enc(t.name)}/log`)) || '(empty log)';
    viewer.hidden = false;
    await load();
  };
  const load = async () => {
    const traces = await get<Trace[]>('/api/v5/trace');
    ctx.error(null);
    fill(
      list,
      table(
        ['Name', 'Filter', 'Status', 'Until', 'Log', ''],
        traces.map((t) => [
          t.name,
          h('span', { class: 'mono' }, `${t.type} ${t[t.type] ?? ''}`),
          badge(t.status, t.status === 'running' ? true : t.status === 'waiting' ? null : false),
          fmtTime(t.end_at),
          fmtBytes(Object.values(t.log_size).reduce((a, b) => a + b, 0)),
          h(
            'span',
            { class: 'actions' },
            h('button', { type: 'button', class: 'small', onclick: () => void show(t).catch(ctx.error) }, 'View log'),
            t.status !== 'stopped' && h('button', { type: 'button', class: 'small', onclick: act(() => api('PUT', `/api/v5/trace/${enc(t.name)}/stop`)) }, 'Stop'),
            h('button', { type: 'button', class: 'small danger', onclick: act(() => api('DELETE', `/api/v5/trace/${enc(t.name)}`)) }, 'Delete'),
          ),
        ]),
        'No traces.',
      ),
    );
  };
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void act(async () => {
          const end = new Date(Date.now() + Math.max(1, Number(minutes.value) || 10) * 60_000).toISOString();
          await api('POST', '/api/v5/trace', { name: name.value, type: type.value, [type.value]: value.value, end_at: end });
          name.value = '';
          value.value = '';
        })();
      },
    },
    name,
    type,
    value,
    minutes,
    h('span', { class: 'muted' }, 'min'),
    h('button', { type: 'submit' }, 'Start trace'),
  );
  ctx.root.append(h('h2', null, 'Log trace'), form, list, viewer);
  ctx.every(5000, load);
}
