// Config sections for access control and protection, named as in EMQX 5 (emqx-broker-behaviour.md
// §2, §7, §8): [authentication], [authorization], [flapping_detect], [banned], plus [limiter] for the
// per-client message/byte rates and the global connection cap. Defaults live here only.
import { z } from 'zod';
import { secondsFrom } from '../core/units.js';

/** Seconds; EMQX duration strings ("500ms", "15s", "2h") are read too. */
const seconds = (n: z.ZodNumber = z.number().min(0)) => z.preprocess(secondsFrom(false), n);

/** EMQX rate strings: "infinity", "1000/s", "10/100ms", "1MB/s", "500KB/10s". */
export const RATE_RE = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)\s*$/i;
export const rateSchema = z
  .string()
  .refine((s) => s === 'infinity' || RATE_RE.test(s), { message: 'expected "infinity" or a rate like "1000/s", "1MB/s", "10/100ms"' });

export const HASH_NAMES = ['plain', 'md5', 'sha', 'sha256', 'sha512', 'bcrypt', 'pbkdf2', 'scrypt'] as const;
export const MAC_FUNS = ['md4', 'md5', 'ripemd160', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;

/** EMQX's password_hash_algorithm block; every field is present after parsing so one type serves all names. */
export const hashAlgorithmSchema = z
  .strictObject({
    name: z.enum(HASH_NAMES).default('pbkdf2'),
    /** md5/sha/sha256/sha512: where the salt goes (EMQX default prefix); plain ignores it. */
    salt_position: z.enum(['prefix', 'suffix', 'disable']).default('prefix'),
    /** bcrypt cost, EMQX allows 5..10. */
    salt_rounds: z.number().int().min(4).max(31).default(10),
    mac_fun: z.enum(MAC_FUNS).default('sha256'),
    iterations: z.number().int().min(1).default(50000),
    /** Derived key length in bytes; 0 = the MAC's output size (EMQX leaves it unset). */
    dk_length: z.number().int().min(0).default(0),
    /** scrypt cost parameters (Outpost addition; N=16384, r=8, p=1 costs ~50 ms on x64). */
    scrypt_n: z.number().int().min(2).default(16384),
    scrypt_r: z.number().int().min(1).default(8),
    scrypt_p: z.number().int().min(1).default(1),
  });
export type HashAlgorithm = z.infer<typeof hashAlgorithmSchema>;

export const authenticationSchema = z
  .strictObject({
    /** false: no authenticator configured, every client is allowed (EMQX behaviour). */
    enable: z.boolean().default(true),
    /**
     * "auto": anonymous clients (and unknown users) are let in while the user database is empty and
     * no HTTP backend is enabled; as soon as one user exists they are rejected. true/false force it.
     */
    allow_anonymous: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    user_id_type: z.enum(['username', 'clientid']).default('username'),
    /** Algorithm for users created through the CLI/API with a plain password. */
    password_hash_algorithm: hashAlgorithmSchema.prefault({}),
    /** Algorithm assumed for imported `type=hash` files without their own (EMQX's schema default: sha256, prefix). */
    import_hash_algorithm: hashAlgorithmSchema.prefault({ name: 'sha256', salt_position: 'prefix' }),
    /** Seconds a verified password is remembered (hashing costs ~50 ms); 0 disables the cache. */
    cache_ttl: seconds().default(60),
    /** Password verifications allowed to wait at once; beyond it a CONNECT gets server_unavailable. */
    max_pending: z.number().int().min(1).default(256),
    /** A client certificate verified by a verify_peer listener authenticates the client without a password. */
    client_cert: z
      .strictObject({
        enable: z.boolean().default(false),
        superuser: z.boolean().default(false),
      })
      .prefault({}),
    /** EMQX-style HTTP authenticator, consulted after the built-in database. */
    http: z
      .strictObject({
        enable: z.boolean().default(false),
        url: z.string().default(''),
        headers: z.record(z.string(), z.string()).default({}),
        /** Seconds before a request counts as failed (-> server_unavailable). */
        request_timeout: seconds().default(5),
        /** Seconds an allow/deny answer is reused for the same credentials; 0 disables. */
        cache_ttl: seconds().default(60),
      })
      .superRefine((h, ctx) => {
        if (h.enable && !/^https?:\/\//.test(h.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'http authentication needs an http(s):// url' });
      })
      .prefault({}),
  })
  .prefault({});

export const authorizationSchema = z
  .strictObject({
    /** Result when no source has a matching rule (EMQX default allow; the default rules end in {allow, all} anyway). */
    no_match: z.enum(['allow', 'deny']).default('allow'),
    deny_action: z.enum(['ignore', 'disconnect']).default('ignore'),
    cache: z
      .strictObject({
        enable: z.boolean().default(true),
        /** Decisions cached per client. */
        max_size: z.number().int().min(1).default(32),
        ttl: seconds().default(60),
      })
      .prefault({}),
    /** Checked in order; the first source with a matching rule decides. */
    sources: z.array(z.enum(['built_in_database', 'file'])).default(['built_in_database', 'file']),
    file: z
      .strictObject({
        enable: z.boolean().default(true),
        /** acl.conf path; empty = the embedded EMQX default rules. */
        path: z.string().default(''),
      })
      .prefault({}),
  })
  .prefault({});

export const flappingSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    window_time: seconds().default(60),
    max_count: z.number().int().min(1).default(15),
    ban_time: seconds().default(300),
  })
  .prefault({});

export const bannedSchema = z
  .strictObject({
    /** CSV `as,who,reason,until` (until: RFC 3339, epoch seconds or empty for never) imported at start. */
    bootstrap_file: z.string().default(''),
    /** Seconds between sweeps of expired bans. */
    cleanup_interval: seconds(z.number().min(1)).default(60),
  })
  .prefault({});

export const limiterSchema = z
  .strictObject({
    /** Per client, inbound PUBLISH messages (EMQX listener messages_rate). Exceeding pauses reading. */
    messages_rate: rateSchema.default('infinity'),
    /** Extra messages a client may send at once above the rate; 0 = one second's worth. */
    messages_burst: z.number().int().min(0).default(0),
    bytes_rate: rateSchema.default('infinity'),
    bytes_burst: z.number().int().min(0).default(0),
    /** Connections on all listeners together; 0 = unlimited. */
    max_connections: z.number().int().min(0).default(0),
  })
  .prefault({});

/**
 * EMQX 5's [psk_authentication] (emqx_psk_schema): pre-shared keys for the DTLS listeners. The
 * init_file's `identity:secret` lines are read at start and again at every reload; the secret is
 * the raw text after the separator (EMQX does not decode it). Keys handed to devices at pairing are
 * accepted whether or not this is enabled.
 */
export const pskAuthenticationSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    /** Path of the `identity<separator>secret` file; relative paths are under node.data_dir; empty = none. */
    init_file: z.string().default(''),
    separator: z.string().min(1).default(':'),
    /** EMQX imports the file in chunks of this many lines; accepted for compatibility, the file is read at once. */
    chunk_size: z.number().int().min(1).default(50),
  })
  .prefault({});

export const authConfigShape = {
  psk_authentication: pskAuthenticationSchema,
  authentication: authenticationSchema,
  authorization: authorizationSchema,
  flapping_detect: flappingSchema,
  banned: bannedSchema,
  limiter: limiterSchema,
};

export type AuthenticationConfig = z.infer<typeof authenticationSchema>;
export type AuthorizationConfig = z.infer<typeof authorizationSchema>;
export type FlappingConfig = z.infer<typeof flappingSchema>;
export type BannedConfig = z.infer<typeof bannedSchema>;
export type LimiterConfig = z.infer<typeof limiterSchema>;
export type PskAuthenticationConfig = z.infer<typeof pskAuthenticationSchema>;

type CertAs = 'disabled' | 'cn' | 'dn' | 'san';
interface ListenerView {
  enable: boolean;
  bind: string;
}
interface TlsListenerView extends ListenerView {
  peer_cert_as_username: CertAs;
  peer_cert_as_clientid: CertAs;
}

/**
 * The part of the daemon's config that auth reads: its own sections, plus the listener binds (the
 * anonymous-access warning) and certificate mappings. The composed Config satisfies it; auth stays
 * below the config composition instead of importing it.
 */
export interface AuthSettings {
  node: { data_dir: string };
  mqtt: ListenerView;
  listeners: { ssl: Record<string, TlsListenerView>; ws: Record<string, ListenerView>; wss: Record<string, TlsListenerView> };
  authentication: AuthenticationConfig;
  authorization: AuthorizationConfig;
  flapping_detect: FlappingConfig;
  banned: BannedConfig;
  limiter: LimiterConfig;
  psk_authentication: PskAuthenticationConfig;
  /** Gateway DTLS listeners' certificate mappings are read from here (gateway.<name>.listeners.dtls.<id>). */
  gateway?: object;
}
