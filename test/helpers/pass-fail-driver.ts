// Runs a shell test driver that prints one `PASS …` / `FAIL …` line per check (the package tests:
// scripts/deb-install-test.sh, scripts/deb-cross-check.sh) and collects what it printed.
import { spawn } from 'node:child_process';
import { ROOT } from './daemon.js';

export interface DriverRun {
  code: number | null;
  out: string;
  /** A PASS line matching `re` was printed. */
  passed(re: RegExp): boolean;
  failures(): string[];
}

/** Runs `bash <script> ...args` from the repository root; SIGTERM (the drivers clean up on it) 15 s before `limitMs`. */
export function runPassFailDriver(script: string, args: string[], limitMs: number): Promise<DriverRun> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn('bash', [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), limitMs - 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = out.split('\n');
      resolve({
        code,
        out,
        passed: (re) => lines.some((l) => l.startsWith('PASS ') && re.test(l)),
        failures: () => lines.filter((l) => l.startsWith('FAIL ')),
      });
    });
  });
}
