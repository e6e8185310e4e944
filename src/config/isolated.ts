// loadConfig in a worker thread. zod 4's module graph and the composed schema cost the daemon
// ~60-100 ms of start-up and several MB of heap that would stay for its whole life (an ES module is
// never unloaded); in a worker they go away with the thread, and the validation runs while the main
// thread loads the broker's modules. The result is the same frozen Config and the same ConfigError
// (message and issues) as loadConfig gives in-process. Benchmark: scripts/bench/footprint.mjs.
import { Worker } from 'node:worker_threads';
import type { LoadOptions } from './load.js';
import { ConfigError, deepFreeze, type LoadReply } from './result.js';
import type { Config } from './schema.js';

export function loadConfigIsolated(opts: LoadOptions): Promise<Config> {
  const workerData: LoadOptions = { file: opts.file, dataDir: opts.dataDir, env: { ...(opts.env ?? process.env) } };
  return new Promise<Config>((resolve, reject) => {
    let reply: LoadReply | null = null;
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
      workerData,
    });
    worker.once('message', (m: LoadReply) => {
      reply = m;
      if (m.ok) resolve(deepFreeze(m.config));
      else if (m.kind === 'config') reject(new ConfigError(m.message, m.issues));
      else reject(new Error(`config loader failed: ${m.message}`));
    });
    worker.once('error', (err) => reject(err));
    worker.once('exit', (code) => {
      if (reply === null) reject(new Error(`config loader exited with code ${code} without a result`));
    });
  });
}
