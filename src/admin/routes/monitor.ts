// GET/DELETE /monitor and GET /monitor_current, also per node (emqx_dashboard_monitor_api.erl).
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { MonitorSampler } from '../monitor.js';
import type { RouteContext } from '../route-context.js';

export function registerMonitorRoutes(app: FastifyInstance, ctx: RouteContext, sampler = new MonitorSampler(ctx.deps.broker)): void {
  const node = ctx.deps.broker.node;
  sampler.start();
  app.addHook('onClose', async () => sampler.stop());

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
    return sampler.samples(latest(req.query as Record<string, unknown>));
  };
  app.get<{ Params: { node?: string } }>('/api/v5/monitor', monitor);
  app.get<{ Params: { node: string } }>('/api/v5/monitor/nodes/:node', monitor);
  app.delete('/api/v5/monitor', async (_req, reply) => {
    sampler.clear();
    return reply.status(204).send();
  });

  app.get('/api/v5/monitor_current', async () => sampler.current());
  app.get<{ Params: { node: string } }>('/api/v5/monitor_current/nodes/:node', async (req) => {
    checkNode(req.params.node);
    // Per node EMQX adds the uptime (ms) and leaves out the cluster-only durable counters.
    const { subscriptions_durable: _s, disconnected_durable_sessions: _d, ...rest } = sampler.current();
    return { ...rest, node_uptime: ctx.deps.broker.clock.now() - ctx.deps.broker.startedAt };
  });
}
