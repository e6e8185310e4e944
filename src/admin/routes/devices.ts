// Sensor pairing over HTTP (issue 21; no EMQX counterpart): register a device with credentials and
// an ACL scope, list and unpair devices, approve those a permit-join window admitted, and open or
// read that window. outpostctl pair/unpair/devices/permit-join call these routes.
import type { FastifyInstance } from 'fastify';
import type { Device, DevicePsk, DeviceProtocol, PairRequest, PermitJoinStatus } from '../../auth/device-registry.js';
import { ApiError } from '../errors.js';
import type { RouteContext } from '../route-context.js';

/** The device registry (src/auth/device-registry.ts) as the API sees it. Writes throw 4xx-typed errors. */
export interface DeviceAdmin {
  list(): Device[];
  get(name: string): Device | null;
  pair(req: PairRequest): { device: Device; password: string; psk: DevicePsk | null };
  unpair(name: string): boolean;
  approve(name: string): Device;
  permitJoin(seconds: number): PermitJoinStatus;
  permitJoinStatus(): PermitJoinStatus;
}

function item(d: Device): Record<string, unknown> {
  return { ...d, created_at: new Date(d.created_at).toISOString() };
}

function permitItem(s: PermitJoinStatus): Record<string, unknown> {
  return { open: s.open, remaining_s: s.remaining_s, until: s.open ? new Date(s.until).toISOString() : null };
}

export function registerDeviceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const devices = (): DeviceAdmin => {
    if (!ctx.deps.devices) throw new ApiError('NOT_SUPPORTED', 'device pairing is not available on this node');
    return ctx.deps.devices;
  };

  app.get('/api/v5/devices', async () => ({ data: devices().list().map(item) }));

  app.post('/api/v5/devices', async (req, reply) => {
    const b = (req.body ?? {}) as { name?: unknown; protocol?: unknown; scope?: unknown; password?: unknown; psk_key?: unknown };
    if (typeof b.name !== 'string') throw new ApiError('INVALID_PARAMETER', 'name is required');
    if (typeof b.protocol !== 'string') throw new ApiError('INVALID_PARAMETER', 'protocol is required (coap, mqttsn or mqtt)');
    if (b.scope !== undefined && typeof b.scope !== 'string') throw new ApiError('INVALID_PARAMETER', 'scope must be a topic filter');
    if (b.password !== undefined && typeof b.password !== 'string') throw new ApiError('INVALID_PARAMETER', 'password must be a string');
    if (b.psk_key !== undefined && typeof b.psk_key !== 'string') throw new ApiError('INVALID_PARAMETER', 'psk_key must be a hex string');
    const r = devices().pair({ name: b.name, protocol: b.protocol as DeviceProtocol, scope: b.scope, password: b.password, psk_key: b.psk_key });
    ctx.log.info({ device: r.device.name, protocol: r.device.protocol, scope: r.device.scope, by: req.principal?.name }, 'device_paired_by_api');
    // The password and the DTLS key are shown this once (the store keeps the password's hash only).
    return reply.status(201).send({ ...item(r.device), password: r.password, ...(r.psk ? { psk_key: r.psk.key } : {}) });
  });

  app.get('/api/v5/devices/permit_join', async () => permitItem(devices().permitJoinStatus()));

  app.post('/api/v5/devices/permit_join', async (req) => {
    const seconds = (req.body as { seconds?: unknown } | undefined)?.seconds;
    if (typeof seconds !== 'number') throw new ApiError('INVALID_PARAMETER', 'seconds is required');
    const s = devices().permitJoin(seconds);
    ctx.log.warn({ seconds, by: req.principal?.name }, s.open ? 'permit_join_opened: unknown devices with credentials are admitted as pending' : 'permit_join_closed');
    return permitItem(s);
  });

  app.get('/api/v5/devices/:name', async (req) => {
    const d = devices().get((req.params as { name: string }).name);
    if (!d) throw new ApiError('NOT_FOUND', 'device not found');
    return item(d);
  });

  app.delete('/api/v5/devices/:name', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const d = devices().get(name);
    if (!d || !devices().unpair(name)) throw new ApiError('NOT_FOUND', 'device not found');
    // Its credentials are gone; a connection it still holds ends too, so unpairing takes effect now.
    const kicked = ctx.deps.broker.kick(d.client_id);
    ctx.log.info({ device: name, clientid: d.client_id, kicked, by: req.principal?.name }, 'device_unpaired_by_api');
    return reply.status(204).send();
  });

  app.post('/api/v5/devices/:name/approve', async (req) => {
    const d = devices().approve((req.params as { name: string }).name);
    ctx.log.info({ device: d.name, by: req.principal?.name }, 'device_approved_by_api');
    return item(d);
  });
}
