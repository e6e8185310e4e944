// POST /publish(/bulk) and the retainer's message endpoints (emqx_mgmt_api_publish.erl,
// emqx_retainer_api.erl). Reason codes in publish answers are MQTT 5 reason codes.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BrokerApi } from '../../broker/api.js';
import { createMessage, type Message } from '../../core/message.js';
import type { MessageProperties } from '../../core/types.js';
import { userPropertiesFromObject } from '../../core/user-properties.js';
import { ApiError } from '../errors.js';
import { emqxMsgId, paginate, parseBody, qstr, rfc3339 } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const publishBody = z.object({
  topic: z.string(),
  payload: z.string().default(''),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  retain: z.boolean().default(false),
  clientid: z.string().optional(),
  payload_encoding: z.enum(['plain', 'base64']).default('plain'),
  properties: z
    .object({
      payload_format_indicator: z.union([z.literal(0), z.literal(1)]).optional(),
      message_expiry_interval: z.number().int().min(0).max(0xffffffff).optional(),
      response_topic: z.string().optional(),
      correlation_data: z.string().optional(),
      user_properties: z.record(z.string(), z.string()).optional(),
      content_type: z.string().optional(),
    })
    .optional(),
});
type PublishBody = z.infer<typeof publishBody>;

interface PublishReply {
  status: number;
  body: Record<string, unknown>;
}

/** A topic name may not be empty, hold wildcards or NUL [MQTT-3.3.2-2], [MQTT-4.7.3-1]. */
function validTopicName(t: string): boolean {
  return t.length > 0 && !/[+#\u0000]/.test(t) && Buffer.byteLength(t) <= 65535;
}

export function publishOne(broker: BrokerApi, b: PublishBody, maxPayload: number): PublishReply {
  if (!validTopicName(b.topic)) return { status: 400, body: { reason_code: 144, message: 'invalid_topic' } };
  let payload: Buffer;
  if (b.payload_encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b.payload) || b.payload.length % 4 !== 0) {
      return { status: 400, body: { code: 'BAD_REQUEST', message: 'payload is not valid base64' } };
    }
    payload = Buffer.from(b.payload, 'base64');
  } else {
    payload = Buffer.from(b.payload, 'utf8');
  }
  if (payload.length > maxPayload) return { status: 400, body: { reason_code: 149, message: 'packet_too_large' } };
  const p = b.properties;
  let props: MessageProperties | null = null;
  if (p) {
    props = {};
    if (p.payload_format_indicator !== undefined) props.payloadFormatIndicator = p.payload_format_indicator === 1;
    if (p.content_type !== undefined) props.contentType = p.content_type;
    if (p.response_topic !== undefined) props.responseTopic = p.response_topic;
    if (p.correlation_data !== undefined) props.correlationData = Buffer.from(p.correlation_data, 'utf8');
    if (p.user_properties !== undefined) props.userProperties = userPropertiesFromObject(p.user_properties);
  }
  const msg = createMessage({
    topic: b.topic,
    payload,
    qos: b.qos,
    retain: b.retain,
    props,
    from: b.clientid ?? 'http_api',
    expiryInterval: p?.message_expiry_interval,
    now: broker.clock.now(),
  });
  const r = broker.publish(msg);
  if (!r.ok) {
    switch (r.reason) {
      case 'topic_invalid':
        return { status: 400, body: { reason_code: 144, message: 'invalid_topic' } };
      case 'packet_too_large':
        return { status: 400, body: { reason_code: 149, message: 'packet_too_large' } };
      case 'not_authorized':
        return { status: 403, body: { reason_code: 135, message: 'not_authorized' } };
      case 'quota_exceeded':
        return { status: 503, body: { reason_code: 151, message: 'quota_exceeded' } };
    }
  }
  if (r.matched === 0) return { status: 202, body: { id: emqxMsgId(msg.id), reason_code: 16, message: 'no_matching_subscribers' } };
  return { status: 200, body: { id: emqxMsgId(msg.id) } };
}

function retainedItem(m: Message, withPayload: boolean): Record<string, unknown> {
  const item: Record<string, unknown> = {
    msgid: emqxMsgId(m.id),
    topic: m.topic,
    qos: m.qos,
    publish_at: rfc3339(m.ts),
    from_clientid: m.from,
    from_username: m.fromUsername,
  };
  if (withPayload) item.payload = m.payload.toString('base64');
  return item;
}

export function registerPublishRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const broker = ctx.deps.broker;
  const maxPayload = ctx.config.mqtt.max_packet_size;

  app.post('/api/v5/publish', async (req, reply) => {
    const r = publishOne(broker, parseBody(publishBody, req.body), maxPayload);
    return reply.status(r.status).send(r.body);
  });

  app.post('/api/v5/publish/bulk', async (req, reply) => {
    const list = parseBody(z.array(publishBody).min(1), req.body);
    const results = list.map((b) => publishOne(broker, b, maxPayload));
    // 200 when all were delivered somewhere, 202 when some had no subscriber, else the first failure's status.
    const failed = results.find((r) => r.status >= 400);
    const status = failed ? failed.status : results.some((r) => r.status === 202) ? 202 : 200;
    return reply.status(status).send(results.map((r) => r.body));
  });

  app.get('/api/v5/mqtt/retainer/messages', async (req) => {
    const q = req.query as Record<string, unknown>;
    const filter = qstr(q, 'topic');
    const items = broker.retained
      .list(filter)
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0))
      .map((m) => retainedItem(m, false));
    return paginate(items, q);
  });

  app.get<{ Params: { topic: string } }>('/api/v5/mqtt/retainer/message/:topic', async (req) => {
    const m = broker.retained.get(req.params.topic);
    if (!m) throw new ApiError('NOT_FOUND', "Viewed message doesn't exist");
    return retainedItem(m, true);
  });

  app.delete<{ Params: { topic: string } }>('/api/v5/mqtt/retainer/message/:topic', async (req, reply) => {
    if (!broker.retained.delete(req.params.topic)) throw new ApiError('NOT_FOUND', "Viewed message doesn't exist");
    return reply.status(204).send();
  });
}
