// Worker side of loadConfigIsolated (isolated.ts): read, override and validate in this thread, post
// the result, exit. zod, the schema and smol-toml live and die with this isolate.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig, type LoadOptions } from './load.js';
import { ConfigError, type LoadReply } from './result.js';

function run(opts: LoadOptions): LoadReply {
  try {
    return { ok: true, config: loadConfig(opts) };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, kind: 'config', message: err.message, issues: err.issues };
    return { ok: false, kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
}

parentPort?.postMessage(run(workerData as LoadOptions));
