// The CoAP gateway (EMQX 5 compatible, specs/coap-gateway.md): config schema plus start/stop of
// its UDP listener. The runtime calls coapGateway.create(ctx, config) and then start().
import { randomInt } from 'node:crypto';
import type { Clock, Gateway, GatewayContext, GatewayModule, ListenerInfo } from '../gateway.js';
import type { CoapConfig, coapConfigSchema } from './config.js';
import { CoapEndpoint } from './endpoint.js';
import { type SocketFactory, bindUdp } from './transport.js';
import type { DeviceRequest, DeviceResponse } from './types.js';
import { deviceRequestReply, parseDeviceRequestBody } from './api.js';

export type { CoapConfig } from './config.js';
export type { DeviceRequest, DeviceResponse } from './types.js';
export type { DatagramSocket, SocketFactory } from './transport.js';
export { deviceRequestReply, parseDeviceRequestBody, type DeviceRequestReply } from './api.js';

/** Listener id as reported by listeners(); the runtime keys it as "coap:udp". */
export const UDP_LISTENER_ID = 'udp';

export interface CoapGatewayOptions {
  /** Replaces node:dgram (a DTLS socket later, an in-memory pair in tests). */
  socketFactory?: SocketFactory;
  clock?: Clock;
  random?: () => number;
}

/** A running CoAP gateway; `request` backs POST /api/v5/gateways/coap/clients/{clientid}/request. */
export interface CoapGateway extends Gateway {
  request(clientId: string, req: DeviceRequest): Promise<DeviceResponse>;
  /**
   * The whole HTTP exchange of POST /api/v5/gateways/coap/clients/{clientid}/request: takes the
   * parsed JSON body, returns the status and JSON body to send (400 / 200 / 404 / 504).
   */
  apiRequest(clientId: string, body: unknown): Promise<{ status: number; body: unknown }>;
  /** Number of live device channels. */
  channelCount(): number;
}

/** Crypto-grade randomness for login tokens and ids (they guard connection-mode sessions). */
const secureRandom = (): number => randomInt(0, 2 ** 32) / 2 ** 32;

export function createCoapGateway(ctx: GatewayContext, initial: CoapConfig, opts: CoapGatewayOptions = {}): CoapGateway {
  let config = initial;
  const l = config.listeners.udp;
  let endpoint: CoapEndpoint | null = null;
  let closeSocket: (() => Promise<void>) | null = null;
  let bound = `${l.bind}:${l.port}`;
  const listener = `${ctx.name}:${UDP_LISTENER_ID}`;

  return {
    async start() {
      if (!l.enable || endpoint !== null) return;
      const socket = await (opts.socketFactory ?? bindUdp)(l.bind, l.port);
      const addr = socket.address();
      bound = `${addr.address}:${addr.port}`;
      endpoint = new CoapEndpoint(ctx, config, socket, { listener, clock: opts.clock ?? ctx.clock, random: opts.random ?? secureRandom });
      closeSocket = () => socket.close();
      ctx.log.info({ msg: 'listener_started', listener, bind: bound, mode: config.connection_required ? 'connection' : 'connectionless' });
    },
    async stop() {
      if (endpoint === null) return;
      endpoint.closeAll('server_shutdown');
      endpoint = null;
      const c = closeSocket;
      closeSocket = null;
      if (c !== null) await c();
    },
    /**
     * Timings, QoS modes, notify type, queue and block-wise limits and the compat switches apply
     * live, to existing channels too. The listener and the connection mode need a restart: throw.
     */
    async reload(raw: unknown) {
      // The schema (zod) loads at the first reload, not at start: the daemon's start path stays free of it.
      const next = (await import('./config.js')).coapConfigSchema.parse(raw);
      if (JSON.stringify(next.listeners) !== JSON.stringify(config.listeners)) throw new Error('gateway.coap.listeners changed: restart needed');
      if (next.enable !== config.enable) throw new Error('gateway.coap.enable changed: restart needed');
      if (next.connection_required !== config.connection_required) throw new Error('gateway.coap.connection_required changed: restart needed');
      config = next;
      endpoint?.setConfig(next);
    },
    listeners(): ListenerInfo[] {
      if (!l.enable) return [];
      return [{ id: UDP_LISTENER_ID, type: 'udp', bind: bound, running: endpoint !== null }];
    },
    request(clientId, req) {
      if (endpoint === null) return Promise.resolve({ ok: false, reason: 'not_found' });
      return endpoint.request(clientId, req);
    },
    deviceRequest(clientId, body) {
      return this.apiRequest(clientId, body);
    },
    async apiRequest(clientId, body) {
      const p = parseDeviceRequestBody(body);
      if (!p.ok) return { status: 400, body: { code: 'BAD_REQUEST', message: p.message } };
      const r = endpoint === null ? ({ ok: false, reason: 'not_found' } as const) : await endpoint.request(clientId, p.value.req);
      return deviceRequestReply(clientId, p.value, r);
    },
    channelCount: () => endpoint?.channelCount ?? 0,
  };
}

export const coapGateway: GatewayModule<typeof coapConfigSchema> = {
  name: 'coap',
  protoName: 'CoAP',
  sysName: 'coap',
  loadConfigSchema: async () => (await import('./config.js')).coapConfigSchema,
  create: (ctx, config) => createCoapGateway(ctx, config),
};
