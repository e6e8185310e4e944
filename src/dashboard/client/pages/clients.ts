// Clients: a searchable list (like_clientid, conn_state) and a detail view with subscriptions, the
// message queue, the inflight window and a kick button. Gateway clients show here too (protocol).
import { api, ApiError, enc, get, type Page } from '../api.js';
import { facts, fill, fmtTime, h, table, badge, type Child } from '../dom.js';
import type { PageCtx } from '../page.js';

export interface ClientItem {
  clientid: string;
  username: string | null;
  protocol: string;
  proto_ver: number | string;
  ip_address: string;
  port: number;
  connected: boolean;
  connected_at: string;
  created_at: string;
  keepalive: number;
  clean_start: boolean;
  expiry_interval: number;
  subscriptions_cnt: number;
  inflight_cnt: number;
  inflight_max: number;
  mqueue_len: number;
  mqueue_max: number;
  mqueue_dropped: number;
  recv_msg: number;
  send_msg: number;
  listener: string;
}
interface Subscription {
  topic: string;
  qos: number;
  nl: number;
  rap: number;
  rh: number;
}
interface Delivery {
  msgid: string;
  topic: string;
  qos: number;
  payload?: string;
  inserted_at?: string;
  publish_at?: string;
  from_clientid?: string;
}

export function clientLink(id: string): HTMLElement {
  return h('a', { href: `#/clients/${enc(id)}`, class: 'mono' }, id);
}

export function clientRows(list: ClientItem[], extra?: (c: ClientItem) => Child): Child[][] {
  return list.map((c) => [
    clientLink(c.clientid),
    c.username ?? '—',
    c.protocol,
    `${c.ip_address}:${c.port}`,
    badge(c.connected ? 'connected' : 'disconnected', c.connected),
    c.subscriptions_cnt,
    `${c.mqueue_len}/${c.mqueue_max}`,
    `${c.inflight_cnt}/${c.inflight_max}`,
    ...(extra ? [extra(c)] : []),
  ]);
}

export const CLIENT_HEAD = ['Client ID', 'Username', 'Protocol', 'Address', 'State', 'Subs', 'Queue', 'Inflight'];

export function clientsPage(ctx: PageCtx): void {
  const search = h('input', { type: 'search', name: 'search', placeholder: 'Client ID contains…', 'aria-label': 'Search client ID' });
  const state = h('select', { name: 'state', 'aria-label': 'Connection state' }, h('option', { value: '' }, 'any state'), h('option', { value: 'connected' }, 'connected'), h('option', { value: 'disconnected' }, 'disconnected'));
  const count = h('span', { class: 'muted' });
  const list = h('div', { class: 'client-list' });
  const load = async () => {
    const q = new URLSearchParams({ limit: '100' });
    if (search.value) q.set('like_clientid', search.value);
    if (state.value) q.set('conn_state', state.value);
    const page = await get<Page<ClientItem>>(`/api/v5/clients?${q}`);
    ctx.error(null);
    count.textContent = `${page.meta.count} client${page.meta.count === 1 ? '' : 's'}`;
    fill(list, table(CLIENT_HEAD, clientRows(page.data), 'No clients match.'));
  };
  let debounce: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void load().catch(ctx.error), 250);
  });
  state.addEventListener('change', () => void load().catch(ctx.error));
  ctx.onLeave(() => clearTimeout(debounce));
  ctx.root.append(h('h2', null, 'Clients'), h('div', { class: 'toolbar' }, search, state, count), list);
  ctx.every(3000, load);
}

function payloadText(b64: string | undefined): string {
  if (b64 === undefined) return '';
  try {
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.length > 200 ? text.slice(0, 200) + '…' : text;
  } catch {
    return `(${b64.length} base64 chars)`;
  }
}

function deliveryTable(items: Delivery[], empty: string): HTMLElement {
  return table(['Topic', 'QoS', 'From', 'Payload'], items.map((m) => [h('span', { class: 'mono' }, m.topic), m.qos, m.from_clientid ?? '—', h('span', { class: 'mono' }, payloadText(m.payload))]), empty);
}

export function clientPage(ctx: PageCtx): void {
  const id = ctx.params[0] ?? '';
  const head = h('div', { class: 'facts-wrap' });
  const subs = h('div');
  const mqueue = h('div');
  const inflight = h('div');
  const kick = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        if (!confirm(`Kick client ${id}?`)) return;
        try {
          await api('DELETE', `/api/v5/clients/${enc(id)}`);
          ctx.error(null);
          kick.textContent = 'Kicked';
          kick.disabled = true;
          await load();
        } catch (err) {
          ctx.error(err);
        }
      },
    },
    'Kick',
  );
  ctx.root.append(
    h('p', null, h('a', { href: '#/clients' }, '← Clients')),
    h('h2', null, 'Client ', h('span', { class: 'mono' }, id)),
    h('div', { class: 'toolbar' }, kick),
    head,
    h('h3', null, 'Subscriptions'),
    subs,
    h('h3', null, 'Message queue'),
    mqueue,
    h('h3', null, 'In flight'),
    inflight,
  );
  const load = async () => {
    let c: ClientItem;
    try {
      c = await get<ClientItem>(`/api/v5/clients/${enc(id)}`);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      ctx.error(null);
      fill(head, h('p', { class: 'muted', 'data-testid': 'client-gone' }, 'The broker no longer knows this client (disconnected without a session).'));
      kick.disabled = true;
      for (const el of [subs, mqueue, inflight]) el.replaceChildren();
      return;
    }
    const [s, mq, inf] = await Promise.all([
      get<Subscription[]>(`/api/v5/clients/${enc(id)}/subscriptions`),
      get<{ data: Delivery[] }>(`/api/v5/clients/${enc(id)}/mqueue_messages?limit=50`),
      get<{ data: Delivery[] }>(`/api/v5/clients/${enc(id)}/inflight_messages?limit=50`),
    ]);
    ctx.error(null);
    fill(
      head,
      facts([
        ['State', badge(c.connected ? 'connected' : 'disconnected', c.connected)],
        ['Username', c.username ?? '—'],
        ['Protocol', `${c.protocol} ${c.proto_ver}`],
        ['Listener', c.listener],
        ['Address', `${c.ip_address}:${c.port}`],
        ['Connected at', fmtTime(c.connected_at)],
        ['Keepalive', `${c.keepalive} s`],
        ['Clean start', String(c.clean_start)],
        ['Session expiry', `${c.expiry_interval} s`],
        ['Queue', `${c.mqueue_len} / ${c.mqueue_max} (dropped ${c.mqueue_dropped})`],
        ['In flight', `${c.inflight_cnt} / ${c.inflight_max}`],
        ['Messages in / out', `${c.recv_msg} / ${c.send_msg}`],
      ]),
    );
    fill(subs, table(['Topic', 'QoS', 'No local', 'Retain as published', 'Retain handling'], s.map((x) => [h('span', { class: 'mono' }, x.topic), x.qos, x.nl, x.rap, x.rh]), 'No subscriptions.'));
    fill(mqueue, deliveryTable(mq.data, 'Queue is empty.'));
    fill(inflight, deliveryTable(inf.data, 'Nothing in flight.'));
  };
  ctx.every(3000, load);
}
