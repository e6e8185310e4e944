// A read-only view of the running config (emqx_mgmt_api_configs.erl): GET /configs (TOML text, or
// JSON with Accept: application/json; ?key= for one root) and GET /configs/:root; secrets are shown
// as "******" as EMQX obfuscates them. Changes go through the config file and POST /reload, so the
// PUT forms answer 501. Also the retainer's and delayed publish's config views (emqx_retainer_api,
// emqx_delayed_api).
import type { FastifyInstance } from 'fastify';
import { stringify } from 'smol-toml';
import { ApiError } from '../errors.js';
import type { RouteContext } from '../route-context.js';

const SECRET_KEY = /(^|_)(password|secret|passphrase|token)$/i;
export const REDACTED = '******';

/** A deep copy with every secret-named string replaced (emqx_utils:redact). */
export function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) && typeof x === 'string' && x !== '' ? REDACTED : redact(x);
    return out;
  }
  return v;
}

/** EMQX prints sizes as "1MB" and durations as "30s". */
function bytes(n: number): string {
  for (const [unit, size] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) if (n > 0 && n % size === 0) return `${n / size}${unit}`;
  return `${n}B`;
}

export function registerConfigRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // The config the daemon runs with now (reloads replace it).
  const running = (): Record<string, unknown> => redact(ctx.deps.config?.() ?? ctx.config) as Record<string, unknown>;
  const readOnly = (): never => {
    throw new ApiError('NOT_SUPPORTED', 'the config is read-only over the API: edit the config file and POST /api/v5/reload');
  };

  app.get('/api/v5/configs', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const all = running();
    let view: Record<string, unknown> = all;
    if (typeof q.key === 'string' && q.key !== '') {
      if (!(q.key in all)) throw new ApiError('NOT_FOUND', `config root ${q.key} not found`);
      view = { [q.key]: all[q.key] };
    }
    if ((req.headers.accept ?? '').includes('application/json')) return view;
    return reply.type('text/plain; charset=utf-8').send(stringify(view));
  });
  app.put('/api/v5/configs', readOnly);

  app.get<{ Params: { root: string } }>('/api/v5/configs/:root', async (req) => {
    const all = running();
    if (!(req.params.root in all)) throw new ApiError('NOT_FOUND', `config root ${req.params.root} not found`);
    return all[req.params.root];
  });
  app.put('/api/v5/configs/:root', readOnly);

  app.get('/api/v5/mqtt/retainer', async () => {
    const r = (ctx.deps.config?.() ?? ctx.config).retainer;
    return {
      enable: r.enable,
      msg_expiry_interval: `${r.msg_expiry_interval}s`,
      max_payload_size: bytes(r.max_payload_size),
      stop_publish_clear_msg: r.stop_publish_clear_msg,
      backend: { type: 'built_in_database', storage_type: 'disc', max_retained_messages: r.max_retained_messages, enable: true },
    };
  });
  app.put('/api/v5/mqtt/retainer', readOnly);

  app.get('/api/v5/mqtt/delayed', async () => {
    const d = (ctx.deps.config?.() ?? ctx.config).delayed;
    return { enable: d.enable, max_delayed_messages: d.max_delayed_messages };
  });
  app.put('/api/v5/mqtt/delayed', readOnly);
}
