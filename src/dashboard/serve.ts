// The web dashboard on the API listener: a static single-page app built by scripts/build-dashboard.mjs
// into dist/dashboard/ (index.html + content-hashed assets/). The page itself is public, like any login
// page; everything it shows comes from /api/v5 with the token it gets from POST /api/v5/login.
// Without a build (esbuild absent where `npm run build` ran) `/` says so and the API works as before.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

const ASSETS_PREFIX = '/assets/';

/** Paths the dashboard serves without credentials: its page and its static assets, nothing under /api. */
export function isDashboardPath(path: string): boolean {
  return path === '/' || path === '/index.html' || (path.startsWith(ASSETS_PREFIX) && !path.includes('..'));
}

/**
 * dist/dashboard next to whichever build runs: the bundle (dist/outpost/), the plain modules
 * (dist/src/dashboard/) or an install (/opt/outpost/dist/...). Walks up to the folder holding dist/.
 */
export function findDashboardDir(start = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = start;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'dist', 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

// The page loads only its own files; the pub/sub tool opens WebSockets to the broker's ws/wss listeners.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Outpost</title></head>
<body><h1>Outpost</h1><p>The dashboard is not built: this install ran <code>npm run build</code> without esbuild.
The HTTP API answers under <code>/api/v5</code> as usual.</p></body></html>
`;

/** A fastify plugin: `app.register((child) => registerDashboard(child))`. */
export async function registerDashboard(app: FastifyInstance, dir: string | null = findDashboardDir()): Promise<void> {
  const index = dir ? readFileSync(join(dir, 'index.html'), 'utf8') : NOT_BUILT;
  const page = async (_req: unknown, reply: FastifyReply) =>
    reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // The page names the current hashed assets, so it is revalidated; the assets never change.
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(index);
  app.get('/', page);
  app.get('/index.html', page);
  if (!dir || !existsSync(join(dir, 'assets'))) return;
  await app.register(fastifyStatic, {
    root: join(dir, 'assets'),
    prefix: ASSETS_PREFIX,
    index: false,
    list: false,
    dotfiles: 'deny',
    immutable: true,
    maxAge: '365d',
    setHeaders: (res) => void res.setHeader('x-content-type-options', 'nosniff'),
  });
}
