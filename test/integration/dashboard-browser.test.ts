// The web dashboard in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against the real daemon: login with a dashboard user, the overview's live connection count, a
// client found, inspected and kicked, a publish from the browser over MQTT/WebSocket, an MQTT-SN
// device on the gateway page, a bridge whose upstream stops, sensor pairing with permit-join,
// logout. One browser for the file; screenshots of every page go to test-artifacts/dashboard/
// (gitignored).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { connectClient, tryConnect, uid, waitClose, type TestClient } from '../helpers/mqtt-clients.js';
import { SnClient } from '../helpers/mqttsn-client.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts/dashboard');
const PASSWORD = 'dashboard test password';
const BRIDGE_SECRET = 'bridge-upstream-secret';

let d: Daemon;
let up: Mosquitto;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base: string;
const clients: TestClient[] = [];
const sn: SnClient[] = [];
const measured: Record<string, number> = {};

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function mqttClient(clientId: string): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { clientId, protocolVersion: 5 });
  clients.push(c);
  return c;
}

/** The browser's own view of the last navigation: the page's response, then the app's scripts. */
async function navTiming(prefix: string): Promise<Record<string, number>> {
  const n = await page.evaluate(() => {
    const e = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    return { responseEnd: e.responseEnd, domContentLoaded: e.domContentLoadedEventEnd, load: e.loadEventEnd };
  });
  return { [`${prefix}ResponseEndMs`]: Math.round(n.responseEnd), [`${prefix}DomContentLoadedMs`]: Math.round(n.domContentLoaded), [`${prefix}LoadEventMs`]: Math.round(n.load) };
}

async function go(route: string): Promise<void> {
  await page.evaluate((r) => (location.hash = r), route);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  up = await startMosquitto();
  d = await startDaemon({
    config: `
[listeners.ws.default]
bind = "127.0.0.1"
port = 0

[gateway.mqttsn]
enable = true

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0

[bridges.upstream]
servers = ["127.0.0.1:${up.port}"]
reconnect = { min = 0.05, max = 0.3 }
username = "edge"
password = "${BRIDGE_SECRET}"
egress = [{ filter = "dash/bridge/#" }]

# Raises store_near_full within a second: no disk has this much free.
[sysmon.disk]
check_interval = 1
free_low_watermark = 4503599627370496
`,
  });
  const set = spawnSync(process.execPath, [join(ROOT, 'bin/outpostctl.js'), '--data-dir', d.dataDir, 'admin', 'passwd', 'admin', '--password-stdin'], { input: `${PASSWORD}\n`, encoding: 'utf8' });
  expect(set.status, set.stderr).toBe(0);
  base = `http://127.0.0.1:${d.ports['api:http']}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  page = await context.newPage();
  // Any request that leaves the box fails the test: the dashboard must work offline.
  await context.route(/^(?!http:\/\/127\.0\.0\.1|ws:\/\/127\.0\.0\.1|data:)/, (route) => {
    measured.externalRequests = (measured.externalRequests ?? 0) + 1;
    return route.abort();
  });
  page.on('dialog', (dialog) => void dialog.accept());
});

afterAll(async () => {
  writeFileSync(join(ARTIFACTS, 'measurements.json'), JSON.stringify(measured, null, 2) + '\n');
  await browser?.close();
  for (const c of clients) await c.end(true);
  for (const c of sn) await c.close();
  await d?.stop();
  d?.cleanup();
  await up?.cleanup();
});

describe('dashboard in Chromium', () => {
  it('loads fast, within the size budget, and logs in with a dashboard user', async () => {
    // The first request to the API port also loads the API itself (src/admin/lazy.ts): a cold first load.
    // What the browser fetches up to the overview is the first page's weight; other pages are chunks
    // loaded on their first visit.
    const firstAssets = new Set<string>();
    const onResponse = (r: { url(): string }) => {
      const m = /^\/assets\/([^/]+)$/.exec(new URL(r.url()).pathname);
      if (m) firstAssets.add(m[1]!);
    };
    page.on('response', onResponse);
    const t0 = performance.now();
    await page.goto(`${base}/`);
    await page.locator('form.login').waitFor({ timeout: 10_000 });
    measured.firstLoadMs = Math.round(performance.now() - t0);
    Object.assign(measured, await navTiming('first'));
    await shot('login');
    await page.fill('input[name=password]', 'wrong password');
    await page.click('form.login button[type=submit]');
    await expect.poll(() => page.locator('form.login .error').textContent(), { timeout: 5000 }).toContain('BAD_USERNAME_OR_PWD');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form.login button[type=submit]');
    await page.getByTestId('connections').waitFor({ timeout: 5000 });
    page.off('response', onResponse);
    // The token lives in memory only.
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length)).toBe(0);

    // A reload is a first load with a warm API: the page, then the login form again (memory-only token).
    const t1 = performance.now();
    await page.reload();
    await page.locator('form.login').waitFor({ timeout: 5000 });
    measured.warmLoadMs = Math.round(performance.now() - t1);
    Object.assign(measured, await navTiming('warm'));
    const assets = join(ROOT, 'dist/dashboard/assets');
    const sizes = readdirSync(assets).map((f) => ({ f, size: statSync(join(assets, f)).size }));
    measured.bundleBytes = sizes.reduce((a, x) => a + x.size, 0);
    measured.firstPageBytes = sizes.filter((x) => firstAssets.has(x.f)).reduce((a, x) => a + x.size, 0);
    measured.lazyPageBytes = sizes.filter((x) => !firstAssets.has(x.f) && !x.f.startsWith('mqtt')).reduce((a, x) => a + x.size, 0);
    expect([...firstAssets].filter((f) => !sizes.some((x) => x.f === f))).toEqual([]);
    expect([...firstAssets].some((f) => f.startsWith('mqtt'))).toBe(false);
    expect(measured.bundleBytes).toBeLessThan(1024 * 1024);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form.login button[type=submit]');
    await page.getByTestId('connections').waitFor({ timeout: 5000 });
  });

  it('serves the page without credentials while the API still asks for them', async () => {
    const pageRes = await fetch(`${base}/`);
    expect(pageRes.status).toBe(200);
    expect(pageRes.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await pageRes.text()).toContain('<div id="app">');
    expect((await fetch(`${base}/api/v5/nodes`)).status).toBe(401);
    expect((await fetch(`${base}/assets/../keys`)).status).toBe(401);
  });

  it('shows the connection count change when an MQTT client connects', async () => {
    const tile = page.getByTestId('connections');
    await expect.poll(async () => (await tile.textContent()) ?? '', { timeout: 5000 }).toMatch(/^\d+$/);
    const before = Number(await tile.textContent());
    const c = await mqttClient(uid('dash-conn'));
    await expect.poll(async () => Number(await tile.textContent()), { timeout: 6000 }).toBe(before + 1);
    await c.end();
    await expect.poll(async () => Number(await tile.textContent()), { timeout: 6000 }).toBe(before);
    // The store's size comes from the Prometheus gauges.
    await expect.poll(() => page.getByTestId('store').textContent(), { timeout: 5000 }).toMatch(/\d( \w+)?B$/);
    await shot('overview');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('overview-phone');
    // On a phone the navigation folds into the menu button.
    expect(await page.locator('nav.nav').isVisible()).toBe(false);
    await page.click('button.menu');
    expect(await page.locator('nav.nav').isVisible()).toBe(true);
    await shot('overview-phone-menu');
    await page.click('nav.nav a[data-route=overview]');
    await page.setViewportSize({ width: 1200, height: 800 });
  });

  it('finds a client by search, shows its subscriptions and kicks it', async () => {
    const id = uid('dash-kick');
    const c = await mqttClient(id);
    await c.sub('dash/kick/#', { qos: 1 });
    await go('#/clients');
    await page.fill('input[name=search]', id);
    const link = page.locator(`a[href="#/clients/${encodeURIComponent(id)}"]`);
    await link.waitFor({ timeout: 5000 });
    await shot('clients');
    await link.click();
    await page.locator('td', { hasText: 'dash/kick/#' }).waitFor({ timeout: 5000 });
    await shot('client-detail');
    const closed = waitClose(c.c, 5000);
    await page.click('button.danger:has-text("Kick")');
    const { disconnect } = await closed;
    expect(disconnect?.reasonCode).toBe(0x98); // MQTT 5: administrative action
    await page.getByTestId('client-gone').waitFor({ timeout: 5000 });
  });

  it('publishes from the browser over MQTT/WebSocket to an MQTT.js subscriber, and receives', async () => {
    const sub = await mqttClient(uid('dash-sub'));
    await sub.sub('dash/pub/#', { qos: 1 });
    await go('#/pubsub');
    await expect.poll(() => page.inputValue('input[name=url]'), { timeout: 5000 }).toBe(`ws://127.0.0.1:${d.ports['mqtt:ws:default']}/mqtt`);
    await page.click('button:has-text("Connect")');
    await expect.poll(() => page.getByTestId('mqtt-state').textContent(), { timeout: 10_000 }).toBe('connected');
    await page.fill('input[name=sub-topic]', 'dash/echo');
    await page.click('form button:has-text("Subscribe")');
    await page.locator('ol.msglog li.subscribed').waitFor({ timeout: 5000 });
    await page.fill('input[name=pub-topic]', 'dash/pub/1');
    await page.fill('textarea[name=payload]', 'hello from chromium');
    await page.selectOption('select[name=pub-qos]', '1');
    await page.click('form.pubform button[type=submit]');
    const [m] = await sub.waitMessages(1, 5000);
    expect(m).toMatchObject({ topic: 'dash/pub/1', text: 'hello from chromium' });
    expect(m!.packet.qos).toBe(1);
    await sub.pub('dash/echo', 'hello back', { qos: 0 });
    await page.locator('ol.msglog li.received', { hasText: 'hello back' }).waitFor({ timeout: 5000 });
    await shot('pubsub');
  });

  it('lists an MQTT-SN device under its gateway and kicks it', async () => {
    const dev = await SnClient.udp(d.ports['mqttsn:udp:default']!);
    sn.push(dev);
    const id = uid('sn-dash');
    expect(await dev.connect(id)).toBe(0);
    await go('#/gateways');
    await expect.poll(() => page.getByTestId('gw-conn-mqttsn').textContent(), { timeout: 5000 }).toBe('1');
    await shot('gateways');
    await page.click('a[href="#/gateways/mqttsn"]');
    const row = page.locator('tr', { hasText: id });
    await row.waitFor({ timeout: 5000 });
    await shot('gateway-clients');
    await row.locator('button:has-text("Kick")').click();
    expect(await dev.next('disconnect', 5000)).toMatchObject({ type: 'disconnect' });
    await row.waitFor({ state: 'detached', timeout: 5000 });
  });

  it("shows a bridge's state change when its upstream stops", async () => {
    await go('#/bridges');
    const status = page.getByTestId('bridge-status-upstream');
    await expect.poll(() => status.textContent(), { timeout: 5000 }).toBe('connected');
    await shot('bridges');
    await up.stop();
    await expect.poll(() => status.textContent(), { timeout: 8000 }).not.toBe('connected');
    // What is published meanwhile waits in the bridge's log: the backlog and its lag show.
    const p = await mqttClient(uid('dash-bridged'));
    for (let i = 0; i < 3; i++) await p.pub(`dash/bridge/${i}`, `queued ${i}`, { qos: 1 });
    await expect.poll(() => page.getByTestId('bridge-backlog-upstream').textContent(), { timeout: 8000 }).toMatch(/^3 \(\d+(\.\d)? \w*B\)$/);
    await expect.poll(async () => (await page.getByTestId('bridge-lag-upstream').textContent()) ?? '', { timeout: 8000 }).toMatch(/^(\d+ ms|\d+s|\d+m \d+s)$/);
    expect(await page.getByTestId('bridge-lag-upstream').textContent()).not.toBe('0 ms');
    await shot('bridges-upstream-down');
    // Upstream back: the backlog drains to nothing.
    await up.restart();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe('connected');
    await expect.poll(() => page.getByTestId('bridge-backlog-upstream').textContent(), { timeout: 10_000 }).toMatch(/^0\b/);
    await expect.poll(() => page.getByTestId('bridge-drain-upstream').textContent(), { timeout: 5000 }).toBe('empty');
    await shot('bridges-drained');
  });

  it('shows topics with retained messages, bans and the node', async () => {
    const c = await mqttClient(uid('dash-ret'));
    await c.pub('dash/retained/one', 'kept', { qos: 1, retain: true });
    await go('#/topics');
    const row = page.locator('tr', { hasText: 'dash/retained/one' });
    await row.waitFor({ timeout: 5000 });
    await row.locator('button:has-text("View")').click();
    await expect.poll(() => page.locator('pre.payload').textContent(), { timeout: 5000 }).toContain('kept');
    await shot('topics');

    await go('#/banned');
    await page.fill('input[name=who]', 'dash-bad-actor');
    await page.fill('input[name=reason]', 'testing');
    await page.click('form button:has-text("Ban")');
    await page.locator('td', { hasText: 'dash-bad-actor' }).waitFor({ timeout: 5000 });
    await shot('banned');
    await page.click('button:has-text("Lift")');
    await page.locator('td', { hasText: 'dash-bad-actor' }).waitFor({ state: 'detached', timeout: 5000 });

    await go('#/node');
    await page.locator('td', { hasText: 'ws:default' }).waitFor({ timeout: 5000 });
    await shot('node');
  });

  it('stops and starts a listener from the node page', async () => {
    await go('#/node');
    const state = page.getByTestId('listener-state-ws:default');
    const actions = page.getByTestId('listener-actions-ws:default');
    await expect.poll(() => state.textContent(), { timeout: 5000 }).toBe('running');
    await actions.locator('button:has-text("Stop")').click();
    // Shown from the action's own reload, well before the page's 5 s poll.
    await expect.poll(() => state.textContent(), { timeout: 2500 }).toBe('stopped');
    expect(await page.locator('main > .error').isHidden()).toBe(true);
    // Really closed: a WebSocket client is refused at the old port.
    const wsUrl = `ws://127.0.0.1:${d.ports['mqtt:ws:default']}/mqtt`;
    const refused = await tryConnect(wsUrl, { clientId: uid('dash-ws') }, 3000);
    refused.client.end(true);
    expect(refused.error, 'connect to a stopped listener').toBeDefined();
    await shot('node-listener-stopped');
    await actions.locator('button:has-text("Start")').click();
    await expect.poll(() => state.textContent(), { timeout: 2500 }).toBe('running');
    await actions.locator('button:has-text("Restart")').waitFor({ timeout: 5000 });
  });

  it('shows an active alarm on the overview and the alarms page, deactivates it and clears the history', async () => {
    await go('#/overview');
    await expect.poll(async () => Number(await page.getByTestId('alarms').textContent()), { timeout: 8000 }).toBeGreaterThan(0);
    await shot('overview-alarm');
    await page.click('a[href="#/alarms"].tile');
    const active = page.getByTestId('alarm-store_near_full');
    await active.waitFor({ timeout: 5000 });
    await shot('alarms');
    await page.locator('tr', { has: active }).locator('button:has-text("Deactivate")').click();
    const history = page.getByTestId('alarm-history');
    await history.locator('td', { hasText: 'store_near_full' }).first().waitFor({ timeout: 5000 });
    await shot('alarms-history');
    await page.click('button:has-text("Clear history")');
    await history.locator('td', { hasText: 'store_near_full' }).first().waitFor({ state: 'detached', timeout: 5000 });
    // The disk check raises it again while the watermark stays above the free space.
    await active.waitFor({ timeout: 5000 });
  });

  it('shows the running config with its secrets hidden', async () => {
    await go('#/config');
    await page.locator('details[data-root=mqtt]').waitFor({ timeout: 5000 });
    await page.fill('input[name=config-filter]', 'bridges.upstream');
    const pw = page.locator('tr', { hasText: 'password' });
    await pw.first().waitFor({ timeout: 5000 });
    expect(await pw.first().textContent()).toContain('******');
    expect(await page.locator('main').textContent()).not.toContain(BRIDGE_SECRET);
    await shot('config');
    await page.fill('input[name=config-filter]', 'sysmon.disk.free_low');
    await page.locator('td', { hasText: '4503599627370496' }).waitFor({ timeout: 5000 });
    await page.fill('input[name=config-filter]', '');
    expect(await page.locator('details[data-root]').count()).toBeGreaterThan(5);
  });

  it('traces a client into its own log, and manages MQTT users', async () => {
    const id = uid('dash-traced');
    await go('#/trace');
    await page.fill('input[name=trace-name]', 'dashtrace');
    await page.fill('input[name=trace-value]', id);
    await page.click('form button:has-text("Start trace")');
    const row = page.locator('tr', { hasText: 'dashtrace' });
    await row.waitFor({ timeout: 5000 });
    const c = await mqttClient(id);
    await c.pub('dash/traced', 'seen by the trace', { qos: 1 });
    await expect
      .poll(
        async () => {
          await row.locator('button:has-text("View log")').click();
          return page.getByTestId('trace-log').textContent();
        },
        { timeout: 8000, intervals: [250] },
      )
      .toContain('dash/traced');
    await shot('trace');
    await row.locator('button:has-text("Stop")').click();
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 5000 }).toBe('stopped');

    await go('#/users');
    await page.fill('input[name=user_id]', 'dash-user');
    await page.fill('input[name=user_password]', 'dash-user-secret');
    await page.click('form button:has-text("Add user")');
    const user = page.locator('tr', { hasText: 'dash-user' });
    await user.waitFor({ timeout: 5000 });
    await shot('users');
    // allow_anonymous = auto: with a user in the database, anonymous clients are refused.
    const anon = await tryConnect(d.mqttUrl, { clientId: uid('dash-anon') });
    anon.client.end(true);
    expect(anon.error, 'anonymous connect after a user exists').toBeDefined();
    const withUser = await connectClient(d.mqttUrl, { clientId: uid('dash-user'), username: 'dash-user', password: 'dash-user-secret' });
    await withUser.end();
    await user.locator('button:has-text("Delete")').click();
    await user.waitFor({ state: 'detached', timeout: 5000 });
  });

  it('adds an ACL deny rule that refuses an MQTT.js publish, and deletes it', async () => {
    await go('#/acl');
    await page.selectOption('select[name=acl-kind]', 'all');
    await page.selectOption('select[name=acl-permission]', 'deny');
    await page.selectOption('select[name=acl-action]', 'publish');
    await page.fill('input[name=acl-topic]', 'dash/acl/#');
    await page.click('form button:has-text("Add rule")');
    const row = page.locator('tr', { hasText: 'dash/acl/#' });
    await row.waitFor({ timeout: 5000 });
    await shot('acl');
    const pubCode = async (): Promise<number> => {
      // A new client each time: a client's authorization results are cached.
      const c = await mqttClient(uid('dash-acl'));
      return c.pub('dash/acl/x', 'guarded', { qos: 1 }).then(
        (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
        (e: unknown) => (e as { code?: number }).code ?? -1,
      );
    };
    expect(await pubCode()).toBe(0x87); // MQTT 5 PUBACK: not authorized
    await row.locator('button:has-text("Delete")').click();
    await row.waitFor({ state: 'detached', timeout: 5000 });
    expect(await pubCode()).toBe(0);
  });

  it('pairs an MQTT device that publishes in its scope, admits one during permit-join, approves it and unpairs', async () => {
    // Before any device exists anonymous clients are still allowed: the subscriber connects now.
    const sub = await mqttClient(uid('dash-dev-sub'));
    await sub.sub('dash/dev/#', { qos: 1 });
    const name = `dash-dev-${process.pid}`;
    await go('#/devices');
    await page.locator('form button:has-text("Pair")').waitFor({ timeout: 5000 });
    await page.selectOption('select[name=device-protocol]', 'mqtt');
    await page.fill('input[name=device-name]', name);
    await page.fill('input[name=device-scope]', 'dash/dev/#');
    await page.click('form button:has-text("Pair")');
    const password = page.getByTestId('device-password');
    await password.waitFor({ timeout: 5000 });
    const secret = (await password.textContent()) ?? '';
    expect(secret.length).toBeGreaterThanOrEqual(24);
    // The sensor config holds what `outpostctl pair` writes, and the QR code encodes it.
    const config = JSON.parse((await page.getByTestId('device-config').textContent()) ?? '{}') as Record<string, unknown>;
    expect(config).toMatchObject({ name, protocol: 'mqtt', host: '127.0.0.1', port: d.mqttPort, client_id: name, username: name, password: secret, scope: 'dash/dev/#', topic_ids: [] });
    const qr = page.getByTestId('device-qr');
    expect(Number(await qr.getAttribute('data-modules'))).toBeGreaterThanOrEqual(21);
    expect(((await qr.locator('path').getAttribute('d')) ?? '').length).toBeGreaterThan(100);
    await page.getByTestId(`device-state-${name}`).waitFor({ timeout: 5000 });
    await shot('devices-paired');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('devices-paired-phone');
    await page.setViewportSize({ width: 1200, height: 800 });

    // The device connects with the credentials shown and is confined to its scope.
    const paired = await connectClient(d.mqttUrl, { clientId: name, username: name, password: secret, protocolVersion: 5 });
    clients.push(paired);
    expect(await paired.pub('dash/dev/telemetry', 'from the paired device', { qos: 1 }).then((p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0)).toBe(0);
    const [m] = await sub.waitMessages(1, 5000);
    expect(m).toMatchObject({ topic: 'dash/dev/telemetry', text: 'from the paired device' });
    const outside = await paired.pub('dash/elsewhere', 'out of scope', { qos: 1 }).then(
      (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
      (e: unknown) => (e as { code?: number }).code ?? -1,
    );
    expect(outside).toBe(0x87);

    // Permit-join: the countdown runs down in the page.
    await page.fill('input[name=permit-seconds]', '60');
    await page.click('form button:has-text("Open")');
    const countdown = page.getByTestId('permit-countdown');
    await expect.poll(async () => (await countdown.textContent()) ?? '', { timeout: 5000 }).toMatch(/^\d+ s left$/);
    const first = parseInt((await countdown.textContent()) ?? '', 10);
    expect(first).toBeLessThanOrEqual(60);
    await expect.poll(async () => parseInt((await countdown.textContent()) ?? '', 10), { timeout: 4000 }).toBeLessThan(first);
    // An unknown client with credentials joins during the window and shows as pending.
    const joiner = `dash-joiner-${process.pid}`;
    const joined = await connectClient(d.mqttUrl, { clientId: joiner, username: joiner, password: 'joiner secret', protocolVersion: 5 });
    clients.push(joined);
    const joinerState = page.getByTestId(`device-state-${joiner}`);
    await expect.poll(() => joinerState.textContent(), { timeout: 6000 }).toBe('pending');
    await shot('devices-permit-join');
    await page.locator('tr', { has: joinerState }).locator('button:has-text("Approve")').click();
    await expect.poll(() => joinerState.textContent(), { timeout: 2500 }).toBe('paired');
    await page.click('form button:has-text("Close")');
    await expect.poll(() => countdown.textContent(), { timeout: 2500 }).toBe('');
    await expect.poll(() => page.getByTestId('permit-state').textContent(), { timeout: 2500 }).toBe('closed');

    // Unpair the first device: its row goes and its credentials no longer connect.
    await paired.end();
    const row = page.locator('tr', { has: page.getByTestId(`device-${name}`) });
    await row.locator('button:has-text("Unpair")').click();
    await row.waitFor({ state: 'detached', timeout: 2500 });
    await shot('devices-unpaired');
    const refused = await tryConnect(d.mqttUrl, { clientId: name, username: name, password: secret });
    refused.client.end(true);
    expect(refused.error, 'connect after unpair').toBeDefined();

    // An MQTT-SN device takes the given password (the gateway's clientinfo_override one) and gets topic ids.
    const snName = `dash-sn-${process.pid}`;
    await page.selectOption('select[name=device-protocol]', 'mqttsn');
    await page.fill('input[name=device-name]', snName);
    await page.fill('input[name=device-secret]', 'sn override secret');
    await page.click('form button:has-text("Pair")');
    await expect.poll(async () => JSON.parse((await page.getByTestId('device-config').textContent()) ?? '{}') as Record<string, unknown>, { timeout: 5000 }).toMatchObject({
      name: snName,
      protocol: 'mqttsn',
      port: d.ports['mqttsn:udp:default'],
      password: 'sn override secret',
      topic_ids: [{ topic: `devices/${snName}/telemetry` }, { topic: `devices/${snName}/cmd` }],
    });
    await page.getByTestId('device-qr').waitFor({ timeout: 2500 });
    expect(await page.getByTestId('device-predefined').textContent()).toMatch(new RegExp(`\\d+ = devices/${snName}/telemetry, \\d+ = devices/${snName}/cmd`));
    await shot('devices-mqttsn');

    // Leave no devices behind.
    for (const n of [joiner, snName]) {
      const state = page.getByTestId(`device-state-${n}`);
      await page.locator('tr', { has: state }).locator('button:has-text("Unpair")').click();
      await state.waitFor({ state: 'detached', timeout: 2500 });
    }
  });

  it('logs out: back to the login form, and the old token no longer works', async () => {
    const tokens: string[] = [];
    page.on('request', (r) => {
      const a = r.headers().authorization;
      if (a?.startsWith('Bearer ')) tokens.push(a.slice(7));
    });
    await go('#/overview');
    await expect.poll(() => tokens.length, { timeout: 5000 }).toBeGreaterThan(0);
    await page.click('button:has-text("Log out")');
    await page.locator('form.login').waitFor({ timeout: 5000 });
    await expect.poll(async () => (await fetch(`${base}/api/v5/nodes`, { headers: { authorization: `Bearer ${tokens[0]}` } })).status, { timeout: 5000 }).toBe(401);
    expect(measured.externalRequests ?? 0).toBe(0);
    console.log(`dashboard: bundle ${measured.bundleBytes} B (first page ${measured.firstPageBytes} B, other pages ${measured.lazyPageBytes} B), first load ${measured.firstLoadMs} ms, warm ${measured.warmLoadMs} ms`);
  });
});
