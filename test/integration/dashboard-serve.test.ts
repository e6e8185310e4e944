// How the API listener serves the dashboard (src/dashboard/serve.ts), without a browser: the page
// and its assets are public, everything else keeps the API's authentication; a build without
// esbuild serves a "not built" page; the build is found from the bundle, the plain modules and an
// install alike.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDashboardDir, isDashboardPath, registerDashboard } from '../../src/dashboard/serve.js';
import { wsUrlFor } from '../../src/dashboard/client/pages/pubsub.js';
import { ROOT } from '../helpers/daemon.js';
import { harness, type Harness } from '../unit/admin/harness.js';

const built = join(ROOT, 'dist/dashboard');

describe('dashboard on the API listener', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('serves / and the hashed assets without credentials, with a strict CSP and long caching', async () => {
    expect(findDashboardDir(), 'run npm run build first').toBe(built);
    const page = await h.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self' ws: wss:");
    expect(page.headers['cache-control']).toBe('no-cache');
    const script = /src="\/assets\/([^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await h.app.inject({ method: 'GET', url: `/assets/${script}` });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect(asset.headers['content-type']).toContain('javascript');
  });

  it('keeps the API and every other path behind authentication', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/api/v5/nodes' })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'GET', url: '/api/v5/nodes', headers: h.viewer })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'POST', url: '/' })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'GET', url: '/assets/../api/v5/nodes' })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'GET', url: '/elsewhere' })).statusCode).toBe(401);
    // A missing asset is the API's own 404 envelope.
    const missing = await h.app.inject({ method: 'GET', url: '/assets/missing.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('names only the page and its assets as public', () => {
    for (const p of ['/', '/index.html', '/assets/app-X.js']) expect(isDashboardPath(p), p).toBe(true);
    for (const p of ['/api/v5/nodes', '/assets/../x', '/metrics', '/status', '/index.htm']) expect(isDashboardPath(p), p).toBe(false);
  });
});

describe('without a dashboard build', () => {
  it('answers / with a short "not built" page and no assets', async () => {
    const app = fastify();
    await app.register((child) => registerDashboard(child, null));
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('dashboard is not built');
    expect((await app.inject({ method: 'GET', url: '/assets/app.js' })).statusCode).toBe(404);
    await app.close();
  });

  it('finds dist/dashboard from the bundle, the plain modules and an install, and nothing when absent', () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-dash-'));
    try {
      for (const d of ['dist/outpost', 'dist/src/dashboard']) mkdirSync(join(root, d), { recursive: true });
      expect(findDashboardDir(join(root, 'dist/outpost'))).toBeNull();
      mkdirSync(join(root, 'dist/dashboard/assets'), { recursive: true });
      writeFileSync(join(root, 'dist/dashboard/index.html'), '<!doctype html>');
      expect(findDashboardDir(join(root, 'dist/outpost'))).toBe(join(root, 'dist/dashboard'));
      expect(findDashboardDir(join(root, 'dist/src/dashboard'))).toBe(join(root, 'dist/dashboard'));
      expect(readdirSync(join(root, 'dist/dashboard'))).toContain('assets');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("the pub/sub page's broker URL", () => {
  const ws = { id: 'ws:default', type: 'ws', bind: '0.0.0.0:8083', running: true };
  const wss = { id: 'wss:default', type: 'wss', bind: '0.0.0.0:8084', running: true };
  it('is the page host with the listener port, wss when the page came over https', () => {
    expect(wsUrlFor([ws, wss], 'http:', 'edge.local')).toBe('ws://edge.local:8083/mqtt');
    expect(wsUrlFor([ws, wss], 'https:', 'edge.local')).toBe('wss://edge.local:8084/mqtt');
    expect(wsUrlFor([ws], 'http:', '::1')).toBe('ws://[::1]:8083/mqtt');
    expect(wsUrlFor([{ ...ws, bind: '[::]:9001' }], 'http:', '[fe80::1]')).toBe('ws://[fe80::1]:9001/mqtt');
  });
  it('is empty when no WebSocket listener runs', () => {
    expect(wsUrlFor([{ ...ws, running: false }, { id: 'tcp:default', type: 'tcp', bind: '0.0.0.0:1883', running: true }], 'http:', 'edge.local')).toBe('');
  });
});
