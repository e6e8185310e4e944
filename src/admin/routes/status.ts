// Health, login, node info, stats, metrics and the Prometheus scrape (emqx_mgmt_api_status.erl,
// emqx_dashboard_api.erl, emqx_mgmt_api_nodes.erl, _stats.erl, _metrics.erl, emqx_prometheus_api.erl).
import { existsSync, readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { LoginThrottle } from '../credentials.js';
import { ApiError } from '../errors.js';
import { parseBody, parseBool } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const loginBody = z.object({ username: z.string().min(1), password: z.string().min(1) });

/** The install directory (EMQX: code:root_dir()): the nearest folder above this module with a package.json (src/, dist/src/ or the bundle). */
const SYS_PATH = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
})();

/** Soft limit of open files (EMQX max_fds, esockd:ulimit()); 0 where /proc is not there. */
function maxFds(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function registerStatusRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const broker = ctx.deps.broker;

  const status = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.query as Record<string, unknown>;
    const phase = ctx.deps.lifecycle?.() ?? 'running';
    const brokerStatus = phase === 'running' ? 'started' : phase;
    const appStatus = phase === 'running' ? 'running' : 'not_running';
    // Load balancers and systemd health checks read the status code (emqx_mgmt_api_status.erl).
    if (phase !== 'running') reply.status(503).header('retry-after', '15');
    if (q.format === 'json') return { node_name: broker.node, broker_status: brokerStatus, app_status: appStatus };
    reply.type('text/plain; charset=utf-8');
    return `Node ${broker.node} is ${brokerStatus}\noutpost is ${appStatus}`;
  };
  app.get('/status', status);
  app.get('/api/v5/status', status);

  const throttle = new LoginThrottle();
  app.post('/api/v5/login', async (req, reply) => {
    const b = parseBody(loginBody, req.body);
    const now = broker.clock.now();
    const locked = throttle.lockedFor(req.ip, now);
    if (locked > 0) {
      reply.header('retry-after', String(Math.ceil(locked / 1000)));
      throw new ApiError('LOGIN_LOCKED', `Too many failed logins from ${req.ip}; try again in ${Math.ceil(locked / 1000)} s`);
    }
    const r = await ctx.credentials.login(b.username, b.password);
    if (!r) {
      throttle.failed(req.ip, now);
      ctx.log.warn({ username: b.username, peer: req.ip, reason: 'bad_username_or_password' }, 'api_login_failed');
      throw new ApiError('BAD_USERNAME_OR_PWD');
    }
    throttle.succeeded(req.ip);
    return { token: r.token, version: broker.version, license: { edition: 'opensource' }, role: 'administrator' };
  });

  app.post('/api/v5/logout', async (req, reply) => {
    const h = req.headers.authorization ?? '';
    if (h.toLowerCase().startsWith('bearer ')) ctx.credentials.logout(h.slice(7).trim());
    return reply.status(204).send();
  });

  const nodeInfo = () => {
    const stats = broker.stats();
    const mem = process.memoryUsage();
    const [l1, l5, l15] = loadavg();
    return {
      node: broker.node,
      node_status: 'running',
      version: broker.version,
      edition: 'Opensource',
      role: 'core',
      uptime: Math.max(0, broker.clock.now() - broker.startedAt),
      connections: stats['connections.count'],
      live_connections: stats['live_connections.count'],
      cluster_sessions: stats['sessions.count'],
      max_fds: maxFds(),
      // EMQX's runtime field names the Erlang/OTP release; here the runtime is Node.js.
      otp_release: `Node.js ${process.versions.node}`,
      sys_path: SYS_PATH,
      // Outpost logs to stdout/journald only: EMQX's answer when file logging is off.
      log_path: 'log.file.enable is false, not logging to file.',
      memory_used: mem.rss,
      memory_total: totalmem(),
      memory_free: freemem(),
      heap_used: mem.heapUsed,
      load1: Number(l1!.toFixed(2)),
      load5: Number(l5!.toFixed(2)),
      load15: Number(l15!.toFixed(2)),
      cpus: cpus().length,
      node_version: process.version,
      pid: process.pid,
    };
  };
  const ownNode = (name: string) => {
    if (name !== broker.node) throw new ApiError('NOT_FOUND', `node ${name} not found`);
  };

  app.get('/api/v5/nodes', async () => [nodeInfo()]);
  app.get<{ Params: { node: string } }>('/api/v5/nodes/:node', async (req) => {
    ownNode(req.params.node);
    return nodeInfo();
  });
  app.get<{ Params: { node: string } }>('/api/v5/nodes/:node/stats', async (req) => {
    ownNode(req.params.node);
    return broker.stats();
  });
  app.get<{ Params: { node: string } }>('/api/v5/nodes/:node/metrics', async (req) => {
    ownNode(req.params.node);
    return broker.metrics.snapshot();
  });

  // aggregate=true: one object; otherwise one entry per node, as EMQX's default.
  app.get('/api/v5/stats', async (req) => {
    const aggregate = parseBool((req.query as Record<string, unknown>).aggregate, 'aggregate');
    const s = broker.stats();
    return aggregate ? s : [{ node: broker.node, ...s }];
  });
  app.get('/api/v5/metrics', async (req) => {
    const aggregate = parseBool((req.query as Record<string, unknown>).aggregate, 'aggregate');
    const m = broker.metrics.snapshot();
    return aggregate ? m : [{ node: broker.node, ...m }];
  });

  const scrape = async (req: { headers: Record<string, string | string[] | undefined>; query: unknown }, reply: { type(t: string): unknown }) => {
    const q = req.query as Record<string, unknown>;
    const accept = String(req.headers.accept ?? '');
    if (q.format === 'json' || (accept.includes('application/json') && !accept.includes('text/plain'))) return ctx.prometheus.json();
    reply.type(ctx.prometheus.contentType);
    return ctx.prometheus.text();
  };
  app.get('/api/v5/prometheus/stats', scrape);
  app.get('/metrics', scrape);
}
