// Child-process side of loadConfigIsolated (isolated.ts): read the load options as JSON on stdin,
// then read, override and validate here and write the result, v8-serialized, to stdout. zod, the
// schema and smol-toml live and die with this process.
import { serialize } from 'node:v8';
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

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
process.stdout.write(serialize(run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadOptions)));
