// Banned clients and the built-in database's users (emqx_mgmt_api_banned.erl,
// emqx_authn_api.erl; src/broker/SPEC.md §7, §8).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BanAdmin, BanKind, BanRecord, UserDbAdmin, UserRecord } from '../deps.js';
import { ApiError } from '../errors.js';
import { paginate, parseBody, parseBool, parseTime, qstr, rfc3339 } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const BAN_KINDS = ['clientid', 'username', 'peerhost', 'clientid_re', 'username_re', 'peerhost_net'] as const satisfies readonly BanKind[];
const AUTHENTICATOR_ID = 'password_based:built_in_database';

const banBody = z.object({
  as: z.enum(BAN_KINDS),
  who: z.string().min(1),
  by: z.string().default('api'),
  reason: z.string().default(''),
  at: z.union([z.string(), z.number()]).optional(),
  until: z.union([z.string(), z.number()]).optional(),
});

const userBody = z.object({
  user_id: z.string().min(1),
  password: z.string().min(1),
  is_superuser: z.boolean().default(false),
});
const userUpdate = z.object({ password: z.string().min(1).optional(), is_superuser: z.boolean().optional() });

function banItem(b: BanRecord): Record<string, unknown> {
  return { as: b.as, who: b.who, by: b.by, reason: b.reason, at: rfc3339(b.at), until: b.until === 0 ? 'infinity' : rfc3339(b.until) };
}

function userItem(u: UserRecord): Record<string, unknown> {
  return { user_id: u.userId, is_superuser: u.isSuperuser };
}

function validateBan(as: BanKind, who: string): void {
  if (as.endsWith('_re')) {
    try {
      new RegExp(who);
    } catch {
      throw new ApiError('BAD_REQUEST', `who is not a valid regular expression: ${who}`);
    }
  }
  if (as === 'peerhost_net' && !/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(who)) throw new ApiError('BAD_REQUEST', `who must be a CIDR block, e.g. 10.0.0.0/8`);
}

export function registerAccessRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const now = () => ctx.deps.broker.clock.now();
  const bans = (): BanAdmin => {
    if (!ctx.deps.bans) throw new ApiError('NOT_SUPPORTED', 'banned clients are not available on this node');
    return ctx.deps.bans;
  };
  const users = (id: string): UserDbAdmin => {
    if (id !== AUTHENTICATOR_ID) throw new ApiError('NOT_FOUND', `authenticator ${id} not found`);
    if (!ctx.deps.users) throw new ApiError('NOT_FOUND', `authenticator ${id} is not configured`);
    return ctx.deps.users;
  };

  app.get('/api/v5/banned', async (req) => {
    const list = bans()
      .list()
      .sort((a, b) => a.at - b.at)
      .map(banItem);
    return paginate(list, req.query as Record<string, unknown>);
  });

  app.post('/api/v5/banned', async (req) => {
    const b = parseBody(banBody, req.body);
    validateBan(b.as, b.who);
    const at = parseTime(b.at, 'at') ?? now();
    const until = b.until === 'infinity' ? 0 : (parseTime(b.until, 'until') ?? 0);
    if (until !== 0 && until <= at) throw new ApiError('BAD_REQUEST', 'until must be after at');
    const ban: BanRecord = { as: b.as, who: b.who, by: b.by, reason: b.reason, at, until };
    if (!bans().add(ban)) throw new ApiError('ALREADY_EXISTS', `${b.as} ${b.who} is already banned`);
    ctx.log.info({ as: b.as, who: b.who, by: req.principal?.name }, 'ban_added_by_api');
    return banItem(ban);
  });

  app.delete('/api/v5/banned', async (_req, reply) => {
    bans().clear();
    return reply.status(204).send();
  });

  app.delete<{ Params: { as: string; who: string } }>('/api/v5/banned/:as/:who', async (req, reply) => {
    const as = req.params.as as BanKind;
    if (!(BAN_KINDS as readonly string[]).includes(as)) throw new ApiError('BAD_REQUEST', `as must be one of ${BAN_KINDS.join(', ')}`);
    if (!bans().remove(as, req.params.who)) throw new ApiError('NOT_FOUND', `${as} ${req.params.who} is not banned`);
    return reply.status(204).send();
  });

  // The authenticator id holds a colon; clients send it raw or as %3A, both arrive here decoded.
  app.get<{ Params: { id: string } }>('/api/v5/authentication/:id/users', async (req) => {
    const q = req.query as Record<string, unknown>;
    const like = qstr(q, 'like_user_id');
    const superuser = parseBool(q.is_superuser, 'is_superuser');
    const list = users(req.params.id)
      .list()
      .filter((u) => (like === undefined || u.userId.includes(like)) && (superuser === undefined || u.isSuperuser === superuser))
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
      .map(userItem);
    return paginate(list, q);
  });

  app.post<{ Params: { id: string } }>('/api/v5/authentication/:id/users', async (req, reply) => {
    const db = users(req.params.id);
    const b = parseBody(userBody, req.body);
    if (!db.add(b.user_id, b.password, b.is_superuser)) throw new ApiError('ALREADY_EXISTS', `user ${b.user_id} already exists`);
    return reply.status(201).send(userItem({ userId: b.user_id, isSuperuser: b.is_superuser }));
  });

  app.get<{ Params: { id: string; uid: string } }>('/api/v5/authentication/:id/users/:uid', async (req) => {
    const u = users(req.params.id).get(req.params.uid);
    if (!u) throw new ApiError('USER_NOT_FOUND');
    return userItem(u);
  });

  app.put<{ Params: { id: string; uid: string } }>('/api/v5/authentication/:id/users/:uid', async (req) => {
    const db = users(req.params.id);
    const b = parseBody(userUpdate, req.body);
    const changes: { password?: string; isSuperuser?: boolean } = {};
    if (b.password !== undefined) changes.password = b.password;
    if (b.is_superuser !== undefined) changes.isSuperuser = b.is_superuser;
    if (!db.update(req.params.uid, changes)) throw new ApiError('USER_NOT_FOUND');
    return userItem(db.get(req.params.uid) ?? { userId: req.params.uid, isSuperuser: b.is_superuser ?? false });
  });

  app.delete<{ Params: { id: string; uid: string } }>('/api/v5/authentication/:id/users/:uid', async (req, reply) => {
    if (!users(req.params.id).remove(req.params.uid)) throw new ApiError('USER_NOT_FOUND');
    return reply.status(204).send();
  });
}
