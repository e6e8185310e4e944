// Listeners, gateways and their clients, bridges, reload and traces (emqx_mgmt_api_listeners.erl,
// emqx_gateway_api*.erl, emqx_bridge_api.erl, emqx_trace_api.erl).
import type { FastifyInstance } from 'fastify';
import { zipSync } from 'fflate';
import { z } from 'zod';
import type { BridgeAdmin, BridgeStatus, GatewayAdmin, GatewaySummary } from '../deps.js';
import { logSchema } from '../../config/schema.js';
import { ApiError } from '../errors.js';
import { paginate, parseBody, parseTime, rfc3339 } from '../http-util.js';
import type { RouteContext } from '../route-context.js';
import { redact } from './configs.js';
import { TraceError, TRACE_TYPES, type TraceInfo } from '../trace.js';
import { clientFilter, clientItem, requireClient, subscribeBody, subscribeFor, subscriptionItem } from './clients.js';

const traceBody = z.object({
  name: z.string().min(1),
  type: z.enum(TRACE_TYPES),
  clientid: z.string().optional(),
  topic: z.string().optional(),
  ip_address: z.string().optional(),
  start_at: z.union([z.string(), z.number()]).optional(),
  end_at: z.union([z.string(), z.number()]).optional(),
});

/** EMQX's cap on one /trace/:name/log chunk. */
const MAX_READ_TRACE_BYTES = 64 * 1024 * 1024;

function traceItem(t: TraceInfo, node: string): Record<string, unknown> {
  return {
    name: t.name,
    type: t.type,
    [t.type]: t.filter,
    start_at: rfc3339(t.startAt),
    end_at: rfc3339(t.endAt),
    status: t.status,
    log_size: { [node]: t.logSize },
  };
}

function bridgeItem(b: BridgeStatus, node: string): Record<string, unknown> {
  return {
    id: b.id,
    type: b.type,
    name: b.name,
    enable: b.enable,
    status: b.status,
    status_reason: b.statusReason ?? null,
    node_status: [{ node, status: b.status, status_reason: b.statusReason ?? null }],
  };
}

export function registerOpsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const broker = ctx.deps.broker;
  const node = broker.node;

  const gateways = (): GatewayAdmin => {
    if (!ctx.deps.gateways) throw new ApiError('NOT_SUPPORTED', 'gateways are not available on this node');
    return ctx.deps.gateways;
  };
  const bridges = (): BridgeAdmin => {
    if (!ctx.deps.bridges) throw new ApiError('NOT_SUPPORTED', 'bridges are not available on this node');
    return ctx.deps.bridges;
  };
  const findGateway = (name: string): GatewaySummary => {
    const g = gateways()
      .list()
      .find((x) => x.name === name);
    if (!g) throw new ApiError('GATEWAY_NOT_FOUND', `gateway ${name} not found`);
    return g;
  };
  /** The gateway's clients exist only while it is loaded (EMQX: 404 for an unloaded gateway). */
  const loadedGateway = (name: string): GatewaySummary => {
    const g = findGateway(name);
    if (g.status === 'unloaded') throw new ApiError('GATEWAY_NOT_FOUND', `gateway ${name} is not loaded`);
    return g;
  };
  const findBridge = (id: string): BridgeStatus => {
    const b = bridges()
      .list()
      .find((x) => x.id === id || x.name === id);
    if (!b) throw new ApiError('BRIDGE_NOT_FOUND', `bridge ${id} not found`);
    return b;
  };
  const gatewayItem = (g: GatewaySummary): Record<string, unknown> => {
    // EMQX shows a gateway that is not loaded by its name and status only; the empty counts and
    // listeners are ours, so outpostctl and the dashboard read every item alike.
    if (g.status === 'unloaded') return { name: g.name, status: 'unloaded', current_connections: 0, listeners: [] };
    let current = 0;
    for (const c of broker.clients()) if (c.protocol === g.name && c.connected) current++;
    return {
      name: g.name,
      status: g.status,
      created_at: rfc3339(g.createdAt),
      started_at: rfc3339(g.startedAt),
      max_connections: g.maxConnections,
      current_connections: current,
      listeners: g.listeners.map((l) => ({ id: l.id, type: l.type, name: l.id.split(':').pop(), bind: l.bind, running: l.running })),
      node_status: [{ node, status: g.status, max_connections: g.maxConnections, current_connections: current }],
    };
  };

  // Every listener the config declares, running or not (EMQX lists disabled ones with enable false).
  const listenerItems = (): Record<string, unknown>[] => {
    if (!ctx.deps.listeners) throw new ApiError('NOT_SUPPORTED', 'listener information is not available on this node');
    const cfg = ctx.deps.config?.() ?? ctx.config;
    const items = ctx.deps.listeners().map((l) => listenerItem(l.id, l.type, l.bind, true, true, l.currentConnections, l.maxConnections));
    const seen = new Set(items.map((i) => i.id));
    if (!seen.has('tcp:default')) items.unshift(listenerItem('tcp:default', 'tcp', `${cfg.mqtt.bind}:${cfg.mqtt.port}`, cfg.mqtt.enable, false, 0, cfg.mqtt.max_connections));
    for (const type of ['ssl', 'ws', 'wss'] as const) {
      for (const [name, l] of Object.entries(cfg.listeners[type])) {
        const id = `${type}:${name}`;
        if (!seen.has(id)) items.push(listenerItem(id, type, `${l.bind}:${l.port}`, l.enable, false, 0, l.max_connections));
      }
    }
    return items;
  };
  const listenerItem = (id: string, type: string, bind: string, enable: boolean, running: boolean, current: number, max: number): Record<string, unknown> => {
    const status = { running, max_connections: max === 0 ? 'infinity' : max, current_connections: current };
    // EMQX nests the counts in status{}; the same values flat (as Outpost had them) keep outpostctl
    // and the dashboard working until they read status{}.
    return { id, type, name: id.split(':').pop(), enable, bind, acceptors: 1, status, node_status: [{ node, status }], number: 1, ...status };
  };
  const findListener = (id: string): Record<string, unknown> => {
    const l = listenerItems().find((x) => x.id === id);
    if (!l) throw new ApiError('BAD_LISTENER_ID', 'Listener id not found');
    return l;
  };

  app.get('/api/v5/listeners', async (req) => {
    const type = (req.query as Record<string, unknown>).type;
    const all = listenerItems();
    return typeof type === 'string' && type !== '' ? all.filter((l) => l.type === type) : all;
  });
  app.get<{ Params: { id: string } }>('/api/v5/listeners/:id', async (req) => {
    const l = findListener(req.params.id);
    // EMQX answers with the listener's config and its state; the config as configured, secrets hidden.
    const cfg = ctx.deps.config?.() ?? ctx.config;
    const [type, name] = req.params.id.split(':') as [string, string];
    const conf = type === 'tcp' ? { bind: cfg.mqtt.bind, port: cfg.mqtt.port, max_connections: cfg.mqtt.max_connections, max_conn_rate: cfg.mqtt.max_conn_rate } : ((cfg.listeners as Record<string, Record<string, unknown>>)[type]?.[name] ?? {});
    const { bind: _bind, port: _port, ...rest } = redact(conf) as Record<string, unknown>;
    return { ...rest, ...l };
  });
  // EMQX answers 200 with no body; an unknown id is 404 BAD_LISTENER_ID, a failure 400 BAD_REQUEST.
  // Here the change lasts until the node restarts: the config file stays as it is.
  for (const action of ['start', 'stop', 'restart'] as const) {
    app.post<{ Params: { id: string } }>(`/api/v5/listeners/:id/${action}`, async (req, reply) => {
      findListener(req.params.id);
      if (!ctx.deps.listenerAction) throw new ApiError('BAD_REQUEST', `listener ${req.params.id} cannot ${action} on this node`);
      let known: boolean;
      try {
        known = await ctx.deps.listenerAction(req.params.id, action);
      } catch (err) {
        throw new ApiError('BAD_REQUEST', (err as Error).message);
      }
      if (!known) throw new ApiError('BAD_LISTENER_ID', 'Listener id not found');
      ctx.log.info({ listener: req.params.id, action, by: req.principal?.name }, 'listener_action_by_api');
      return reply.status(200).send();
    });
  }

  app.get('/api/v5/gateways', async () => gateways().list().map(gatewayItem));
  app.get<{ Params: { name: string } }>('/api/v5/gateways/:name', async (req) => gatewayItem(findGateway(req.params.name)));

  app.get<{ Params: { name: string } }>('/api/v5/gateways/:name/clients', async (req) => {
    loadedGateway(req.params.name);
    const q = req.query as Record<string, unknown>;
    const keep = clientFilter(q, node);
    const items: Record<string, unknown>[] = [];
    for (const c of broker.clients()) if (c.protocol === req.params.name && keep(c)) items.push(clientItem(c, node, ctx.config));
    return paginate(items, q);
  });
  app.get<{ Params: { name: string; id: string } }>('/api/v5/gateways/:name/clients/:id', async (req) => {
    loadedGateway(req.params.name);
    return clientItem(requireClient(broker, req.params.id, req.params.name), node, ctx.config);
  });
  app.delete<{ Params: { name: string; id: string } }>('/api/v5/gateways/:name/clients/:id', async (req, reply) => {
    loadedGateway(req.params.name);
    requireClient(broker, req.params.id, req.params.name);
    broker.kick(req.params.id);
    return reply.status(204).send();
  });
  // EMQX's device-request API (CoAP): the gateway sends a request to the device and relays the answer.
  app.post<{ Params: { name: string; id: string } }>('/api/v5/gateways/:name/clients/:id/request', async (req, reply) => {
    loadedGateway(req.params.name);
    const pending = gateways().request?.(req.params.name, req.params.id, req.body);
    if (!pending) throw new ApiError('NOT_SUPPORTED', `gateway ${req.params.name} has no device-request API`);
    const r = await pending;
    return reply.status(r.status).send(r.body);
  });
  app.get<{ Params: { name: string; id: string } }>('/api/v5/gateways/:name/clients/:id/subscriptions', async (req) => {
    loadedGateway(req.params.name);
    requireClient(broker, req.params.id, req.params.name);
    return broker.subscriptions(req.params.id).map((s) => subscriptionItem(s, node));
  });
  app.post<{ Params: { name: string; id: string } }>('/api/v5/gateways/:name/clients/:id/subscriptions', async (req, reply) => {
    loadedGateway(req.params.name);
    requireClient(broker, req.params.id, req.params.name);
    return reply.status(201).send(subscribeFor(broker, req.params.id, parseBody(subscribeBody, req.body)));
  });
  app.delete<{ Params: { name: string; id: string; topic: string } }>('/api/v5/gateways/:name/clients/:id/subscriptions/:topic', async (req, reply) => {
    loadedGateway(req.params.name);
    requireClient(broker, req.params.id, req.params.name);
    broker.unsubscribeFor(req.params.id, req.params.topic);
    return reply.status(204).send();
  });

  app.get('/api/v5/bridges', async () => bridges().list().map((b) => bridgeItem(b, node)));
  app.get<{ Params: { id: string } }>('/api/v5/bridges/:id', async (req) => bridgeItem(findBridge(req.params.id), node));
  app.get<{ Params: { id: string } }>('/api/v5/bridges/:id/metrics', async (req) => {
    const b = findBridge(req.params.id);
    return { metrics: b.metrics, node_metrics: [{ node, metrics: b.metrics }] };
  });
  app.post<{ Params: { id: string; op: string } }>('/api/v5/bridges/:id/:op', async (req, reply) => {
    if (req.params.op !== 'restart') throw new ApiError('BAD_REQUEST', `operation ${req.params.op} is not supported (restart)`);
    const b = findBridge(req.params.id);
    if (!(await bridges().restart(b.id))) throw new ApiError('BRIDGE_NOT_FOUND');
    ctx.log.info({ bridge: b.id, by: req.principal?.name }, 'bridge_restarted_by_api');
    return reply.status(204).send();
  });

  app.post('/api/v5/reload', async (req) => {
    if (!ctx.deps.reload) throw new ApiError('NOT_SUPPORTED', 'reload is not available on this node');
    const r = await ctx.deps.reload();
    ctx.log.info({ ok: r.ok, error: r.error, by: req.principal?.name }, 'reload_by_api');
    if (!r.ok) throw new ApiError('RELOAD_FAILED', r.error ?? 'reload failed');
    return { ok: true };
  });

  // `emqx ctl log set-level`: the daemon's level, live (pino's children follow the root logger)
  // until the next reload or restart applies log.level from the config file again.
  app.put('/api/v5/log', async (req) => {
    const level = (req.body as { level?: unknown } | undefined)?.level;
    const parsed = logSchema.safeParse({ level });
    if (level === undefined || !parsed.success) throw new ApiError('BAD_REQUEST', `invalid log level: ${String(level)}`);
    ctx.log.info({ level: parsed.data.level, by: req.principal?.name }, 'log_level_set_by_api');
    ctx.deps.log.level = parsed.data.level;
    return { level: parsed.data.level };
  });

  const trace = ctx.trace;
  // EMQX answers the trace list as a plain array (emqx_mgmt_api_trace: no paging).
  app.get('/api/v5/trace', async () => trace.list().map((t) => traceItem(t, node)));
  app.post('/api/v5/trace', async (req) => {
    const b = parseBody(traceBody, req.body);
    const filter = b[b.type];
    if (filter === undefined || filter === '') throw new ApiError('BAD_REQUEST', `${b.type} is required for a ${b.type} trace`);
    try {
      const startAt = parseTime(b.start_at, 'start_at');
      const endAt = parseTime(b.end_at, 'end_at');
      return traceItem(trace.start({ name: b.name, type: b.type, filter, ...(startAt !== undefined && { startAt }), ...(endAt !== undefined && { endAt }) }), node);
    } catch (err) {
      if (err instanceof TraceError) throw new ApiError(err.code === 'OUTPOST_ERR_TRACE_EXISTS' ? 'ALREADY_EXISTS' : 'BAD_REQUEST', err.message);
      throw err;
    }
  });
  app.put<{ Params: { name: string } }>('/api/v5/trace/:name/stop', async (req) => {
    if (!trace.stop(req.params.name)) throw new ApiError('TRACE_NOT_FOUND');
    return traceItem(trace.get(req.params.name)!, node);
  });
  app.delete<{ Params: { name: string } }>('/api/v5/trace/:name', async (req, reply) => {
    if (!trace.delete(req.params.name)) throw new ApiError('TRACE_NOT_FOUND');
    return reply.status(204).send();
  });
  // EMQX's download: a zip named <name>.zip holding <node>-trace_<name>_<start date>.log; an empty
  // trace is 404 "Trace is empty"; ?node= another node is 404 (emqx_mgmt_api_trace.erl).
  app.get<{ Params: { name: string } }>('/api/v5/trace/:name/download', async (req, reply) => {
    const t = trace.get(req.params.name);
    if (!t) throw new ApiError('NOT_FOUND', `${req.params.name} NOT FOUND`);
    const askNode = (req.query as Record<string, unknown>).node;
    if (askNode !== undefined && askNode !== node) throw new ApiError('NOT_FOUND', 'Node NOT FOUND');
    const log = await trace.readLog(req.params.name);
    if (!log || log.length === 0) throw new ApiError('NOT_FOUND', 'Trace is empty');
    const file = `${node}-trace_${t.name}_${new Date(t.startAt).toISOString().slice(0, 10)}.log`;
    const zip = zipSync({ [file]: new Uint8Array(log.buffer, log.byteOffset, log.length) });
    return reply
      .type('application/x-zip')
      .header('content-disposition', `attachment; filename=${t.name}.zip`)
      .send(Buffer.from(zip.buffer, zip.byteOffset, zip.length));
  });
  // EMQX log_detail: per node, the file's size and last modification (posix seconds).
  app.get<{ Params: { name: string } }>('/api/v5/trace/:name/log_detail', async (req) => {
    const f = trace.fileDetail(req.params.name);
    if (!f) throw new ApiError('NOT_FOUND', `${req.params.name} NOT FOUND`);
    return [{ node, size: f.size, mtime: Math.floor(f.mtimeMs / 1000) }];
  });
  app.get<{ Params: { name: string } }>('/api/v5/trace/:name/log', async (req, reply) => {
    const log = await trace.readLog(req.params.name);
    if (log === null) throw new ApiError('TRACE_NOT_FOUND');
    const q = req.query as Record<string, unknown>;
    // Without ?bytes/?position: the whole log as text (outpostctl, the dashboard). With them: EMQX's
    // chunked form {items, meta: {position, bytes, hint?}}; the cursor is the byte offset as a string.
    if (q.bytes === undefined && q.position === undefined) return reply.type('text/plain; charset=utf-8').send(log);
    if (q.node !== undefined && q.node !== node) throw new ApiError('NOT_FOUND', 'Node NOT FOUND');
    const bytes = q.bytes === undefined ? 1000 : Number(q.bytes);
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_READ_TRACE_BYTES) throw new ApiError('BAD_REQUEST', `bytes must be an integer in 0..${MAX_READ_TRACE_BYTES}`);
    const pos = q.position === undefined ? 0 : typeof q.position === 'string' && /^\d{1,15}$/.test(q.position) ? Number(q.position) : NaN;
    if (!Number.isInteger(pos) || pos > log.length) throw new ApiError('INVALID_PARAMETER', 'Invalid cursor');
    const end = Math.min(log.length, pos + bytes);
    return {
      items: log.subarray(pos, end).toString('utf8'),
      meta: { position: String(end), bytes, ...(end >= log.length && { hint: 'eof' }) },
    };
  });
}
