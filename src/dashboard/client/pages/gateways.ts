// Gateways (CoAP, MQTT-SN, …) with their listeners, and each gateway's clients with kick.
import { api, enc, get, type Page } from '../api.js';
import { badge, fill, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';
import { CLIENT_HEAD, clientRows, type ClientItem } from './clients.js';

interface Gateway {
  name: string;
  status: string;
  current_connections: number;
  max_connections: number;
  listeners: { id: string; type: string; bind: string; running: boolean }[];
}

export function gatewaysPage(ctx: PageCtx): void {
  const list = h('div');
  ctx.root.append(h('h2', null, 'Gateways'), list);
  ctx.every(3000, async () => {
    const gws = await get<Gateway[]>('/api/v5/gateways');
    ctx.error(null);
    fill(
      list,
      table(
        ['Gateway', 'Status', 'Connections', 'Listeners'],
        gws.map((g) => [
          h('a', { href: `#/gateways/${enc(g.name)}` }, g.name),
          badge(g.status, g.status === 'running'),
          h('span', { 'data-testid': `gw-conn-${g.name}` }, String(g.current_connections)),
          g.listeners.map((l) => h('div', { class: 'mono' }, `${l.type} ${l.bind}${l.running ? '' : ' (stopped)'}`)),
        ]),
        'No gateway is enabled.',
      ),
    );
  });
}

export function gatewayPage(ctx: PageCtx): void {
  const name = ctx.params[0] ?? '';
  const info = h('div');
  const clients = h('div');
  ctx.root.append(h('p', null, h('a', { href: '#/gateways' }, '← Gateways')), h('h2', null, 'Gateway ', name), info, h('h3', null, 'Clients'), clients);
  const load = async () => {
    const [g, page] = await Promise.all([get<Gateway>(`/api/v5/gateways/${enc(name)}`), get<Page<ClientItem>>(`/api/v5/gateways/${enc(name)}/clients?limit=100`)]);
    ctx.error(null);
    fill(info, h('p', null, badge(g.status, g.status === 'running'), ` ${g.current_connections} connected`));
    const kick = (c: ClientItem) =>
      h(
        'button',
        {
          type: 'button',
          class: 'small danger',
          onclick: async () => {
            if (!confirm(`Kick ${c.clientid}?`)) return;
            try {
              await api('DELETE', `/api/v5/gateways/${enc(name)}/clients/${enc(c.clientid)}`);
              await load();
            } catch (err) {
              ctx.error(err);
            }
          },
        },
        'Kick',
      );
    fill(clients, table([...CLIENT_HEAD, ''], clientRows(page.data, kick), 'No clients on this gateway.'));
  };
  ctx.every(3000, load);
}
