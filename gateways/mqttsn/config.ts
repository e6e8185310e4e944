import { z } from 'zod';
// PLACEHOLDER until the mqttsn gateway lands.
export const mqttsnConfigSchema = z.strictObject({ enable: z.boolean().default(false) }).prefault({});
