// The dashboard shell: login, navigation and a hash router (#/clients/<id>), so the daemon serves
// one page and needs no route of its own per view.
import { authDisabled, login, logout, signedIn, whenSignedOut } from './api.js';
import { fill, h } from './dom.js';
import { createPage, messageOf, type PageFn } from './page.js';
import { aclPage } from './pages/acl.js';
import { alarmsPage } from './pages/alarms.js';
import { bannedPage } from './pages/banned.js';
import { bridgesPage } from './pages/bridges.js';
import { clientPage, clientsPage } from './pages/clients.js';
import { configPage } from './pages/config.js';
import { gatewayPage, gatewaysPage } from './pages/gateways.js';
import { nodePage } from './pages/node.js';
import { overviewPage } from './pages/overview.js';
import { pubsubPage } from './pages/pubsub.js';
import { topicsPage } from './pages/topics.js';
import { tracePage } from './pages/trace.js';
import { usersPage } from './pages/users.js';

interface Route {
  path: string;
  title: string;
  page: PageFn;
  /** Shown in the navigation. */
  nav: boolean;
}

const ROUTES: Route[] = [
  { path: 'overview', title: 'Overview', page: overviewPage, nav: true },
  { path: 'clients', title: 'Clients', page: clientsPage, nav: true },
  { path: 'clients/*', title: 'Client', page: clientPage, nav: false },
  { path: 'topics', title: 'Topics', page: topicsPage, nav: true },
  { path: 'pubsub', title: 'Pub/Sub', page: pubsubPage, nav: true },
  { path: 'gateways', title: 'Gateways', page: gatewaysPage, nav: true },
  { path: 'gateways/*', title: 'Gateway', page: gatewayPage, nav: false },
  { path: 'bridges', title: 'Bridges', page: bridgesPage, nav: true },
  { path: 'users', title: 'Users', page: usersPage, nav: true },
  { path: 'acl', title: 'ACL', page: aclPage, nav: true },
  { path: 'banned', title: 'Banned', page: bannedPage, nav: true },
  { path: 'alarms', title: 'Alarms', page: alarmsPage, nav: true },
  { path: 'trace', title: 'Trace', page: tracePage, nav: true },
  { path: 'node', title: 'Node', page: nodePage, nav: true },
  { path: 'config', title: 'Config', page: configPage, nav: true },
];

const app = document.getElementById('app')!;
let noAuth = false;
let current: { leave(): void } | null = null;

function match(hash: string): { route: Route; params: string[] } {
  const path = hash.replace(/^#\/?/, '');
  const [head = '', ...rest] = path.split('/');
  const params = rest.map(decodeURIComponent);
  const route = ROUTES.find((r) => (params.length > 0 ? r.path === `${head}/*` : r.path === head)) ?? ROUTES[0]!;
  return { route, params };
}

function showLogin(message = ''): void {
  current?.leave();
  current = null;
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, value: 'admin' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { class: 'error', role: 'alert', hidden: !message }, message);
  const button = h('button', { type: 'submit' }, 'Log in');
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        button.disabled = true;
        try {
          await login(user.value, pass.value);
          pass.value = '';
          showShell();
        } catch (err) {
          status.textContent = messageOf(err);
          status.hidden = false;
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', null, 'Outpost'),
    h('label', null, 'Username', user),
    h('label', null, 'Password', pass),
    status,
    button,
    h('p', { class: 'muted' }, 'A dashboard user is set with ', h('code', null, 'outpostctl admin passwd <name>'), '.'),
  );
  fill(app, form);
  pass.focus();
}

const nav = h('nav', { class: 'nav' });
const main = h('main', { id: 'main' });

function showShell(): void {
  const menu = h('button', { class: 'menu', type: 'button', 'aria-label': 'Menu', onclick: () => nav.classList.toggle('open') }, '☰');
  const out = noAuth
    ? h('span', { class: 'muted' }, 'no auth (loopback)')
    : h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: async () => {
            await logout();
            location.hash = '';
            showLogin();
          },
        },
        'Log out',
      );
  fill(nav, ROUTES.filter((r) => r.nav).map((r) => h('a', { href: `#/${r.path}`, 'data-route': r.path }, r.title)));
  fill(app, h('header', { class: 'top' }, menu, h('a', { class: 'brand', href: '#/overview' }, 'Outpost'), h('span', { class: 'spacer' }), out), nav, main);
  render();
}

function render(): void {
  if (!noAuth && !signedIn()) return;
  const { route, params } = match(location.hash);
  current?.leave();
  nav.classList.remove('open');
  const top = route.path.split('/')[0];
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.route === top);
  document.title = `${route.title} · Outpost`;
  const page = createPage(main, params);
  current = page;
  route.page(page);
}

window.addEventListener('hashchange', render);
whenSignedOut(() => showLogin('Your session ended; log in again.'));

void (async () => {
  try {
    noAuth = await authDisabled();
  } catch {
    noAuth = false;
  }
  if (noAuth) showShell();
  else showLogin();
})();
