// GET/DELETE /alarms and POST /alarms/force_deactivate (emqx_mgmt_api_alarms.erl): active alarms by
// default, deactivated ones with ?activated=false, paged; durations in ms, times RFC 3339.
import type { FastifyInstance } from 'fastify';
import type { ActiveAlarm, DeactivatedAlarm } from '../../broker/alarms.js';
import type { AlarmAdmin } from '../deps.js';
import { ApiError } from '../errors.js';
import { paginate, parseBool } from '../http-util.js';
import type { RouteContext } from '../route-context.js';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** emqx_alarm:format/2. */
export function alarmItem(a: ActiveAlarm | DeactivatedAlarm, node: string, now: number): Record<string, unknown> {
  if ('deactivateAt' in a) {
    return { node, name: a.name, message: a.message, duration: a.deactivateAt - a.activateAt, activate_at: iso(a.activateAt), deactivate_at: iso(a.deactivateAt), details: a.details };
  }
  return { node, name: a.name, message: a.message, duration: now - a.activateAt, activate_at: iso(a.activateAt), details: a.details };
}

export function registerAlarmRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const node = ctx.deps.broker.node;
  const alarms = (): AlarmAdmin => {
    if (!ctx.deps.alarms) throw new ApiError('NOT_SUPPORTED', 'alarms are not available on this node');
    return ctx.deps.alarms;
  };

  app.get('/api/v5/alarms', async (req) => {
    const q = req.query as Record<string, unknown>;
    const activated = parseBool(q.activated, 'activated') ?? true;
    const now = ctx.deps.broker.clock.now();
    const list = activated ? alarms().activated() : alarms().deactivated();
    try {
      return paginate(
        list.map((a) => alarmItem(a, node, now)),
        q,
      );
    } catch (err) {
      // EMQX: 400 INVALID_PARAMETER "page_limit_invalid".
      if (err instanceof ApiError) throw new ApiError('INVALID_PARAMETER', 'page_limit_invalid');
      throw err;
    }
  });

  app.delete('/api/v5/alarms', async (req, reply) => {
    const n = alarms().clearDeactivated();
    ctx.log.info({ cleared: n, by: req.principal?.name }, 'deactivated_alarms_cleared_by_api');
    return reply.status(204).send();
  });

  app.post('/api/v5/alarms/force_deactivate', async (req, reply) => {
    const name = (req.body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || name === '') return reply.status(400).send({ code: 'INVALID_PARAMETER', message: 'name is required' });
    // EMQX answers an unknown or inactive alarm with 400 NOT_FOUND.
    if (!alarms().deactivate(name)) return reply.status(400).send({ code: 'NOT_FOUND', message: 'Alarm not found or already deactivated' });
    ctx.log.info({ alarm: name, by: req.principal?.name }, 'alarm_force_deactivated_by_api');
    return reply.status(204).send();
  });
}
