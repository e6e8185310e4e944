// outpostctl's HTTP side: where the daemon is, which credentials to present, and errors mapped to
// exit codes scripts can trust (0 ok, 1 error, 2 usage, 3 daemon not reachable).
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LOCAL_KEY_FILE, runtimePointerPath } from '../admin/local-key.js';

export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, UNREACHABLE: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.ERROR,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  apiSecret?: string;
  login?: string;
  loginPassword?: string;
  credentialsFile?: string;
  dataDir?: string;
  json?: boolean;
  timeout?: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:18083';
export const DEFAULT_DATA_DIR = '/var/lib/outpost';

type Auth = { kind: 'basic'; header: string; source: string } | { kind: 'login'; username: string; password: string } | { kind: 'none' };

function basicHeader(key: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64');
}

function readKeyFile(path: string): { key: string; secret: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read credentials file ${path}: ${(err as Error).message}`);
  }
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const [key, secret] = (line ?? '').trim().split(':');
  if (!key || !secret) throw new CliError(`credentials file ${path}: expected a key:secret line`);
  return { key, secret };
}

/** Credentials in order: flags, environment, --credentials-file, the daemon's local key in the data dir. */
export function resolveAuth(o: GlobalOptions, env: NodeJS.ProcessEnv): Auth {
  const key = o.apiKey ?? env.OUTPOST_API_KEY;
  const secret = o.apiSecret ?? env.OUTPOST_API_SECRET;
  if (key && secret) return { kind: 'basic', header: basicHeader(key, secret), source: 'api key' };
  if (key || secret) throw new CliError('give both --api-key and --api-secret (or OUTPOST_API_KEY and OUTPOST_API_SECRET)', EXIT.USAGE);
  const username = o.login ?? env.OUTPOST_API_USERNAME;
  const password = o.loginPassword ?? env.OUTPOST_API_PASSWORD;
  if (username && password) return { kind: 'login', username, password };
  const file = o.credentialsFile ?? env.OUTPOST_API_CREDENTIALS;
  if (file) {
    const k = readKeyFile(file);
    return { kind: 'basic', header: basicHeader(k.key, k.secret), source: file };
  }
  const local = join(dataDir(o, env), LOCAL_KEY_FILE);
  if (existsSync(local)) {
    try {
      const k = readKeyFile(local);
      return { kind: 'basic', header: basicHeader(k.key, k.secret), source: local };
    } catch {
      // Not readable by this user: fall through, the daemon will answer 401 with a hint below.
    }
  }
  return { kind: 'none' };
}

/** Is the daemon that wrote this runtime file still running? EPERM: alive, as another user. */
function runningPid(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The data dir if a running daemon's runtime.json is in it. `mine`: only a runtime.json this user
 * wrote counts (a working directory may be shared, e.g. /tmp, and a planted one would send our
 * credentials to a stranger's port).
 */
function liveDataDir(dir: string, mine = false): string | null {
  try {
    const path = join(dir, 'runtime.json');
    if (mine) {
      const st = lstatSync(path);
      if (!st.isFile() || (process.getuid && st.uid !== process.getuid())) return null;
    }
    const rt = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown };
    return runningPid(rt.pid) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * The daemon's data dir: --data-dir, OUTPOST_DATA_DIR, then where a running daemon is found: the
 * working directory's ./data (a foreground `npm start`/`outpost` there) or the working directory
 * itself, the dir this user's last started daemon recorded (runtimePointerPath), and the installed
 * daemon's /var/lib/outpost, which is also the answer when none runs.
 */
export function dataDir(o: GlobalOptions, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  const explicit = o.dataDir ?? env.OUTPOST_DATA_DIR;
  if (explicit) return explicit;
  const local = liveDataDir(join(cwd, 'data'), true) ?? liveDataDir(cwd, true);
  if (local) return local;
  try {
    const pointer = runtimePointerPath(env, tmpdir(), process.getuid?.() ?? 0);
    // In a shared /tmp anyone can create a file by that name: follow only a plain file of this user's,
    // or a stranger could point outpostctl (and the password given to it) at their own server.
    const st = lstatSync(pointer);
    if (!st.isFile() || (process.getuid && st.uid !== process.getuid())) throw new Error('not ours');
    const p = JSON.parse(readFileSync(pointer, 'utf8')) as { pid?: unknown; data_dir?: unknown };
    if (typeof p.data_dir === 'string' && runningPid(p.pid) && liveDataDir(p.data_dir)) return p.data_dir;
  } catch {
    // No pointer, or a stale one.
  }
  return DEFAULT_DATA_DIR;
}

/** --url, OUTPOST_API_URL, the port the daemon recorded in <data_dir>/runtime.json, or 127.0.0.1:18083. */
export function resolveUrl(o: GlobalOptions, env: NodeJS.ProcessEnv): string {
  const explicit = o.url ?? env.OUTPOST_API_URL;
  if (explicit) return explicit.replace(/\/+$/, '');
  try {
    const rt = JSON.parse(readFileSync(join(dataDir(o, env), 'runtime.json'), 'utf8')) as { listeners?: Record<string, unknown> };
    const port = rt.listeners?.['api:http'];
    if (typeof port === 'number' && port > 0) return `http://127.0.0.1:${port}`;
  } catch {
    // no runtime file: the daemon is not running here, or the data dir is elsewhere
  }
  return DEFAULT_URL;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

export class ApiClient {
  private token: string | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly auth: Auth,
    private readonly timeoutMs: number,
  ) {}

  async request(method: string, path: string, body?: unknown, opts: { okStatuses?: number[]; anonymous?: boolean } = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!opts.anonymous) {
      if (this.auth.kind === 'basic') headers.authorization = this.auth.header;
      else if (this.auth.kind === 'login') headers.authorization = `Bearer ${await this.login(this.auth.username, this.auth.password)}`;
    }
    const res = await this.fetch(method, path, headers, body);
    if (res.status >= 400 && !(opts.okStatuses ?? []).includes(res.status)) throw this.failure(res);
    return res;
  }

  private async login(username: string, password: string): Promise<string> {
    if (this.token) return this.token;
    const res = await this.fetch('POST', '/api/v5/login', { 'content-type': 'application/json' }, { username, password });
    if (res.status !== 200) throw this.failure(res);
    this.token = String((res.body as { token?: unknown }).token);
    return this.token;
  }

  private async fetch(method: string, path: string, headers: Record<string, string>, body: unknown): Promise<ApiResponse> {
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('application/json') && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, body: parsed, text };
  }

  private unreachable(err: unknown): CliError {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message ?? 'unknown error');
    return new CliError(
      `cannot reach the Outpost daemon at ${this.baseUrl} (${why}).\n` +
        'Is it running? Check `systemctl status outpost`, or pass --url / --data-dir if it listens elsewhere.',
      EXIT.UNREACHABLE,
    );
  }

  private failure(res: ApiResponse): CliError {
    const b = res.body as { code?: unknown; message?: unknown; reason_code?: unknown };
    let msg: string;
    if (b && typeof b === 'object' && typeof b.message === 'string') {
      msg = typeof b.code === 'string' ? `${b.message} (${b.code})` : `${b.message}${typeof b.reason_code === 'number' ? ` (reason code ${b.reason_code})` : ''}`;
    } else {
      msg = `HTTP ${res.status}${res.text ? `: ${res.text.slice(0, 200)}` : ''}`;
    }
    if (res.status === 401) {
      msg +=
        this.auth.kind === 'none'
          ? '\nNo credentials found: pass --api-key/--api-secret or --login/--login-password, set OUTPOST_API_KEY/OUTPOST_API_SECRET, ' +
            `or run as a user who can read ${LOCAL_KEY_FILE} in the daemon's data directory (--data-dir).`
          : '\nThe daemon refused these credentials.';
    }
    return new CliError(msg, EXIT.ERROR);
  }
}
