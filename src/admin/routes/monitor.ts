// GET/DELETE /monitor and GET /monitor_current, also per node (emqx_dashboard_monitor_api.erl).
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { MonitorSampler, type MonitorSource } from '../monitor.js';
import type { RouteContext } from '../route-context.js';

export function registerMonitorRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const node = ctx.deps.broker.node;
  // The runtime's sampler runs from boot; without one (tests, a bare API) this app samples for itself.
  let sampler: MonitorSource | undefined = ctx.deps.monitor;
  if (!sampler) {
    const own = new MonitorSampler(ctx.deps.broker);
    own.start();
    app.addHook('onClose', async () => own.stop());
    sampler = own;
  }
  const s = sampler;

  const checkNode = (n: string | undefined): void => {
    if (n !== undefined && n !== node) throw new ApiError('NOT_FOUND', `node ${n} not found`);
  };
  const latest = (q: Record<string, unknown>): number | undefined => {
    if (q.latest === undefined || q.latest === '') return undefined;
    const n = Number(q.latest);
    if (!Number.isInteger(n) || n < 1) throw new ApiError('BAD_REQUEST', 'latest must be an integer >= 1');
    return n;
  };

  const monitor = async (req: { params: { node?: string }; query: unknown }) => {
    checkNode(req.params.node);
    return s.samples(latest(req.query as Record<string, unknown>));
  };
  app.get<{ Params: { node?: string } }>('/api/v5/monitor', monitor);
  app.get<{ Params: { node: string } }>('/api/v5/monitor/nodes/:node', monitor);
  app.delete('/api/v5/monitor', async (_req, reply) => {
    s.clear();
    return reply.status(204).send();
  });

  app.get('/api/v5/monitor_current', async () => s.current());
  app.get<{ Params: { node: string } }>('/api/v5/monitor_current/nodes/:node', async (req) => {
    checkNode(req.params.node);
    // Per node EMQX adds the uptime (ms) and leaves out the cluster-only durable counters.
    const { subscriptions_durable: _s, disconnected_durable_sessions: _d, ...rest } = s.current();
    return { ...rest, node_uptime: ctx.deps.broker.clock.now() - ctx.deps.broker.startedAt };
  });
}
