// Clients, their subscriptions, the subscription table and routes (emqx_mgmt_api_clients.erl,
// emqx_mgmt_api_subscriptions.erl, emqx_mgmt_api_topics.erl). Gateway clients are broker clients
// too (their `protocol` is the gateway name), so the gateway routes reuse these helpers.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BrokerApi, ClientSummary, SubscriptionSummary } from '../../broker/api.js';
import type { Config } from '../../config/schema.js';
import { ApiError } from '../errors.js';
import { paginate, parseBody, parseBool, parseIntParam, parseTime, qstr, rfc3339 } from '../http-util.js';
import type { RouteContext } from '../route-context.js';
import { splitShared, topicMatches } from '../topic-match.js';
import { parseLimit, registerClientQueueRoutes } from './client-queues.js';

/** A client as EMQX's /clients shows it. */
export function clientItem(c: ClientSummary, node: string, config: Config): Record<string, unknown> {
  return {
    clientid: c.clientId,
    username: c.username,
    node,
    protocol: c.protocol,
    listener: c.listener,
    ip_address: c.peerHost,
    port: c.peerPort,
    proto_name: c.protoName,
    proto_ver: c.protoVer,
    keepalive: c.keepalive,
    clean_start: c.cleanStart,
    expiry_interval: c.expiryInterval,
    connected: c.connected,
    connected_at: rfc3339(c.connectedAt),
    created_at: rfc3339(c.createdAt),
    disconnected_at: c.connected ? null : rfc3339(c.disconnectedAt),
    is_bridge: c.isBridge,
    is_expired: false,
    mountpoint: c.mountpoint || null,
    subscriptions_cnt: c.subscriptionsCount,
    subscriptions_max: config.mqtt.max_subscriptions === 0 ? 'infinity' : config.mqtt.max_subscriptions,
    inflight_cnt: c.inflightCount,
    inflight_max: c.inflightMax,
    mqueue_len: c.mqueueLen,
    mqueue_max: c.mqueueMax,
    mqueue_dropped: c.mqueueDropped,
    awaiting_rel_cnt: c.awaitingRelCount,
    awaiting_rel_max: config.mqtt.max_awaiting_rel,
    recv_msg: c.recvMsg,
    send_msg: c.sendMsg,
    recv_oct: c.recvOct,
    send_oct: c.sendOct,
  };
}

/** `like_*` filters are substring matches (EMQX: fuzzy search). */
function strList(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

/** The /clients query filters, also used by /gateways/{name}/clients. */
export function clientFilter(query: Record<string, unknown>, node: string): (c: ClientSummary) => boolean {
  const clientids = strList(query.clientid);
  const username = qstr(query, 'username');
  const ip = qstr(query, 'ip_address');
  const connState = qstr(query, 'conn_state');
  if (connState !== undefined && !['connected', 'idle', 'disconnected'].includes(connState)) {
    throw new ApiError('BAD_REQUEST', 'conn_state must be connected, idle or disconnected');
  }
  const cleanStart = parseBool(query.clean_start, 'clean_start');
  const protoVer = qstr(query, 'proto_ver');
  const protocol = qstr(query, 'protocol');
  const likeClientid = qstr(query, 'like_clientid');
  const likeUsername = qstr(query, 'like_username');
  const gteCreated = parseTime(query.gte_created_at, 'gte_created_at');
  const lteCreated = parseTime(query.lte_created_at, 'lte_created_at');
  const gteConnected = parseTime(query.gte_connected_at, 'gte_connected_at');
  const lteConnected = parseTime(query.lte_connected_at, 'lte_connected_at');
  const nodeFilter = qstr(query, 'node');
  return (c) =>
    (nodeFilter === undefined || nodeFilter === node) &&
    (clientids === undefined || clientids.includes(c.clientId)) &&
    (username === undefined || c.username === username) &&
    (ip === undefined || c.peerHost === ip) &&
    // Sessions without a connection are 'disconnected'; this node lists no pre-CONNECT sockets ('idle').
    (connState === undefined || (connState === 'connected' ? c.connected : connState === 'disconnected' ? !c.connected : false)) &&
    (cleanStart === undefined || c.cleanStart === cleanStart) &&
    (protoVer === undefined || String(c.protoVer) === protoVer) &&
    (protocol === undefined || c.protocol === protocol) &&
    (likeClientid === undefined || c.clientId.includes(likeClientid)) &&
    (likeUsername === undefined || (c.username ?? '').includes(likeUsername)) &&
    (gteCreated === undefined || c.createdAt >= gteCreated) &&
    (lteCreated === undefined || c.createdAt <= lteCreated) &&
    (gteConnected === undefined || (c.connectedAt > 0 && c.connectedAt >= gteConnected)) &&
    (lteConnected === undefined || (c.connectedAt > 0 && c.connectedAt <= lteConnected));
}

export function subscriptionItem(s: SubscriptionSummary, node: string): Record<string, unknown> {
  return { topic: s.topic, qos: s.opts.qos, nl: s.opts.nl ? 1 : 0, rap: s.opts.rap ? 1 : 0, rh: s.opts.rh, node, clientid: s.clientId };
}

const bit = z.union([z.literal(0), z.literal(1), z.boolean()]).default(0);
export const subscribeBody = z.object({
  topic: z.string().min(1),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  nl: bit,
  rap: bit,
  rh: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
});
const unsubscribeBody = z.object({ topic: z.string().min(1) });
const keepaliveBody = z.object({ interval: z.number().int().min(0).max(65535) });

export function requireClient(broker: BrokerApi, clientId: string, protocol?: string): ClientSummary {
  const c = broker.client(clientId);
  if (!c || (protocol !== undefined && c.protocol !== protocol)) throw new ApiError('CLIENTID_NOT_FOUND');
  return c;
}

export function subscribeFor(broker: BrokerApi, clientId: string, body: z.infer<typeof subscribeBody>): Record<string, unknown> {
  const opts = { qos: body.qos, nl: Boolean(body.nl), rap: Boolean(body.rap), rh: body.rh, subId: 0 };
  if (!broker.subscribeFor(clientId, body.topic, opts)) throw new ApiError('CLIENTID_NOT_FOUND');
  return subscriptionItem({ clientId, topic: body.topic, opts }, broker.node);
}

// clients_v2 cursor: the last client id of the previous page, versioned and base64url-encoded so it
// stays opaque as EMQX's is. Pages walk client ids in order, so clients that come and go between
// pages neither shift nor repeat the others (the point of a cursor over page numbers).
const CURSOR_PREFIX = 'c1:';

function encodeCursor(clientId: string): string {
  return Buffer.from(CURSOR_PREFIX + clientId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  // EMQX: 400 {"code":"BAD_REQUEST","message":"bad cursor"}.
  if (!text.startsWith(CURSOR_PREFIX)) throw new ApiError('BAD_REQUEST', 'bad cursor');
  return text.slice(CURSOR_PREFIX.length);
}

/**
 * EMQX's GET /clients_v2 (list_clients_v2 in emqx_mgmt_api_clients.erl): the /clients filters and
 * items, `?limit` (1..10000, default 100) and `?cursor`; `meta` is `{count}` for this page plus
 * `cursor` only while more clients follow. No page, limit or hasnext in meta, as EMQX's handler.
 */
export function clientsV2Page(
  clients: Iterable<ClientSummary>,
  query: Record<string, unknown>,
  node: string,
  config: Config,
): { data: Record<string, unknown>[]; meta: { count: number; cursor?: string } } {
  const limit = parseLimit(qstr(query, 'limit'));
  const rawCursor = qstr(query, 'cursor');
  const after = rawCursor === undefined ? null : decodeCursor(rawCursor);
  const keep = clientFilter(query, node);
  const picked: ClientSummary[] = [];
  for (const c of clients) if ((after === null || c.clientId > after) && keep(c)) picked.push(c);
  picked.sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  const page = picked.slice(0, limit);
  const meta: { count: number; cursor?: string } = { count: page.length };
  if (picked.length > limit) meta.cursor = encodeCursor(page[page.length - 1]!.clientId);
  return { data: page.map((c) => clientItem(c, node, config)), meta };
}

export function registerClientRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const broker = ctx.deps.broker;
  const node = broker.node;

  app.get('/api/v5/clients', async (req) => {
    const q = req.query as Record<string, unknown>;
    const keep = clientFilter(q, node);
    const items: Record<string, unknown>[] = [];
    for (const c of broker.clients()) if (keep(c)) items.push(clientItem(c, node, ctx.config));
    return paginate(items, q);
  });

  app.get('/api/v5/clients_v2', async (req) => clientsV2Page(broker.clients(), req.query as Record<string, unknown>, node, ctx.config));

  app.get<{ Params: { clientid: string } }>('/api/v5/clients/:clientid', async (req) =>
    clientItem(requireClient(broker, req.params.clientid), node, ctx.config),
  );

  // EMQX set_keepalive: the client info back, 404 when not connected.
  app.put<{ Params: { clientid: string } }>('/api/v5/clients/:clientid/keepalive', async (req) => {
    const b = parseBody(keepaliveBody, req.body);
    const r = broker.setKeepalive(req.params.clientid, b.interval);
    if (r === 'not_found') throw new ApiError('CLIENTID_NOT_FOUND');
    if (r === 'not_supported') throw new ApiError('PARAM_ERROR', "this client's protocol has no changeable keepalive");
    ctx.log.info({ clientid: req.params.clientid, interval: b.interval, by: req.principal?.name }, 'client_keepalive_set_by_api');
    return clientItem(requireClient(broker, req.params.clientid), node, ctx.config);
  });

  app.delete<{ Params: { clientid: string } }>('/api/v5/clients/:clientid', async (req, reply) => {
    if (!broker.kick(req.params.clientid)) throw new ApiError('CLIENTID_NOT_FOUND');
    ctx.log.info({ clientid: req.params.clientid, by: req.principal?.name }, 'client_kicked_by_api');
    return reply.status(204).send();
  });

  app.post('/api/v5/clients/kickout/bulk', async (req, reply) => {
    const ids = parseBody(z.array(z.string()).min(1), req.body);
    for (const id of ids) broker.kick(id);
    return reply.status(204).send();
  });

  app.get<{ Params: { clientid: string } }>('/api/v5/clients/:clientid/subscriptions', async (req) => {
    requireClient(broker, req.params.clientid);
    return broker.subscriptions(req.params.clientid).map((s) => subscriptionItem(s, node));
  });

  app.post<{ Params: { clientid: string } }>('/api/v5/clients/:clientid/subscribe', async (req) => {
    requireClient(broker, req.params.clientid);
    return subscribeFor(broker, req.params.clientid, parseBody(subscribeBody, req.body));
  });

  app.post<{ Params: { clientid: string } }>('/api/v5/clients/:clientid/subscribe/bulk', async (req) => {
    requireClient(broker, req.params.clientid);
    const list = parseBody(z.array(subscribeBody).min(1), req.body);
    return list.map((b) => subscribeFor(broker, req.params.clientid, b));
  });

  app.post<{ Params: { clientid: string } }>('/api/v5/clients/:clientid/unsubscribe', async (req, reply) => {
    requireClient(broker, req.params.clientid);
    const b = parseBody(unsubscribeBody, req.body);
    broker.unsubscribeFor(req.params.clientid, b.topic);
    return reply.status(204).send();
  });

  app.post<{ Params: { clientid: string } }>('/api/v5/clients/:clientid/unsubscribe/bulk', async (req, reply) => {
    requireClient(broker, req.params.clientid);
    const list = parseBody(z.array(unsubscribeBody).min(1), req.body);
    for (const b of list) broker.unsubscribeFor(req.params.clientid, b.topic);
    return reply.status(204).send();
  });

  registerClientQueueRoutes(app, broker);

  app.get('/api/v5/subscriptions', async (req) => {
    const q = req.query as Record<string, unknown>;
    const clientid = qstr(q, 'clientid');
    const topic = qstr(q, 'topic');
    const qos = parseIntParam(q.qos, 'qos');
    if (qos !== undefined && (qos < 0 || qos > 2)) throw new ApiError('BAD_REQUEST', 'qos must be 0, 1 or 2');
    const group = qstr(q, 'share_group');
    const match = qstr(q, 'match_topic');
    const nodeFilter = qstr(q, 'node');
    const items = broker
      .subscriptions(clientid)
      .filter((s) => {
        const shared = splitShared(s.topic);
        return (
          (nodeFilter === undefined || nodeFilter === node) &&
          (topic === undefined || s.topic === topic) &&
          (qos === undefined || s.opts.qos === qos) &&
          (group === undefined || shared.group === group) &&
          // match_topic: subscriptions whose filter would receive a publish to this topic.
          (match === undefined || topicMatches(shared.filter, match))
        );
      })
      .map((s) => ({ ...subscriptionItem(s, node), durable: false }));
    return paginate(items, q);
  });

  app.get('/api/v5/topics', async (req) => {
    const q = req.query as Record<string, unknown>;
    const topic = qstr(q, 'topic');
    const items = broker
      .topics()
      .filter((t) => topic === undefined || t === topic)
      .sort()
      .map((t) => ({ topic: t, node }));
    return paginate(items, q);
  });

  app.get<{ Params: { topic: string } }>('/api/v5/topics/:topic', async (req) => {
    if (!broker.topics().includes(req.params.topic)) throw new ApiError('TOPIC_NOT_FOUND');
    return [{ topic: req.params.topic, node }];
  });
}
