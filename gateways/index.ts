// The gateways this build knows, by config name. Runtime starts the enabled ones.
import type { GatewayModule } from './gateway.js';
import { coapGateway } from './coap/index.js';
import { mqttsnGateway } from './mqttsn/index.js';

export const GATEWAYS: readonly GatewayModule[] = [coapGateway, mqttsnGateway];
