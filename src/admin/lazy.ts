// The API's port is bound at start (it counts as a listener for READY), but fastify, its schema
// compiler and prom-client load on the first request. An edge box that nobody queries keeps
// ~30 MB and ~250 ms of start-up out of its budget (bench: startup, idle RSS).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { isLoopback } from './loopback.js';
import { CredentialFileError, parseApiKeyFile, writeFileAtomic } from './credentials.js';
import type { AdminDeps } from './deps.js';
import { ensureFirstAdmin } from './first-run.js';
import { LOCAL_KEY_FILE, LOCAL_KEY_NAME } from './local-key.js';
import type { AdminService, BuiltAdmin } from './server.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export async function startAdmin(deps: AdminDeps, config: Config): Promise<AdminService> {
  if (!config.api.enable) return { port: 0, close: async () => {} };
  if (!config.api.auth && !isLoopback(config.api.bind)) {
    throw new CredentialFileError(`api.auth = false is only allowed with a loopback bind (bind is ${config.api.bind})`);
  }
  const log = deps.log.child({ component: 'admin' });
  const dataDir = config.node.data_dir;
  mkdirSync(dataDir, { recursive: true });
  // A bad key file refuses the start now, not at the first request.
  const keyFile = config.api.api_key_bootstrap_file;
  if (keyFile) {
    let text: string;
    try {
      text = readFileSync(keyFile, 'utf8');
    } catch (err) {
      throw new CredentialFileError(`api.api_key_bootstrap_file: cannot read ${keyFile}: ${(err as Error).message}`);
    }
    parseApiKeyFile(text, keyFile);
  }
  // outpostctl on the box finds this key before its first request, so it is written now.
  const localSecret = randomBytes(24).toString('hex');
  const keyPath = join(dataDir, LOCAL_KEY_FILE);
  writeFileAtomic(keyPath, `${LOCAL_KEY_NAME}:${localSecret}\n`, 0o600);

  let firstRunReady: Promise<void> = Promise.resolve();
  let handler: Handler | null = null;
  let built: BuiltAdmin | null = null;
  let loading: Promise<void> | null = null;
  const server = createServer();
  const load = async (): Promise<void> => {
    const { buildAdmin } = await import('./server.js');
    built = buildAdmin(deps, config, {
      localSecret,
      serverFactory: (h) => {
        handler = h;
        return server;
      },
    });
    await built.app.ready();
    log.debug('api_loaded');
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler) return handler(req, res);
    // The body stays buffered in the request stream until fastify reads it. A first-run admin
    // being written is waited for, so its password logs in from the first request on.
    loading ??= firstRunReady.then(load);
    loading.then(
      () => handler!(req, res),
      (err: unknown) => {
        log.error({ err }, 'api_load_failed');
        res.statusCode = 500;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ code: 'INTERNAL_ERROR', message: (err as Error).message }));
      },
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.api.bind, port: config.api.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    rmSync(keyPath, { force: true });
    throw err;
  }
  // Only once the port is ours: a start that fails leaves no user behind.
  if (config.api.auth) {
    try {
      const first = ensureFirstAdmin(dataDir, log);
      if (first) firstRunReady = first.ready.catch((err: unknown) => log.error({ err }, 'api_admin_create_failed'));
    } catch (err) {
      server.close();
      rmSync(keyPath, { force: true });
      throw err;
    }
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.api.port;
  if (config.api.auth && !keyFile && !isLoopback(config.api.bind)) {
    log.warn({ bind: config.api.bind }, 'api_without_api_keys: only dashboard users (outpostctl admin passwd) and the local key can log in');
  }
  log.info({ bind: config.api.bind, port, auth: config.api.auth }, 'api_listening');
  let closed = false;
  return {
    port,
    async close() {
      if (closed) return;
      closed = true;
      rmSync(keyPath, { force: true });
      const b = built as BuiltAdmin | null;
      if (b) {
        await b.app.close();
        if (b.ownTrace) await b.trace.close();
      }
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
