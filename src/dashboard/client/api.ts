// The API client. The bearer token lives in this module's memory only: a reload or a closed tab logs
// out, and no credential ever reaches localStorage or a script-readable cookie.
let token: string | null = null;
let onSignedOut: (() => void) | null = null;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

export function signedIn(): boolean {
  return token !== null;
}

async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  // credentials 'omit': the API's 401 carries `WWW-Authenticate: Basic` (for API keys), and a fetch
  // that may send credentials would make the browser pop up its own login dialog.
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
}

async function fail(res: Response): Promise<never> {
  let code = 'HTTP_' + res.status;
  let message = res.statusText;
  try {
    const b = (await res.json()) as { code?: string; message?: string };
    code = b.code ?? code;
    message = b.message ?? message;
  } catch {
    // Not JSON: keep the status text.
  }
  throw new ApiError(res.status, code, message);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 401 && token !== null) {
    token = null;
    onSignedOut?.();
  }
  if (!res.ok) return fail(res);
  // 204, and EMQX's 200 with no body (listener start/stop/restart), carry nothing to parse.
  const text = res.status === 204 ? '' : await res.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** A plain-text resource (trace logs). */
export async function getText(path: string): Promise<string> {
  const res = await request('GET', path);
  if (res.status === 401 && token !== null) {
    token = null;
    onSignedOut?.();
  }
  if (!res.ok) return fail(res);
  return res.text();
}

/** true when this API asks for no credentials (api.auth = false on a loopback bind). */
export async function authDisabled(): Promise<boolean> {
  const res = await request('GET', '/api/v5/nodes');
  return res.ok;
}

export async function login(username: string, password: string): Promise<void> {
  const res = await request('POST', '/api/v5/login', { username, password });
  if (!res.ok) return fail(res);
  token = ((await res.json()) as { token: string }).token;
}

export async function logout(): Promise<void> {
  const t = token;
  token = null;
  if (t) {
    await fetch('/api/v5/logout', { method: 'POST', headers: { authorization: `Bearer ${t}` }, credentials: 'omit' }).catch(() => undefined);
  }
}

export interface Page<T> {
  data: T[];
  meta: { page: number; limit: number; count: number; hasnext: boolean };
}

export const enc = encodeURIComponent;
