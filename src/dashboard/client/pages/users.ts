// MQTT users of the built-in database authenticator (EMQX password_based:built_in_database): list,
// add, make or unmake superuser, delete. Once one exists, anonymous clients are refused (allow_anonymous auto).
import { api, enc, get, type Page } from '../api.js';
import { fill, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface User {
  user_id: string;
  is_superuser: boolean;
}

const USERS = `/api/v5/authentication/${enc('password_based:built_in_database')}/users`;

export function usersPage(ctx: PageCtx): void {
  const list = h('div');
  const userId = h('input', { name: 'user_id', placeholder: 'username', required: true, autocomplete: 'off', 'aria-label': 'Username' });
  const password = h('input', { name: 'user_password', type: 'password', placeholder: 'password', required: true, autocomplete: 'new-password', 'aria-label': 'Password' });
  const superuser = h('input', { name: 'is_superuser', type: 'checkbox' });
  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn();
      await load();
    } catch (err) {
      ctx.error(err);
    }
  };
  const load = async () => {
    const page = await get<Page<User>>(`${USERS}?limit=1000`);
    ctx.error(null);
    fill(
      list,
      table(
        ['Username', 'Superuser', ''],
        page.data.map((u) => [
          h('span', { class: 'mono' }, u.user_id),
          u.is_superuser ? 'yes' : 'no',
          h(
            'span',
            { class: 'actions' },
            h('button', { type: 'button', class: 'small', onclick: act(() => api('PUT', `${USERS}/${enc(u.user_id)}`, { is_superuser: !u.is_superuser })) }, u.is_superuser ? 'Unmake superuser' : 'Make superuser'),
            h(
              'button',
              {
                type: 'button',
                class: 'small danger',
                onclick: act(async () => {
                  if (confirm(`Delete user ${u.user_id}?`)) await api('DELETE', `${USERS}/${enc(u.user_id)}`);
                }),
              },
              'Delete',
            ),
          ),
        ]),
        'No users: clients connect as allow_anonymous says.',
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
          await api('POST', USERS, { user_id: userId.value, password: password.value, is_superuser: superuser.checked });
          userId.value = '';
          password.value = '';
          superuser.checked = false;
        })();
      },
    },
    userId,
    password,
    h('label', { class: 'inline' }, superuser, ' superuser'),
    h('button', { type: 'submit' }, 'Add user'),
  );
  ctx.root.append(h('h2', null, 'MQTT users'), h('p', { class: 'muted' }, 'The built-in database authenticator. Dashboard logins are separate (outpostctl admin passwd).'), form, list);
  ctx.every(5000, load);
}
