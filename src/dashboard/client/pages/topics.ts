// Topics: the routing table (/topics) and retained messages (/mqtt/retainer/messages) with a
// payload viewer and delete.
import { api, enc, get, type Page } from '../api.js';
import { fill, fmtTime, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Route {
  topic: string;
  node: string;
}
interface Retained {
  topic: string;
  qos: number;
  publish_at: string;
  from_clientid: string;
  payload?: string;
}

function decode(b64: string): string {
  const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  }
}

export function topicsPage(ctx: PageCtx): void {
  const filter = h('input', { type: 'search', placeholder: 'Topic contains…', 'aria-label': 'Filter topics' });
  const routes = h('div');
  const retained = h('div');
  const viewer = h('pre', { class: 'payload', hidden: true });
  ctx.root.append(h('h2', null, 'Topics'), h('div', { class: 'toolbar' }, filter), h('h3', null, 'Subscribed topics'), routes, h('h3', null, 'Retained messages'), retained, viewer);

  const show = async (topic: string) => {
    const m = await get<Retained>(`/api/v5/mqtt/retainer/message/${enc(topic)}`);
    viewer.textContent = `${m.topic}\n\n${decode(m.payload ?? '')}`;
    viewer.hidden = false;
  };
  const remove = async (topic: string) => {
    if (!confirm(`Delete the retained message on ${topic}?`)) return;
    await api('DELETE', `/api/v5/mqtt/retainer/message/${enc(topic)}`);
    await load();
  };
  const load = async () => {
    const [r, m] = await Promise.all([get<Page<Route>>('/api/v5/topics?limit=1000'), get<Page<Retained>>('/api/v5/mqtt/retainer/messages?limit=1000')]);
    ctx.error(null);
    const f = filter.value;
    const keep = (t: string) => f === '' || t.includes(f);
    fill(routes, table(['Topic', 'Node'], r.data.filter((x) => keep(x.topic)).map((x) => [h('span', { class: 'mono' }, x.topic), x.node]), 'No subscriptions.'));
    fill(
      retained,
      table(
        ['Topic', 'QoS', 'From', 'Published', ''],
        m.data
          .filter((x) => keep(x.topic))
          .map((x) => [
            h('span', { class: 'mono' }, x.topic),
            x.qos,
            x.from_clientid || '—',
            fmtTime(x.publish_at),
            h(
              'span',
              { class: 'actions' },
              h('button', { type: 'button', class: 'small', onclick: () => void show(x.topic).catch(ctx.error) }, 'View'),
              h('button', { type: 'button', class: 'small danger', onclick: () => void remove(x.topic).catch(ctx.error) }, 'Delete'),
            ),
          ]),
        'No retained messages.',
      ),
    );
  };
  filter.addEventListener('input', () => void load().catch(ctx.error));
  ctx.every(5000, load);
}
