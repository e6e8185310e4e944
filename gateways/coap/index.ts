// PLACEHOLDER until the coap gateway lands.
import type { GatewayModule } from '../gateway.js';
import { coapConfigSchema } from './config.js';

export const coapGateway: GatewayModule<typeof coapConfigSchema> = {
  name: 'coap',
  configSchema: coapConfigSchema,
  create() {
    throw new Error('coap gateway not built yet');
  },
};
