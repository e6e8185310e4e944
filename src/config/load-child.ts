// Child-process side of loadConfigIsolated (isolated.ts): read the load options as JSON on stdin,
// then read, override and validate here and write the result, v8-serialized, to stdout. zod, the
// schema and smol-toml live and die with this process.
//
// The same file runs three ways: as the plain ES module (dist/src/config/load-child.js), as the
// esbuild bundle (load-child.cjs) and as the entry of a V8 start-up snapshot (scripts/bundle.mjs
// runs `node --build-snapshot` on the bundle). In the snapshot, zod and the composed schema are
// already built when the process starts, so the child answers in ~110-130 ms instead of ~150-200
// on a 2-core box: it is on the daemon's start-to-READY path (issue 8, scripts/bench startup).
import { serialize, startupSnapshot } from 'node:v8';
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

function main(): void {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
  process.stdin.on('end', () => {
    process.stdout.write(serialize(run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadOptions)));
  });
}

if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(main);
else main();
