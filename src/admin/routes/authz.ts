// Authorization sources and the built-in database's rules (emqx_authz_api_sources.erl,
// emqx_authz_api_settings.erl, emqx_authz_api_mnesia.erl). Rules are stored in the store and take
// effect at once; the sources themselves come from the config file, so they are read-only here.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AclAdmin, AclRuleRecord } from '../deps.js';
import { ApiError } from '../errors.js';
import { paginate, parseBody, qstr } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const BASE = '/api/v5/authorization/sources/built_in_database/rules';

const rule = z.object({
  topic: z.string().min(1),
  permission: z.enum(['allow', 'deny']),
  action: z.enum(['publish', 'subscribe', 'all']),
  // EMQX defaults: every QoS, retain "all".
  qos: z.array(z.union([z.literal(0), z.literal(1), z.literal(2)])).default([0, 1, 2]),
  retain: z.union([z.boolean(), z.literal('all')]).default('all'),
});
const rulesOf = z.array(rule);
const forUser = z.object({ username: z.string().min(1), rules: rulesOf });
const forClient = z.object({ clientid: z.string().min(1), rules: rulesOf });

/** EMQX formats each stored rule with every field; an empty qos list means any QoS. */
function ruleItem(r: AclRuleRecord): AclRuleRecord {
  return { topic: r.topic, permission: r.permission, action: r.action, qos: r.qos.length === 0 ? [0, 1, 2] : r.qos, retain: r.retain };
}

export function registerAuthzRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const acl = (): AclAdmin => {
    if (!ctx.deps.acl) throw new ApiError('NOT_SUPPORTED', 'the built_in_database authorization source is not available on this node');
    return ctx.deps.acl;
  };
  const sources = () => {
    if (!ctx.deps.authzSources) throw new ApiError('NOT_SUPPORTED', 'authorization sources are not available on this node');
    return ctx.deps.authzSources();
  };
  const readOnly = (): never => {
    throw new ApiError('NOT_SUPPORTED', 'authorization sources are set in the config file ([authorization]); edit it and POST /api/v5/reload');
  };

  app.get('/api/v5/authorization/sources', async () => ({ sources: sources() }));
  app.get<{ Params: { type: string } }>('/api/v5/authorization/sources/:type', async (req) => {
    const s = sources().find((x) => x.type === req.params.type);
    if (!s) throw new ApiError('NOT_FOUND', `Not found: ${req.params.type}`);
    return s;
  });
  app.post('/api/v5/authorization/sources', readOnly);
  app.put('/api/v5/authorization/sources/:type', readOnly);
  app.delete('/api/v5/authorization/sources/:type', readOnly);

  app.get('/api/v5/authorization/settings', async () => {
    const a = (ctx.deps.config?.() ?? ctx.config).authorization;
    return { no_match: a.no_match, deny_action: a.deny_action, cache: { enable: a.cache.enable, max_size: a.cache.max_size, ttl: `${a.cache.ttl}s` } };
  });

  // Users and clients: paged lists with like_username / like_clientid, POST an array of new
  // subjects (409 when one exists), GET/PUT/DELETE one subject.
  for (const [kind, key, path, body, missing] of [
    ['username', 'username', 'users', forUser, 'Username Not Found'],
    ['clientid', 'clientid', 'clients', forClient, 'ClientID Not Found'],
  ] as const) {
    const label = kind === 'username' ? 'User' : 'Client';
    app.get(`${BASE}/${path}`, async (req) => {
      const q = req.query as Record<string, unknown>;
      const like = qstr(q, `like_${key}`);
      const items = acl()
        .list(kind)
        .filter((s) => like === undefined || s.who.includes(like))
        .map((s) => ({ [key]: s.who, rules: s.rules.map(ruleItem) }));
      return paginate(items, q);
    });
    app.post(`${BASE}/${path}`, async (req, reply) => {
      const list = parseBody(z.array(body), req.body) as { username?: string; clientid?: string; rules: AclRuleRecord[] }[];
      for (const s of list) {
        const who = (s[key] as string) ?? '';
        if (acl().get(kind, who).length > 0) throw new ApiError('ALREADY_EXISTS', `${label} '${who}' already exist`);
      }
      for (const s of list) acl().set(kind, s[key] as string, s.rules);
      ctx.log.info({ [key]: list.map((s) => s[key]), by: req.principal?.name }, 'acl_rules_created_by_api');
      return reply.status(204).send();
    });
    app.get<{ Params: { who: string } }>(`${BASE}/${path}/:who`, async (req) => {
      const rules = acl().get(kind, req.params.who);
      if (rules.length === 0) throw new ApiError('NOT_FOUND', 'Not Found');
      return { [key]: req.params.who, rules: rules.map(ruleItem) };
    });
    app.put<{ Params: { who: string } }>(`${BASE}/${path}/:who`, async (req, reply) => {
      const b = parseBody(body, req.body) as { username?: string; clientid?: string; rules: AclRuleRecord[] };
      if (b[key] !== req.params.who) throw new ApiError('BAD_REQUEST', `${key} in the body must match the path`);
      acl().set(kind, req.params.who, b.rules);
      ctx.log.info({ [key]: req.params.who, rules: b.rules.length, by: req.principal?.name }, 'acl_rules_replaced_by_api');
      return reply.status(204).send();
    });
    app.delete<{ Params: { who: string } }>(`${BASE}/${path}/:who`, async (req, reply) => {
      if (!acl().remove(kind, req.params.who)) throw new ApiError('NOT_FOUND', missing);
      ctx.log.info({ [key]: req.params.who, by: req.principal?.name }, 'acl_rules_deleted_by_api');
      return reply.status(204).send();
    });
  }

  app.get(`${BASE}/all`, async () => ({ rules: acl().get('all', '').map(ruleItem) }));
  app.post(`${BASE}/all`, async (req, reply) => {
    const b = parseBody(z.object({ rules: rulesOf }), req.body);
    acl().set('all', '', b.rules);
    ctx.log.info({ rules: b.rules.length, by: req.principal?.name }, 'acl_rules_for_all_set_by_api');
    return reply.status(204).send();
  });
  app.delete(`${BASE}/all`, async (_req, reply) => {
    acl().set('all', '', []);
    return reply.status(204).send();
  });
  app.delete(BASE, async (req, reply) => {
    acl().clear();
    ctx.log.info({ by: req.principal?.name }, 'acl_rules_cleared_by_api');
    return reply.status(204).send();
  });
}
