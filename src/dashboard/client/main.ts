// The dashboard shell: login, navigation and a hash router (#/clients/<id>), so the daemon serves
// one page and needs no route of its own per view.
import { authDisabled, login, logout, signedIn, whenSignedOut } from './api.js';
import { fill, h } from './dom.js';
import { createPage, messageOf, type PageFn } from './page.js';
import { overviewPage } from './pages/overview.js';

/**
 * A page loaded on first visit: the first load carries the shell and the overview only, and each
 * other page is its own small chunk. A page left before its chunk arrived is not drawn.
 */
function lazy(load: () => Promise<PageFn>): PageFn {
  return (ctx) => {
    let gone = false;
    ctx.onLeave(() => (gone = true));
    load().then(
      (page) => gone || page(ctx),
      (err: unknown) => gone || ctx.error(err),
    );
  };
}

interface Route {
  path: string;
  title: string;
  page: PageFn;
  /** Shown in the navigation. */
  nav: boolean;
}

const ROUTES: Route[] = [
  { path: 'overview', title: 'Overview', page: overviewPage, nav: true },
  { path: 'clients', title: 'Clients', page: lazy(() => import('./pages/clients.js').then((m) => m.clientsPage)), nav: true },
  { path: 'clients/*', title: 'Client', page: lazy(() => import('./pages/clients.js').then((m) => m.clientPage)), nav: false },
  { path: 'topics', title: 'Topics', page: lazy(() => import('./pages/topics.js').then((m) => m.topicsPage)), nav: true },
  { path: 'pubsub', title: 'Pub/Sub', page: lazy(() => import('./pages/pubsub.js').then((m) => m.pubsubPage)), nav: true },
  { path: 'gateways', title: 'Gateways', page: lazy(() => import('./pages/gateways.js').then((m) => m.gatewaysPage)), nav: true },
  { path: 'gateways/*', title: 'Gateway', page: lazy(() => import('./pages/gateways.js').then((m) => m.gatewayPage)), nav: false },
  { path: 'bridges', title: 'Bridges', page: lazy(() => import('./pages/bridges.js').then((m) => m.bridgesPage)), nav: true },
  { path: 'devices', title: 'Devices', page: lazy(() => import('./pages/devices.js').then((m) => m.devicesPage)), nav: true },
  { path: 'users', title: 'Users', page: lazy(() => import('./pages/users.js').then((m) => m.usersPage)), nav: true },
  { path: 'acl', title: 'ACL', page: lazy(() => import('./pages/acl.js').then((m) => m.aclPage)), nav: true },
  { path: 'banned', title: 'Banned', page: lazy(() => import('./pages/banned.js').then((m) => m.bannedPage)), nav: true },
  { path: 'alarms', title: 'Alarms', page: lazy(() => import('./pages/alarms.js').then((m) => m.alarmsPage)), nav: true },
  { path: 'trace', title: 'Trace', page: lazy(() => import('./pages/trace.js').then((m) => m.tracePage)), nav: true },
  { path: 'node', title: 'Node', page: lazy(() => import('./pages/node.js').then((m) => m.nodePage)), nav: true },
  { path: 'config', title: 'Config', page: lazy(() => import('./pages/config.js').then((m) => m.configPage)), nav: true },
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
