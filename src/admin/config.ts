import { z } from 'zod';
// PLACEHOLDER until the operations work lands.
export const apiConfigShape = { api: z.strictObject({ enable: z.boolean().default(false) }).prefault({}) };
