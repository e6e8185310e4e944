// loadConfig in a short-lived child process. zod 4's module graph and the composed schema cost the
// daemon ~60-100 ms of start-up and several MB of heap that would stay for its whole life (an ES
// module is never unloaded); in a child they go away with it, and the validation runs on the other
// core while this process loads the broker's modules. A worker thread was measured too (commit
// a36d9eb): it answers ~60-80 ms sooner (no process to boot), but the exited thread leaves ~3.5 MB
// of idle RSS behind (malloc arena, touched pages); the issue 8 memory target decided for the child.
// Validating in a throwaway vm context of this process is no better: ~20 MB of RSS stayed after the
// context was dropped and collected (measured 2026-11-22).
// The result is the same frozen Config and the same ConfigError (message and issues) as loadConfig
// gives in-process. Benchmark: scripts/bench/footprint.mjs.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deserialize } from 'node:v8';
import type { LoadOptions } from './load.js';
import { ConfigError, deepFreeze, type LoadReply } from './result.js';
import type { Config } from './schema.js';

/**
 * How to start the loader child, fastest first; each is tried only if the one before it could not answer.
 * Next to the daemon bundle (dist/outpost/, scripts/bundle.mjs) are a V8 start-up snapshot of the loader,
 * usable only by the Node binary that built it (hence the version and arch in its name), and the loader
 * bundle; next to the unbundled daemon (dist/src/config/) is the plain module. A snapshot that a later
 * Node cannot read, or a bundle that is missing, costs one failed spawn, not the start.
 */
function loaderCommands(): string[][] {
  const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
  const out: string[][] = [];
  const blob = here(`./load-child.${process.version}-${process.arch}.blob`);
  if (existsSync(blob)) out.push(['--snapshot-blob', blob]);
  const bundled = here('./load-child.cjs');
  if (existsSync(bundled)) out.push([bundled]);
  const plain = here('./load-child.js');
  if (existsSync(plain) || out.length === 0) out.push([plain]);
  return out;
}

export async function loadConfigIsolated(opts: LoadOptions): Promise<Config> {
  // Over stdin, not argv or the child's environment: OUTPOST_* overrides may hold secrets, and
  // the caller's env (tests) need not be this process's.
  const input = JSON.stringify({ file: opts.file, dataDir: opts.dataDir, env: opts.env ?? process.env });
  const commands = loaderCommands();
  for (let i = 0; ; i++) {
    const last = i === commands.length - 1;
    const reply = await runLoader(commands[i]!, input, last);
    if (reply === null && !last) continue;
    if (reply === null) throw new Error('config loader failed');
    if (reply.ok) return deepFreeze(reply.config);
    if (reply.kind === 'config') throw new ConfigError(reply.message, reply.issues);
    throw new Error(`config loader failed: ${reply.message}`);
  }
}

/**
 * The daemon's environment without NODE_OPTIONS, as it runs without the daemon's execArgv: profiling
 * or inspector flags are not the loader's business (an --inspect would fight over the port), and any
 * V8 flag makes Node refuse the snapshot, which was built without them. NODE_EXTRA_CA_CERTS goes too:
 * Node 20 parses that bundle at every start (~45 ms for Debian's ca-certificates on a 2-core box,
 * measured 2026-11-22), and the loader makes no TLS connection; the daemon keeps it for its bridges.
 */
function loaderEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * One loader child. Its stderr is held back and passed on only when it answered or when no other way is
 * left: a snapshot the running Node rejects must not print an alarming error before the bundle answers.
 * Null when it gave no answer (spawn failed, crashed, garbled output).
 */
function runLoader(args: string[], input: string, last: boolean): Promise<LoadReply | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: loaderEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let spawnError: Error | null = null;
    child.once('error', (e) => (spawnError = e));
    // A child that dies before reading its input is reported by 'close' below.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.once('close', (code, signal) => {
      let reply: LoadReply | null = null;
      try {
        if (spawnError) throw spawnError;
        if (code !== 0) throw new Error(signal ? `killed by ${signal}` : `exit code ${code}`);
        reply = deserialize(Buffer.concat(out)) as LoadReply;
      } catch (e) {
        if (last) err.push(Buffer.from(`config loader failed: ${(e as Error).message}\n`));
      }
      if (reply !== null || last) process.stderr.write(Buffer.concat(err));
      resolve(reply);
    });
  });
}
