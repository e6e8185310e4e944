// Runs the real `outpostctl` (bin/outpostctl.js) as a child with a bounded time, for every test
// that drives the CLI. OUTPOST_* variables of the test's own environment are left out, so only the
// arguments (and `env` given here) decide which daemon it talks to.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './daemon.js';
import { withTimeout } from './mqtt-clients.js';

export interface CtlRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CtlOptions {
  /** Written to stdin, which is then closed (passwords read from stdin). */
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export function outpostctl(args: string[], opts: CtlOptions = {}): Promise<CtlRun> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OUTPOST_') && v !== undefined) env[k] = v;
  return withTimeout(
    new Promise<CtlRun>((resolve, reject) => {
      const p = spawn(process.execPath, [join(ROOT, 'bin/outpostctl.js'), ...args], { cwd: opts.cwd, env: { ...env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout, stderr }));
      p.stdin.end(opts.input ?? '');
    }),
    opts.timeoutMs ?? 20_000,
    `outpostctl ${args.join(' ')}`,
  );
}
