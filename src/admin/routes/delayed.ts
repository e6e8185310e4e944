// Pending delayed publishes (emqx_delayed_api.erl): /mqtt/delayed/messages (paged list),
// /mqtt/delayed/messages/:node/:msgid (show with payload, delete = cancel) and
// DELETE /mqtt/delayed/messages/:topic (cancel all for a topic). msgid is the message id in hex.
import type { FastifyInstance } from 'fastify';
import type { DelayedSummary } from '../../broker/api.js';
import { ApiError } from '../errors.js';
import { paginate, rfc3339 } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

/** EMQX shows at most this many payload bytes; larger payloads read PAYLOAD_TOO_LARGE. */
const MAX_PAYLOAD_LENGTH = 2048;

const hexId = (id: number): string => id.toString(16).toUpperCase();

export function registerDelayedRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const broker = ctx.deps.broker;
  const item = (d: DelayedSummary): Record<string, unknown> => {
    const m = d.message;
    return {
      msgid: hexId(m.id),
      node: broker.node,
      publish_at: rfc3339(m.ts),
      // Seconds between the publish and its due time: the interval of $delayed/{interval}/topic.
      delayed_interval: Math.max(0, Math.round((d.due - m.ts) / 1000)),
      delayed_remaining: Math.max(0, Math.floor((d.due - broker.clock.now()) / 1000)),
      expected_at: rfc3339(d.due),
      topic: m.topic,
      qos: m.qos,
      from_clientid: m.from,
      from_username: m.fromUsername,
    };
  };
  const find = (node: string, msgid: string): DelayedSummary => {
    if (!/^[0-9A-Fa-f]{1,14}$/.test(msgid)) throw new ApiError('MESSAGE_ID_SCHEMA_ERROR', `Message ID ${msgid} schema error`);
    if (node !== broker.node) throw new ApiError('INVALID_NODE', `Node ${node} not found`);
    const d = broker.delayedMessage(parseInt(msgid, 16));
    if (!d) throw new ApiError('MESSAGE_ID_NOT_FOUND', `Message ID ${msgid} not found`);
    return d;
  };

  app.get('/api/v5/mqtt/delayed/messages', async (req) => {
    const page = paginate(broker.delayedMessages(), req.query as Record<string, unknown>);
    return { data: page.data.map(item), meta: page.meta };
  });

  app.get<{ Params: { node: string; msgid: string } }>('/api/v5/mqtt/delayed/messages/:node/:msgid', async (req) => {
    const d = find(req.params.node, req.params.msgid);
    const p = d.message.payload;
    return { ...item(d), payload: p.length > MAX_PAYLOAD_LENGTH ? 'PAYLOAD_TOO_LARGE' : p.toString('base64') };
  });

  app.delete<{ Params: { node: string; msgid: string } }>('/api/v5/mqtt/delayed/messages/:node/:msgid', async (req, reply) => {
    const d = find(req.params.node, req.params.msgid);
    broker.cancelDelayed(d.message.id);
    ctx.log.info({ msgid: req.params.msgid, topic: d.message.topic, by: req.principal?.name }, 'delayed_message_deleted_by_api');
    return reply.status(204).send();
  });

  app.delete<{ Params: { topic: string } }>('/api/v5/mqtt/delayed/messages/:topic', async (req, reply) => {
    const topic = req.params.topic;
    if (topic === '' || /[+#]/.test(topic)) throw new ApiError('INVALID_TOPIC', `The topic name ${topic} is invalid`);
    const hits = broker.delayedMessages().filter((d) => d.message.topic === topic);
    if (hits.length === 0) throw new ApiError('MESSAGE_NOT_FOUND', `Not found messages for ${topic}`);
    for (const d of hits) broker.cancelDelayed(d.message.id);
    ctx.log.info({ topic, count: hits.length, by: req.principal?.name }, 'delayed_messages_deleted_by_api');
    return reply.status(204).send();
  });
}
