// The CoAP gateway (EMQX 5 compatible, gateways/coap/SPEC.md): config schema plus start/stop of
// its UDP listener. The runtime calls coapGateway.create(ctx, config) and then start().
import { randomInt } from 'node:crypto';
import type { Clock, Gateway, GatewayContext, GatewayModule, ListenerInfo } from '../gateway.js';
import type { CoapConfig, coapConfigSchema } from './config.js';
import { CoapEndpoint } from './endpoint.js';
import { type SocketFactory, bindUdp } from '../transport/datagram.js';
import { DtlsGatewayListener, dtlsRestartShape, dtlsStats } from '../transport/dtls-listener.js';
import type { DeviceRequest, DeviceResponse } from './types.js';
import { deviceRequestReply, parseDeviceRequestBody } from './api.js';

export type { CoapConfig } from './config.js';
export type { DeviceRequest, DeviceResponse } from './types.js';
export type { DatagramSocket, SocketFactory } from '../transport/datagram.js';
export { deviceRequestReply, parseDeviceRequestBody, type DeviceRequestReply } from './api.js';

export interface CoapGatewayOptions {
  /** Replaces node:dgram for the udp listeners (an in-memory pair in tests). */
  socketFactory?: SocketFactory;
  /** Replaces the DTLS engine's factory for the dtls listeners (unit tests). */
  dtlsEngine?: ConstructorParameters<typeof DtlsGatewayListener>[4];
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

/** One configured listener (`gateway.coap.listeners.{udp,dtls}.<name>`) and, once started, its endpoint. */
interface UdpListener {
  /** 'udp:<name>' or 'dtls:<name>', as in $SYS events, client lists and the daemon's port table. */
  id: string;
  type: 'udp' | 'dtls';
  cfg: { bind: string; port: number };
  /** The DTLS side of a dtls listener (engine options, reload, revocation). */
  dtls: DtlsGatewayListener | null;
  bound: string;
  endpoint: CoapEndpoint | null;
  close: (() => Promise<void>) | null;
}

export function createCoapGateway(ctx: GatewayContext, initial: CoapConfig, opts: CoapGatewayOptions = {}): CoapGateway {
  let config = initial;
  const udp: UdpListener[] = [
    ...Object.entries(config.listeners.udp)
      .filter(([, l]) => l.enable)
      .map(([name, l]): UdpListener => ({ id: `udp:${name}`, type: 'udp', cfg: l, dtls: null, bound: `${l.bind}:${l.port}`, endpoint: null, close: null })),
    ...Object.entries(config.listeners.dtls)
      .filter(([, l]) => l.enable)
      .map(([name, l]): UdpListener => ({
        id: `dtls:${name}`,
        type: 'dtls',
        cfg: l,
        dtls: new DtlsGatewayListener(`gateway.coap.listeners.dtls.${name}`, l, ctx.psk, ctx.log, opts.dtlsEngine),
        bound: `${l.bind}:${l.port}`,
        endpoint: null,
        close: null,
      })),
  ];
  /** The endpoint that holds a device's channel: client ids are unique across listeners (takeover). */
  const endpointOf = (clientId: string): CoapEndpoint | null => udp.find((l) => l.endpoint?.channel(clientId) != null)?.endpoint ?? null;

  const stopListener = async (l: UdpListener): Promise<void> => {
    l.endpoint?.closeAll('server_shutdown');
    l.endpoint = null;
    const c = l.close;
    l.close = null;
    if (c !== null) await c();
  };

  return {
    async start() {
      try {
        for (const l of udp) {
          if (l.endpoint !== null) continue;
          const factory = l.dtls !== null ? l.dtls.factory : (opts.socketFactory ?? bindUdp);
          const socket = await factory(l.cfg.bind, l.cfg.port);
          l.close = () => socket.close();
          const addr = socket.address();
          l.bound = `${addr.address}:${addr.port}`;
          l.endpoint = new CoapEndpoint(ctx, config, socket, { listener: l.id, sockPort: addr.port, clock: opts.clock ?? ctx.clock, random: opts.random ?? secureRandom });
          ctx.log.info({ msg: 'listener_started', listener: l.id, bind: l.bound, mode: config.connection_required ? 'connection' : 'connectionless' });
        }
      } catch (err) {
        // A listener that cannot bind fails the start; those already bound are released with it.
        for (const l of udp) await stopListener(l);
        throw err;
      }
    },
    async stop() {
      for (const l of udp) await stopListener(l);
    },
    /**
     * Timings, QoS modes, notify type, queue and block-wise limits and the compat switches apply
     * live, to existing channels too. A dtls listener rereads its certificates and keys for new
     * handshakes (sessions stay up). Other listener changes and the connection mode need a restart: throw.
     */
    async reload(raw: unknown) {
      // The schema (zod) loads at the first reload, not at start: the daemon's start path stays free of it.
      const next = (await import('./config.js')).coapConfigSchema.parse(raw);
      if (JSON.stringify({ ...next.listeners, dtls: dtlsRestartShape(next.listeners.dtls) }) !== JSON.stringify({ ...config.listeners, dtls: dtlsRestartShape(config.listeners.dtls) })) throw new Error('gateway.coap.listeners changed: restart needed');
      if (next.enable !== config.enable) throw new Error('gateway.coap.enable changed: restart needed');
      if (next.connection_required !== config.connection_required) throw new Error('gateway.coap.connection_required changed: restart needed');
      config = next;
      for (const l of udp) {
        l.endpoint?.setConfig(next);
        if (l.dtls !== null) l.dtls.reload(next.listeners.dtls[l.id.slice('dtls:'.length)]!);
      }
    },
    listeners(): ListenerInfo[] {
      return udp.map((l) => ({ id: l.id, type: l.type, bind: l.bound, running: l.endpoint !== null, ...dtlsStats(l.dtls) }));
    },
    request(clientId, req) {
      const e = endpointOf(clientId);
      if (e === null) return Promise.resolve({ ok: false, reason: 'not_found' });
      return e.request(clientId, req);
    },
    deviceRequest(clientId, body) {
      return this.apiRequest(clientId, body);
    },
    async apiRequest(clientId, body) {
      const p = parseDeviceRequestBody(body);
      if (!p.ok) return { status: 400, body: { code: 'BAD_REQUEST', message: p.message } };
      const e = endpointOf(clientId);
      const r = e === null ? ({ ok: false, reason: 'not_found' } as const) : await e.request(clientId, p.value.req);
      return deviceRequestReply(clientId, p.value, r);
    },
    channelCount: () => udp.reduce((n, l) => n + (l.endpoint?.channelCount ?? 0), 0),
  };
}

export const coapGateway: GatewayModule<typeof coapConfigSchema> = {
  name: 'coap',
  protoName: 'CoAP',
  sysName: 'coap',
  loadConfigSchema: async () => (await import('./config.js')).coapConfigSchema,
  create: (ctx, config) => createCoapGateway(ctx, config),
};
