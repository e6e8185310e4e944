// /api_key and /api_key/:name (emqx_mgmt_api_api_keys.erl). As in EMQX, an API key cannot manage
// API keys: these routes answer only a dashboard login (bearer token) or the local outpostctl key.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiKeyStore, type StoredApiKey } from '../api-keys.js';
import { ROLES } from '../credentials.js';
import { ApiError } from '../errors.js';
import { parseBody, parseTime } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const NAME_RE = /^[A-Za-z]+[A-Za-z0-9-_]*$/;
const expiredAt = z.union([z.literal('infinity'), z.string(), z.number()]).optional();
const createBody = z.object({
  name: z.string().max(256, 'Name Length must =< 256').regex(NAME_RE, `Name should be ${NAME_RE.source}`),
  expired_at: expiredAt,
  desc: z.string().default(''),
  enable: z.boolean().default(true),
  role: z.enum(ROLES).default('administrator'),
});
const updateBody = z.object({ expired_at: expiredAt, desc: z.string().optional(), enable: z.boolean().optional(), role: z.enum(ROLES).optional() });

function epoch(ms: number): string {
  // EMQX: RFC 3339 to the second, "infinity" for never.
  return ms === 0 ? 'infinity' : new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function registerApiKeyRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const store = new ApiKeyStore(ctx.config.node.data_dir, () => ctx.deps.broker.clock.now());
  ctx.credentials.addKeySource(store);

  const item = (k: StoredApiKey): Record<string, unknown> => ({
    name: k.name,
    api_key: k.apiKey,
    expired_at: epoch(k.expiredAt),
    created_at: epoch(k.createdAt),
    desc: k.desc,
    enable: k.enable,
    expired: store.expired(k),
    role: k.role,
  });
  const notApiKey = (req: FastifyRequest): void => {
    if (req.principal?.via === 'api_key') throw new ApiError('FORBIDDEN', 'API keys cannot manage API keys; log in (POST /api/v5/login)');
  };
  const expiry = (v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    if (v === 'infinity') return 0;
    const t = parseTime(v, 'expired_at')!;
    if (t <= ctx.deps.broker.clock.now()) throw new ApiError('BAD_REQUEST', 'expired_at must be in the future');
    return t;
  };
  const find = (name: string): StoredApiKey => {
    const k = store.get(name);
    if (!k) throw new ApiError('NOT_FOUND', 'Name not found');
    return k;
  };

  app.get('/api/v5/api_key', async (req) => {
    notApiKey(req);
    return store.list().map(item);
  });
  app.post('/api/v5/api_key', async (req) => {
    notApiKey(req);
    const b = parseBody(createBody, req.body);
    const made = store.create({ name: b.name, role: b.role, desc: b.desc, enable: b.enable, expiredAt: expiry(b.expired_at) ?? 0 });
    if (!made) throw new ApiError('BAD_REQUEST', 'Name Already Exists');
    ctx.log.info({ api_key: b.name, role: b.role, by: req.principal?.name }, 'api_key_created');
    return { ...item(made.key), api_secret: made.secret };
  });
  app.get<{ Params: { name: string } }>('/api/v5/api_key/:name', async (req) => {
    notApiKey(req);
    return item(find(req.params.name));
  });
  app.put<{ Params: { name: string } }>('/api/v5/api_key/:name', async (req) => {
    notApiKey(req);
    find(req.params.name);
    const b = parseBody(updateBody, req.body ?? {});
    const at = expiry(b.expired_at);
    const k = store.update(req.params.name, { ...(b.desc !== undefined && { desc: b.desc }), ...(b.enable !== undefined && { enable: b.enable }), ...(b.role && { role: b.role }), ...(at !== undefined && { expiredAt: at }) });
    return item(k!);
  });
  app.delete<{ Params: { name: string } }>('/api/v5/api_key/:name', async (req, reply) => {
    notApiKey(req);
    if (!store.delete(req.params.name)) throw new ApiError('NOT_FOUND', 'Name not found');
    ctx.log.info({ api_key: req.params.name, by: req.principal?.name }, 'api_key_deleted');
    return reply.status(204).send();
  });
}
