// Shared plumbing for outpostctl's daemon commands: the per-invocation context (API client from
// the global options, --json, output) and small argument/paging helpers.
import type { Command } from 'commander';
import { ApiClient, CliError, EXIT, resolveAuth, resolveUrl, type GlobalOptions } from './client.js';

export type Row = Record<string, unknown>;
export interface Page {
  data: Row[];
  meta: { count: number; page: number; limit: number; hasnext: boolean };
}

export interface Ctx {
  api: ApiClient;
  json: boolean;
  print(text: string): void;
}

export const USERS = '/api/v5/authentication/password_based:built_in_database/users';

function ctxFor(cmd: Command): Ctx {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const timeout = Number(o.timeout ?? 10_000);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new CliError('--timeout must be a positive number of milliseconds', EXIT.USAGE);
  return {
    api: new ApiClient(resolveUrl(o, process.env), resolveAuth(o, process.env), timeout),
    json: Boolean(o.json),
    print: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  };
}

/** Wrap an action: build the context from global options and hand it the command's own args. */
export function act<A extends unknown[]>(fn: (c: Ctx, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(ctxFor(cmd), ...(args.slice(0, -1) as A));
  };
}

export const enc = encodeURIComponent;
export const json = (c: Ctx, v: unknown) => c.print(JSON.stringify(v, null, 2));
export const pageQuery = (o: { page?: string; limit?: string }) => `page=${enc(o.page ?? '1')}&limit=${enc(o.limit ?? '100')}`;
export function intArg(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be an integer in ${min}..${max}`, EXIT.USAGE);
  return n;
}
export function footer(p: Page): string {
  return p.meta.hasnext ? `\n(${p.data.length} of ${p.meta.count}; next: --page ${p.meta.page + 1})` : '';
}
