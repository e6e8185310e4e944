// The gateways this build knows, by config name. Runtime loads and starts only the enabled ones:
// a gateway's code (and its socket/serial dependencies) costs nothing on a box that does not use it.
import type { GatewayModule } from './gateway.js';

export interface GatewayEntry {
  name: string;
  load(): Promise<GatewayModule>;
}

export const GATEWAYS: readonly GatewayEntry[] = [
  { name: 'coap', load: async () => (await import('./coap/index.js')).coapGateway },
  { name: 'mqttsn', load: async () => (await import('./mqttsn/index.js')).mqttsnGateway },
  { name: 'stomp', load: async () => (await import('./stomp/index.js')).stompGateway },
  { name: 'exproto', load: async () => (await import('./exproto/index.js')).exprotoGateway },
  { name: 'lwm2m', load: async () => (await import('./lwm2m/index.js')).lwm2mGateway },
];
