// ACL: the rules of the built-in database authorization source (EMQX's
// /authorization/sources/built_in_database/rules/{all,users,clients}). A rule is added to its
// subject's list and a delete rewrites that list, as EMQX's dashboard does; they apply at once.
import { api, enc, get, type Page } from '../api.js';
import { fill, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface Rule {
  topic: string;
  permission: 'allow' | 'deny';
  action: 'publish' | 'subscribe' | 'all';
  qos: number[];
  retain: boolean | 'all';
}
type Kind = 'all' | 'users' | 'clients';
interface Subject {
  kind: Kind;
  who: string;
  rules: Rule[];
}

const BASE = '/api/v5/authorization/sources/built_in_database/rules';
const KEY = { users: 'username', clients: 'clientid' } as const;

async function subjects(): Promise<Subject[]> {
  const [all, users, clients] = await Promise.all([
    get<{ rules: Rule[] }>(`${BASE}/all`),
    get<Page<{ username: string; rules: Rule[] }>>(`${BASE}/users?limit=1000`),
    get<Page<{ clientid: string; rules: Rule[] }>>(`${BASE}/clients?limit=1000`),
  ]);
  return [
    ...users.data.map((u): Subject => ({ kind: 'users', who: u.username, rules: u.rules })),
    ...clients.data.map((c): Subject => ({ kind: 'clients', who: c.clientid, rules: c.rules })),
    { kind: 'all', who: '', rules: all.rules },
  ];
}

/** Replace one subject's rule list (an empty list removes the subject). */
async function save(s: Subject, rules: Rule[], existed: boolean): Promise<void> {
  if (s.kind === 'all') {
    await api('POST', `${BASE}/all`, { rules });
    return;
  }
  const key = KEY[s.kind];
  const path = `${BASE}/${s.kind}`;
  if (rules.length === 0) await api('DELETE', `${path}/${enc(s.who)}`);
  else if (existed) await api('PUT', `${path}/${enc(s.who)}`, { [key]: s.who, rules });
  else await api('POST', path, [{ [key]: s.who, rules }]);
}

export function aclPage(ctx: PageCtx): void {
  const list = h('div');
  let known: Subject[] = [];
  const kind = h(
    'select',
    { name: 'acl-kind', 'aria-label': 'Applies to', onchange: () => (who.hidden = kind.value === 'all') },
    h('option', { value: 'all' }, 'Everyone'),
    h('option', { value: 'users' }, 'Username'),
    h('option', { value: 'clients' }, 'Client ID'),
  );
  const who = h('input', { name: 'acl-who', placeholder: 'username or client id', autocomplete: 'off', 'aria-label': 'Who', hidden: true });
  const permission = h('select', { name: 'acl-permission', 'aria-label': 'Permission' }, h('option', { value: 'deny' }, 'deny'), h('option', { value: 'allow' }, 'allow'));
  const action = h('select', { name: 'acl-action', 'aria-label': 'Action' }, ['all', 'publish', 'subscribe'].map((a) => h('option', { value: a }, a)));
  const topic = h('input', { name: 'acl-topic', class: 'wide', placeholder: 'topic filter, e.g. sensors/+/cmd or ${username}/#', required: true, autocomplete: 'off', 'aria-label': 'Topic' });
  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn();
      await load();
    } catch (err) {
      ctx.error(err);
    }
  };
  const load = async () => {
    known = await subjects();
    ctx.error(null);
    const rows = known.flatMap((s) =>
      s.rules.map((r, i) => [
        s.kind === 'all' ? h('span', { class: 'muted' }, 'everyone') : h('span', { class: 'mono' }, `${KEY[s.kind]} ${s.who}`),
        h('span', { class: `badge ${r.permission === 'allow' ? 'ok' : 'bad'}` }, r.permission),
        r.action,
        h('span', { class: 'mono' }, r.topic),
        r.qos.join(','),
        String(r.retain),
        h('button', { type: 'button', class: 'small danger', onclick: act(() => save(s, s.rules.filter((_, j) => j !== i), true)) }, 'Delete'),
      ]),
    );
    fill(list, table(['Applies to', 'Permission', 'Action', 'Topic', 'QoS', 'Retain', ''], rows, 'No rules: the other sources and authorization.no_match decide.'));
  };
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void act(async () => {
          const k = kind.value as Kind;
          const name = k === 'all' ? '' : who.value.trim();
          if (k !== 'all' && !name) throw new Error('Name whom the rule applies to.');
          const current = known.find((s) => s.kind === k && s.who === name);
          const rule: Rule = { topic: topic.value.trim(), permission: permission.value as Rule['permission'], action: action.value as Rule['action'], qos: [0, 1, 2], retain: 'all' };
          await save({ kind: k, who: name, rules: [] }, [...(current?.rules ?? []), rule], current !== undefined && current.rules.length > 0);
          topic.value = '';
        })();
      },
    },
    kind,
    who,
    permission,
    action,
    topic,
    h('button', { type: 'submit' }, 'Add rule'),
  );
  ctx.root.append(
    h('h2', null, 'ACL'),
    h('p', { class: 'muted' }, "Rules of the built-in database authorization source, checked in order: the username's, the client ID's, then everyone's. Sources and no_match are set in the config file."),
    form,
    list,
  );
  ctx.every(5000, load);
}
