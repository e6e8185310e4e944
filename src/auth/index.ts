// PLACEHOLDER until the auth work lands: allow-all services so the broker core runs alone.
import type { Logger } from 'pino';
import { allowAllAuthenticator, allowAllAuthorizer, noGuard, type Authenticator, type Authorizer, type ConnectionGuard, type RateLimits } from '../broker/hooks.js';
import type { Clock } from '../broker/types.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';

export interface AuthServices {
  authenticator: Authenticator;
  authorizer: Authorizer;
  guard: ConnectionGuard;
  rateLimits: RateLimits;
  /** Apply a new, already validated config live (users, ACL rules, limits). */
  reload(config: Config): void;
  close(): void;
}

export function createAuth(_config: Config, _store: Store, _log: Logger, _clock: Clock): AuthServices {
  return {
    authenticator: allowAllAuthenticator,
    authorizer: allowAllAuthorizer,
    guard: noGuard,
    rateLimits: { messages: () => null, bytes: () => null },
    reload() {},
    close() {},
  };
}
