// /users, /users/:username and /users/:username/change_pwd: the dashboard's login users
// (emqx_dashboard_api.erl), on the same <data_dir>/admin-users.json that POST /login and
// `outpostctl admins` use. As in EMQX (emqx_mgmt_auth:authorize), API keys may not manage users.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { addAdminUser, changeAdminPassword, deleteAdminUser, passwordProblem, readAdminUsers, setAdminDescription, type AdminUser } from '../credentials.js';
import { ApiError } from '../errors.js';
import { parseBody } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const createBody = z.object({
  username: z.string(),
  password: z.string(),
  // Outpost has one dashboard role; EMQX's open-source edition likewise only has administrator.
  role: z.literal('administrator').default('administrator'),
  description: z.string().default(''),
});
const updateBody = z.object({ role: z.literal('administrator').optional(), description: z.string() });
const changePwdBody = z.object({ old_pwd: z.string(), new_pwd: z.string() });
const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

function out(u: AdminUser): Record<string, unknown> {
  return { username: u.username, role: 'administrator', description: u.description ?? '', backend: 'local' };
}

export function registerUserRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const dir = ctx.config.node.data_dir;
  const notApiKey = (req: FastifyRequest): void => {
    if (req.principal?.via === 'api_key') throw new ApiError('FORBIDDEN', 'API keys cannot manage dashboard users; log in (POST /api/v5/login)');
  };
  const selfName = (req: FastifyRequest): string | null => {
    const h = req.headers.authorization ?? '';
    return h.toLowerCase().startsWith('bearer ') ? ctx.credentials.tokenOwner(h.slice(7).trim()) : null;
  };

  app.get('/api/v5/users', async (req) => {
    notApiKey(req);
    return readAdminUsers(dir).map(out);
  });

  app.post('/api/v5/users', async (req) => {
    notApiKey(req);
    const b = parseBody(createBody, req.body);
    if (b.username === '' || b.password === '') throw new ApiError('BAD_REQUEST', 'Username or password undefined');
    if (!USERNAME_RE.test(b.username)) throw new ApiError('BAD_REQUEST', 'Bad Username. Only upper and lower case letters, numbers and underscores are supported');
    const bad = passwordProblem(b.password);
    if (bad) throw new ApiError('BAD_REQUEST', bad);
    if ((await addAdminUser(dir, b.username, b.password, b.description)) === 'exists') throw new ApiError('BAD_REQUEST', 'username_already_exists');
    ctx.log.info({ username: b.username, by: req.principal?.name }, 'dashboard_user_created');
    return out({ username: b.username, hash: '', description: b.description });
  });

  app.put<{ Params: { username: string } }>('/api/v5/users/:username', async (req) => {
    notApiKey(req);
    const b = parseBody(updateBody, req.body);
    const u = setAdminDescription(dir, req.params.username, b.description);
    if (!u) throw new ApiError('USER_NOT_FOUND', 'username_not_found');
    return out(u);
  });

  app.delete<{ Params: { username: string } }>('/api/v5/users/:username', async (req, reply) => {
    notApiKey(req);
    const name = req.params.username;
    if (selfName(req) === name) throw new ApiError('NOT_ALLOWED', 'Cannot delete self');
    const err = deleteAdminUser(dir, name);
    if (err === 'not_found') throw new ApiError('USER_NOT_FOUND', 'username_not_found');
    if (err === 'last_admin') throw new ApiError('NOT_ALLOWED', 'Cannot delete the last dashboard user');
    ctx.credentials.revokeUser(name);
    ctx.log.info({ username: name, by: req.principal?.name }, 'dashboard_user_deleted');
    return reply.status(204).send();
  });

  app.post<{ Params: { username: string } }>('/api/v5/users/:username/change_pwd', async (req, reply) => {
    notApiKey(req);
    const b = parseBody(changePwdBody, req.body);
    if (b.old_pwd === '' || b.new_pwd === '') throw new ApiError('BAD_REQUEST', 'Old password or new password undefined');
    const bad = passwordProblem(b.new_pwd);
    if (bad) throw new ApiError('BAD_REQUEST', bad);
    const err = await changeAdminPassword(dir, req.params.username, b.old_pwd, b.new_pwd);
    if (err === 'not_found') throw new ApiError('USER_NOT_FOUND', 'User not found');
    if (err === 'password_error') throw new ApiError('ERROR_PWD_NOT_MATCH', 'Old password not match');
    ctx.credentials.revokeUser(req.params.username);
    ctx.log.info({ username: req.params.username, by: req.principal?.name }, 'dashboard_user_password_changed');
    return reply.status(204).send();
  });
}
