// The ban list: add a ban (client ID, username, address, or their patterns) and lift one.
import { api, enc, get, type Page } from '../api.js';
import { fill, fmtTime, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Ban {
  as: string;
  who: string;
  by: string;
  reason: string;
  at: string;
  until: string;
}

const KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'];

export function bannedPage(ctx: PageCtx): void {
  const list = h('div');
  const as = h('select', { name: 'as', 'aria-label': 'Ban by' }, KINDS.map((k) => h('option', { value: k }, k)));
  const who = h('input', { name: 'who', placeholder: 'who', required: true, 'aria-label': 'Who' });
  const reason = h('input', { name: 'reason', placeholder: 'reason', 'aria-label': 'Reason' });
  const minutes = h('input', { name: 'minutes', type: 'number', min: 0, placeholder: 'minutes (empty = forever)', 'aria-label': 'Minutes' });
  const load = async () => {
    const page = await get<Page<Ban>>('/api/v5/banned?limit=1000');
    ctx.error(null);
    fill(
      list,
      table(
        ['As', 'Who', 'Reason', 'By', 'Since', 'Until', ''],
        page.data.map((b) => [
          b.as,
          h('span', { class: 'mono' }, b.who),
          b.reason || '—',
          b.by,
          fmtTime(b.at),
          b.until === 'infinity' ? 'forever' : fmtTime(b.until),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              onclick: async () => {
                try {
                  await api('DELETE', `/api/v5/banned/${enc(b.as)}/${enc(b.who)}`);
                  await load();
                } catch (err) {
                  ctx.error(err);
                }
              },
            },
            'Lift',
          ),
        ]),
        'Nobody is banned.',
      ),
    );
  };
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const body: Record<string, unknown> = { as: as.value, who: who.value, reason: reason.value, by: 'dashboard' };
        if (minutes.value) body.until = new Date(Date.now() + Number(minutes.value) * 60_000).toISOString();
        try {
          await api('POST', '/api/v5/banned', body);
          who.value = '';
          reason.value = '';
          await load();
        } catch (err) {
          ctx.error(err);
        }
      },
    },
    as,
    who,
    reason,
    minutes,
    h('button', { type: 'submit' }, 'Ban'),
  );
  ctx.root.append(h('h2', null, 'Banned'), form, list);
  ctx.every(5000, load);
}
