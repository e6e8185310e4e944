// What a config load hands back, without the schema: the daemon imports only this module
// (validation runs in a child process, see isolated.ts), so zod and the composed schema never load
// there. Benchmark: scripts/bench/footprint.mjs (idle RSS, start to READY).
import type { Config } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'OUTPOST_ERR_CONFIG_INVALID';
  constructor(
    message: string,
    readonly issues: { path: string; message: string; env?: string }[],
  ) {
    super(message);
  }
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** The loader child's one answer: the validated config, or why there is none. */
export type LoadReply =
  | { ok: true; config: Config }
  | { ok: false; kind: 'config'; message: string; issues: { path: string; message: string; env?: string }[] }
  | { ok: false; kind: 'error'; message: string };
