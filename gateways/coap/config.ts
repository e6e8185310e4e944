import { z } from 'zod';
// PLACEHOLDER until the coap gateway lands.
export const coapConfigSchema = z.strictObject({ enable: z.boolean().default(false) }).prefault({});
