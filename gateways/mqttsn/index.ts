// PLACEHOLDER until the mqttsn gateway lands.
import type { GatewayModule } from '../gateway.js';
import { mqttsnConfigSchema } from './config.js';

export const mqttsnGateway: GatewayModule<typeof mqttsnConfigSchema> = {
  name: 'mqttsn',
  configSchema: mqttsnConfigSchema,
  create() {
    throw new Error('mqttsn gateway not built yet');
  },
};
