// loadConfig in a short-lived child process. zod 4's module graph and the composed schema cost the
// daemon ~60-100 ms of start-up and several MB of heap that would stay for its whole life (an ES
// module is never unloaded); in a child they go away with it, and the validation runs on the other
// core while this process loads the broker's modules. A worker thread was measured too (commit
// a36d9eb): it answers ~60-80 ms sooner (no process to boot), but the exited thread leaves ~3.5 MB
// of idle RSS behind (malloc arena, touched pages); the issue 8 memory target decided for the child.
// The result is the same frozen Config and the same ConfigError (message and issues) as loadConfig
// gives in-process. Benchmark: scripts/bench/footprint.mjs.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deserialize } from 'node:v8';
import type { LoadOptions } from './load.js';
import { ConfigError, deepFreeze, type LoadReply } from './result.js';
import type { Config } from './schema.js';

/** The bundled child when the build made one (scripts/bundle-config-loader.mjs), else the plain one. */
const BUNDLED = fileURLToPath(new URL('./load-child.bundle.mjs', import.meta.url));
const CHILD = existsSync(BUNDLED) ? BUNDLED : fileURLToPath(new URL('./load-child.js', import.meta.url));

export function loadConfigIsolated(opts: LoadOptions): Promise<Config> {
  // Over stdin, not argv or the child's environment: OUTPOST_* overrides may hold secrets, and
  // the caller's env (tests) need not be this process's.
  const input = JSON.stringify({ file: opts.file, dataDir: opts.dataDir, env: opts.env ?? process.env });
  return new Promise<Config>((resolve, reject) => {
    // No execArgv: profiling or inspector flags of the daemon are not the loader's business.
    const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.once('error', reject);
    // A child that dies before reading its input is reported by 'close' below.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.once('close', (code, signal) => {
      let reply: LoadReply;
      try {
        if (code !== 0) throw new Error(signal ? `killed by ${signal}` : `exit code ${code}`);
        reply = deserialize(Buffer.concat(out)) as LoadReply;
      } catch (err) {
        reject(new Error(`config loader failed: ${(err as Error).message}`));
        return;
      }
      if (reply.ok) resolve(deepFreeze(reply.config));
      else if (reply.kind === 'config') reject(new ConfigError(reply.message, reply.issues));
      else reject(new Error(`config loader failed: ${reply.message}`));
    });
  });
}
