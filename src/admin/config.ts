// [api]: the HTTP API (EMQX's port 18083, /api/v5). Authentication may be turned off only on a
// loopback bind, so a box on a network never answers unauthenticated.
import { z } from 'zod';
import { secondsFrom, splitListenerBind } from '../core/units.js';
import { isLoopback } from './loopback.js';

export { isLoopback } from './loopback.js';

export const apiSchema = z
  // bind = "127.0.0.1:18083" or bind = 18083 (EMQX's dashboard listener form) sets port too.
  .preprocess(splitListenerBind('127.0.0.1'), z.strictObject({
    enable: z.boolean().default(true),
    bind: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(18083),
    /** false only on a loopback bind: every endpoint then answers without credentials. */
    auth: z.boolean().default(true),
    /** EMQX api_key.bootstrap_file: lines `key:secret[:role]`, role administrator|viewer|publisher. '' = none. */
    api_key_bootstrap_file: z.string().default(''),
    /** Lifetime of a bearer token from POST /api/v5/login, seconds. */
    token_ttl: z.preprocess(secondsFrom(true), z.number().int().min(60)).default(3600),
    /** Require credentials for /api/v5/prometheus/stats and /metrics (EMQX enable_basic_auth, default off). */
    prometheus_auth: z.boolean().default(false),
  }).check((ctx) => {
    if (!ctx.value.auth && !isLoopback(ctx.value.bind)) {
      ctx.issues.push({
        code: 'custom',
        path: ['auth'],
        message: `auth = false is only allowed with a loopback bind (bind is ${ctx.value.bind})`,
        input: ctx.value.auth,
      });
    }
  }))
  .prefault({});

export type ApiConfig = z.infer<typeof apiSchema>;

export const apiConfigShape = { api: apiSchema };
