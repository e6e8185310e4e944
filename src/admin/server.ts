// The HTTP API on 18083: EMQX's /api/v5 shapes (src/broker/SPEC.md §9), API keys
// and bearer tokens, Prometheus text. Routes live in routes/*.ts; this file owns the fastify
// instance, authentication and the error envelope.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { isLoopback } from './config.js';
import { CredentialFileError, Credentials, parseApiKeyFile, roleAllows, type Principal } from './credentials.js';
import type { AdminDeps } from './deps.js';
import { ApiError, API_ERRORS } from './errors.js';
import { PrometheusExporter } from './prometheus.js';
import { registerAccessRoutes } from './routes/access.js';
import { registerAlarmRoutes } from './routes/alarms.js';
import { registerApiKeyRoutes } from './routes/api-keys.js';
import { registerAuthnRoutes } from './routes/authn.js';
import { registerAuthzRoutes } from './routes/authz.js';
import { registerConfigRoutes } from './routes/configs.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { registerDelayedRoutes } from './routes/delayed.js';
import { registerMonitorRoutes } from './routes/monitor.js';
import { registerClientRoutes } from './routes/clients.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerPublishRoutes } from './routes/publish.js';
import { registerStatusRoutes } from './routes/status.js';
import { registerUserRoutes } from './routes/users.js';
import { TraceService } from './trace.js';
import { isDashboardPath, registerDashboard } from '../dashboard/serve.js';
import type { RouteContext } from './route-context.js';

export interface AdminService {
  /** Bound port (0 when the API is disabled). */
  port: number;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const PUBLIC_PATHS = new Set(['/status', '/api/v5/status', '/api/v5/login']);
const PROMETHEUS_PATHS = new Set(['/metrics', '/api/v5/prometheus/stats']);

function loadApiKeys(config: Config): ReturnType<typeof parseApiKeyFile> {
  const file = config.api.api_key_bootstrap_file;
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CredentialFileError(`api.api_key_bootstrap_file: cannot read ${file}: ${(err as Error).message}`);
  }
  return parseApiKeyFile(text, file);
}

function authenticate(req: FastifyRequest, ctx: RouteContext): Principal {
  const h = req.headers.authorization;
  if (!h) throw new ApiError('BAD_USERNAME_OR_PWD', 'Authorization required: HTTP Basic with an API key, or a bearer token from POST /api/v5/login');
  const sp = h.indexOf(' ');
  const scheme = (sp > 0 ? h.slice(0, sp) : h).toLowerCase();
  const value = sp > 0 ? h.slice(sp + 1).trim() : '';
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const p = colon > 0 ? ctx.credentials.checkBasic(decoded.slice(0, colon), decoded.slice(colon + 1)) : null;
    if (!p) throw new ApiError('BAD_API_KEY_OR_SECRET');
    return p;
  }
  if (scheme === 'bearer') {
    const p = ctx.credentials.checkBearer(value);
    if (p === 'expired') throw new ApiError('TOKEN_TIME_OUT');
    if (!p) throw new ApiError('BAD_USERNAME_OR_PWD', 'Invalid token');
    return p;
  }
  throw new ApiError('BAD_USERNAME_OR_PWD', `Unsupported authorization scheme ${scheme}`);
}

export interface BuiltAdmin {
  app: FastifyInstance;
  credentials: Credentials;
  trace: TraceService;
  /** true when the trace service was created here (and must be closed here). */
  ownTrace: boolean;
}

export interface BuildOptions {
  /** Serve on an existing http.Server (the lazy front in lazy.ts) instead of creating one. */
  serverFactory?: (handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) => Server;
  /** A local key already written to the data dir. */
  localSecret?: string;
}

/** The fastify app without listening: tests drive it with inject(). */
export function buildAdmin(deps: AdminDeps, config: Config, opts: BuildOptions = {}): BuiltAdmin {
  if (!config.api.auth && !isLoopback(config.api.bind)) {
    // The schema refuses this already; a hand-built config must not slip past it either.
    throw new CredentialFileError(`api.auth = false is only allowed with a loopback bind (bind is ${config.api.bind})`);
  }
  const log = deps.log.child({ component: 'admin' });
  const dataDir = config.node.data_dir;
  const credentials = new Credentials(loadApiKeys(config), dataDir, config.api.token_ttl * 1000, () => deps.broker.clock.now());
  if (opts.localSecret) credentials.adoptLocalKey(opts.localSecret);
  const ownTrace = !deps.trace;
  const trace = deps.trace ?? new TraceService({ dir: join(dataDir, 'trace'), log, now: () => deps.broker.clock.now() });
  if (ownTrace) trace.attach(deps.broker);
  const ctx: RouteContext = { deps, config, log, credentials, trace, prometheus: new PrometheusExporter(deps.broker, () => deps.gateways?.list() ?? []) };

  // Room for the largest publish the broker accepts, base64-encoded, plus JSON around it.
  const bodyLimit = Math.max(4 * 1024 * 1024, Math.ceil(config.mqtt.max_packet_size * 1.4) + 65536);
  const app = opts.serverFactory
    ? fastify({ logger: false, bodyLimit, routerOptions: { ignoreTrailingSlash: true }, serverFactory: opts.serverFactory })
    : fastify({ logger: false, bodyLimit, routerOptions: { ignoreTrailingSlash: true } });
  app.decorateRequest('principal', null);
  // An empty body with a JSON content type (DELETE/POST from some EMQX clients) is no body, not a 400.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError('BAD_REQUEST', `invalid JSON body: ${(err as Error).message}`), undefined);
    }
  });

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?', 1)[0]!;
    if (PUBLIC_PATHS.has(path) || ((req.method === 'GET' || req.method === 'HEAD') && isDashboardPath(path))) return;
    if (PROMETHEUS_PATHS.has(path) && !config.api.prometheus_auth) return;
    if (!config.api.auth) {
      req.principal = { name: 'loopback', role: 'administrator', via: 'none' };
      return;
    }
    const p = authenticate(req, ctx);
    if (!roleAllows(p.role, req.method, path)) throw new ApiError('FORBIDDEN', `role ${p.role} may not ${req.method} ${path}`);
    req.principal = p;
  });

  if (log.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (req, reply) => {
      log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime), by: req.principal?.name }, 'api_request');
    });
  }

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status === 401) reply.header('www-authenticate', 'Basic realm="outpost"');
      return reply.status(err.status).send({ code: err.code, message: err.message });
    }
    const e = err as { statusCode?: number; status?: unknown; message?: string; code?: unknown };
    // Services (auth, bridges) throw errors that declare their HTTP status next to a stable code.
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && typeof e.code === 'string') {
      const code = e.status === 404 ? 'NOT_FOUND' : e.status === 409 ? 'ALREADY_EXISTS' : 'BAD_REQUEST';
      return reply.status(e.status).send({ code, message: e.message ?? API_ERRORS[code].message });
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      // fastify's own 4xx (malformed JSON, body too large, wrong content type).
      return reply.status(e.statusCode).send({ code: 'BAD_REQUEST', message: e.message ?? API_ERRORS.BAD_REQUEST.message });
    }
    log.error({ err: e.message, method: req.method, url: req.url }, 'api_internal_error');
    return reply.status(500).send({ code: 'INTERNAL_ERROR', message: e.message ?? API_ERRORS.INTERNAL_ERROR.message });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: 'NOT_FOUND', message: `Request path not found: ${req.method} ${req.url.split('?', 1)[0]}` });
  });

  registerStatusRoutes(app, ctx);
  registerClientRoutes(app, ctx);
  registerPublishRoutes(app, ctx);
  registerAccessRoutes(app, ctx);
  registerOpsRoutes(app, ctx);
  registerAlarmRoutes(app, ctx);
  registerMonitorRoutes(app, ctx);
  registerConfigRoutes(app, ctx);
  registerApiKeyRoutes(app, ctx);
  registerAuthzRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerAuthnRoutes(app, ctx);
  registerDelayedRoutes(app, ctx);
  // The dashboard's page and assets at / (src/dashboard); the API above is unchanged.
  app.register((child) => registerDashboard(child));
  return { app, credentials, trace, ownTrace };
}
