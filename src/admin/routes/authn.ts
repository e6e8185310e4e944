// /authentication, /authentication/:id and /authentication/:id/import_users (emqx_authn_api.erl,
// emqx_authn_user_import_api.erl). Outpost's authenticators come from [authentication]: the
// built-in database one always, the HTTP one when enabled; they are listed in EMQX's shape.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthenticationConfig } from '../../auth/config.js';
import { ApiError } from '../errors.js';
import { qstr } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

const BUILT_IN = 'password_based:built_in_database';
const HTTP = 'password_based:http';

function hashAlgorithm(a: AuthenticationConfig['password_hash_algorithm']): Record<string, unknown> {
  // Only the fields EMQX shows for that algorithm.
  switch (a.name) {
    case 'bcrypt':
      return { name: a.name, salt_rounds: a.salt_rounds };
    case 'pbkdf2':
      return { name: a.name, mac_fun: a.mac_fun, iterations: a.iterations, ...(a.dk_length > 0 && { dk_length: a.dk_length }) };
    case 'scrypt':
      return { name: a.name };
    default:
      return { name: a.name, salt_position: a.salt_position };
  }
}

function authenticators(a: AuthenticationConfig): Record<string, unknown>[] {
  if (!a.enable) return [];
  const list: Record<string, unknown>[] = [
    { id: BUILT_IN, mechanism: 'password_based', backend: 'built_in_database', enable: true, user_id_type: a.user_id_type, password_hash_algorithm: hashAlgorithm(a.password_hash_algorithm) },
  ];
  if (a.http.enable) {
    list.push({ id: HTTP, mechanism: 'password_based', backend: 'http', enable: true, method: 'post', url: a.http.url, headers: a.http.headers, request_timeout: `${a.http.request_timeout}s` });
  }
  return list;
}

/** The uploaded file of a multipart form (EMQX's field `filename`), parsed by Node's own fetch (undici). */
async function multipartFile(req: FastifyRequest): Promise<{ name: string; text: string }> {
  const form = await new Response(Uint8Array.from(req.body as Buffer), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData().catch((err: Error) => {
    throw new ApiError('BAD_REQUEST', `invalid multipart body: ${err.message}`);
  });
  const file = form.get('filename');
  if (file === null) throw new ApiError('BAD_REQUEST', 'missing_parameter: filename');
  if (typeof file === 'string') return { name: '', text: file };
  return { name: file.name, text: await file.text() };
}

function formatOf(name: string): 'csv' | 'json' {
  const ext = name.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === 'csv' || ext === 'json') return ext;
  throw new ApiError('BAD_REQUEST', `unsupported_file_format: ${name || '(no file name)'}; expected .csv or .json`);
}

export function registerAuthnRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const auth = (): AuthenticationConfig => (ctx.deps.config?.() ?? ctx.config).authentication;
  // Bodies this route reads itself: multipart uploads and, as an Outpost extension, raw CSV.
  app.addContentTypeParser(['multipart/form-data', 'text/csv'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.get('/api/v5/authentication', async () => authenticators(auth()));

  app.get<{ Params: { id: string } }>('/api/v5/authentication/:id', async (req) => {
    const a = authenticators(auth()).find((x) => x.id === req.params.id);
    if (!a) throw new ApiError('NOT_FOUND', `authenticator ${req.params.id} not found`);
    return a;
  });

  app.post<{ Params: { id: string } }>('/api/v5/authentication/:id/import_users', async (req) => {
    if (req.params.id !== BUILT_IN || !authenticators(auth()).some((x) => x.id === BUILT_IN)) {
      throw new ApiError('NOT_FOUND', `authenticator ${req.params.id} not found or does not hold users`);
    }
    const db = ctx.deps.users;
    if (!db?.importUsers) throw new ApiError('NOT_SUPPORTED', 'user import is not available on this node');
    const q = req.query as Record<string, unknown>;
    const t = qstr(q, 'type');
    if (t !== undefined && t !== 'plain' && t !== 'hash') throw new ApiError('BAD_REQUEST', 'type must be plain or hash');
    const type = t ?? 'hash'; // EMQX's default
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    let file: { format: 'csv' | 'json'; text: string };
    if (ct.startsWith('application/json')) {
      // EMQX's "prepared user list": the JSON array is the body itself.
      if (!Array.isArray(req.body)) throw new ApiError('BAD_REQUEST', 'expected a JSON array of users');
      file = { format: 'json', text: JSON.stringify(req.body) };
    } else if (ct.startsWith('multipart/form-data')) {
      const f = await multipartFile(req);
      file = { format: formatOf(f.name), text: f.text };
    } else if (ct.startsWith('text/csv')) {
      file = { format: 'csv', text: (req.body as Buffer).toString('utf8') };
    } else {
      throw new ApiError('BAD_REQUEST', 'missing_parameter: filename (send multipart/form-data with a .csv or .json file, or a JSON array)');
    }
    try {
      const r = await db.importUsers(file.text, { format: file.format, type });
      ctx.log.info({ authenticator: BUILT_IN, type, format: file.format, ...r, by: req.principal?.name }, 'authn_users_imported');
      return { total: r.total, success: r.success, override: r.override, skipped: r.skipped, failed: r.failed };
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError('BAD_REQUEST', (err as Error).message);
    }
  });
}
