// The small interfaces through which the broker and its front ends call authentication,
// authorization and connection protection (src/auth implements them). Defaults allow everything,
// so the broker core runs on its own.
import type { AuthzAction, AuthzDecision, ClientIdentity, QoS } from './types.js';

export interface AuthRequest {
  clientId: string;
  username: string | null;
  password: Buffer | null;
  peerHost: string;
  peerPort: number;
  protocol: string;
  listener: string;
  /** Client certificate fields when the transport is TLS/DTLS with a peer certificate. */
  cert?: { commonName?: string; subject?: string; san?: string[]; fingerprint?: string };
  /**
   * The PSK identity a DTLS handshake proved (the peer holds that identity's key). The chain takes
   * it as authenticated without a password, with the identity as username.
   */
  pskIdentity?: string;
}

export type AuthResult =
  | { ok: true; superuser: boolean; /** set when the identity is overridden (cert as username, …) */ username?: string | null; clientId?: string }
  | { ok: false; reason: 'bad_username_or_password' | 'not_authorized' | 'banned' | 'server_unavailable' };

export interface Authenticator {
  /** Synchronous when the answer is local (built-in database), a promise only for remote backends. */
  authenticate(req: AuthRequest): AuthResult | Promise<AuthResult>;
}

export interface Authorizer {
  authorize(client: ClientIdentity, action: AuthzAction, topic: string, qos: QoS, retain: boolean): AuthzDecision;
}

/** Bans and flapping detection, consulted on connect and told about disconnects. */
export interface ConnectionGuard {
  /** Non-null when the client is banned: the reason to log. */
  checkBanned(clientId: string, username: string | null, peerHost: string): string | null;
  onDisconnected(client: ClientIdentity, now: number): void;
  /** Subscribe here to kick clients that get banned while connected. */
  onBan?(listener: (kind: 'clientid' | 'username' | 'peerhost', who: string) => void): void;
}

/** Token bucket style limiter: how long (ms) to pause before `amount` more may pass; 0 when it may pass now. */
export interface RateLimiter {
  consume(amount: number, now: number): number;
}

export interface RateLimits {
  /** Per-client inbound PUBLISH messages, or null when unlimited. */
  messages(): RateLimiter | null;
  /** Per-client inbound bytes, or null when unlimited. */
  bytes(): RateLimiter | null;
}

export const allowAllAuthenticator: Authenticator = {
  authenticate: () => ({ ok: true, superuser: false }),
};

export const allowAllAuthorizer: Authorizer = {
  authorize: () => 'allow',
};

export const noGuard: ConnectionGuard = {
  checkBanned: () => null,
  onDisconnected: () => {},
};
