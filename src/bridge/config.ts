import { z } from 'zod';
// PLACEHOLDER until the bridge work lands.
export const bridgesConfigShape = { bridges: z.record(z.string(), z.unknown()).default({}) };
