// Loads the optional native DTLS addon (native/outpost_dtls.c, built on install by
// scripts/build-native.mjs). Without it DTLS listeners refuse to start with the reason below and
// everything else runs.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Opaque handles owned by the addon (an SSL_CTX, one peer's SSL). */
export type NativeContext = { readonly __brand: 'DtlsContext' };
export type NativeSession = { readonly __brand: 'DtlsSession' };

/** Bits of the number every session call returns (kept in step with outpost_dtls.c). */
export const F = {
  OUT: 1,
  PLAIN: 2,
  DONE: 4,
  CLOSED: 8,
  FATAL: 16,
  ALERT: 32,
  ACCEPTED: 64,
} as const;

export interface NativeContextOptions {
  /** client mode (load generators and tests): fixed PSK identity and key */
  client?: boolean;
  identity?: string;
  key?: Buffer;
  psk?: (identity: string) => Buffer | undefined;
  hint?: string;
  certfile?: string;
  keyfile?: string;
  cacertfile?: string;
  /** 0 verify_none, 1 verify_peer, 2 verify_peer + fail_if_no_peer_cert */
  verify?: 0 | 1 | 2;
  /** first handshake retransmission timeout (doubles up to 60 s); default 1000 */
  retransmitMs?: number;
  ciphers?: string;
}

export interface NativeInfo {
  alert?: string;
  error?: string;
  cipher?: string;
  version?: string;
  pskIdentity?: string;
  certDer?: Buffer;
  verifyError?: string;
}

export interface DtlsNative {
  newContext(o: NativeContextOptions): NativeContext;
  newSession(ctx: NativeContext, mtu: number): NativeSession;
  listen(s: NativeSession, datagram: Buffer, cookie: Buffer, prevCookie?: Buffer): number;
  feed(s: NativeSession, datagram: Buffer): number;
  /** client sessions only: send the first flight */
  connect(s: NativeSession): number;
  write(s: NativeSession, plaintext: Buffer): number;
  takeOut(s: NativeSession): Buffer | undefined;
  takePlain(s: NativeSession): Buffer | undefined;
  /** ms until the handshake retransmission timer fires; -1 when none runs */
  timeout(s: NativeSession): number;
  handleTimeout(s: NativeSession): number;
  shutdown(s: NativeSession): number;
  free(s: NativeSession): void;
  info(s: NativeSession): NativeInfo;
  openssl(): string;
}

const ADDON = join('gateways', 'transport', 'dtls', 'native', 'build', 'Release', 'outpost_dtls.node');

/** The nearest directory holding package.json above this module (works from src and dist/). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from, i = 0; i < 20; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

export function addonPath(): string | undefined {
  const env = process.env.OUTPOST_DTLS_ADDON;
  if (env) return env;
  const root = packageRoot();
  return root ? join(root, ADDON) : undefined;
}

let loaded: { native: DtlsNative } | { reason: string } | undefined;

const HOW =
  'DTLS needs the native addon gateways/transport/dtls/native, built on install: install python3, make and g++, then run `npm run build:native` (or `npm rebuild`) in the package directory';

/** Loads the addon at this path, or says why not (with how to build it). */
export function tryLoad(path: string | undefined): { native: DtlsNative } | { reason: string } {
  if (!path || !existsSync(path)) return { reason: `DTLS addon not built (${path ?? ADDON} is missing). ${HOW}` };
  try {
    return { native: createRequire(import.meta.url)(path) as DtlsNative };
  } catch (err) {
    return { reason: `DTLS addon ${path} does not load (${(err as Error).message}). ${HOW}` };
  }
}

/** The addon for this process (loaded once). */
export function loadNative(): { native: DtlsNative } | { reason: string } {
  loaded ??= tryLoad(addonPath());
  return loaded;
}
