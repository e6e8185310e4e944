// [listeners.ssl.<name>], [listeners.ws.<name>], [listeners.wss.<name>] as in EMQX 5 (ports 8883,
// 8083, 8084). The plain TCP listener is [mqtt]. Every listener is declared off: a TLS listener
// needs certificates, and fixed ports would collide when several daemons run side by side.
import { z } from 'zod';
import { bytesFrom, infinityAsZero, secondsFrom, splitListenerBind } from '../../core/units.js';

const port = z.number().int().min(0).max(65535);
const RATE_RE = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)\s*$/i;
const connRate = z
  .string()
  .refine((s) => s === 'infinity' || RATE_RE.test(s), { message: 'expected "infinity" or a rate like "1000/s"' });
const certAs = z.enum(['disabled', 'cn', 'dn', 'san']).default('disabled');

export const TLS_VERSIONS = ['tlsv1.3', 'tlsv1.2', 'tlsv1.1', 'tlsv1'] as const;

export const sslOptionsSchema = z
  .strictObject({
    certfile: z.string().default(''),
    keyfile: z.string().default(''),
    /** CA bundle used to verify client certificates (verify_peer). */
    cacertfile: z.string().default(''),
    /** Passphrase of an encrypted keyfile. */
    password: z.string().default(''),
    /** Accepted versions; the lowest and highest set the range (EMQX default tlsv1.3 + tlsv1.2). */
    versions: z.array(z.enum(TLS_VERSIONS)).min(1).default(['tlsv1.3', 'tlsv1.2']),
    /** OpenSSL cipher names (TLS 1.2 and 1.3 alike); empty = Node's defaults. */
    ciphers: z.array(z.string().min(1)).default([]),
    verify: z.enum(['verify_none', 'verify_peer']).default('verify_none'),
    /** With verify_peer: refuse clients that send no certificate (mTLS). */
    fail_if_no_peer_cert: z.boolean().default(false),
    /** Seconds for the TLS handshake. */
    handshake_timeout: z.preprocess(secondsFrom(false), z.number().min(0.1)).default(15),
  })
  .prefault({});

export const websocketSchema = z
  .strictObject({
    mqtt_path: z.string().startsWith('/').default('/mqtt'),
    /** Offered subprotocols we accept (MQTT.js sends "mqtt" for v3.1.1/v5 and "mqttv3.1" for v3.1). */
    supported_subprotocols: z.array(z.string().min(1)).default(['mqtt', 'mqttv3.1', 'mqttv5', 'mqtt-v3', 'mqtt-v3.1.1', 'mqtt-v5']),
    /** Refuse the upgrade when the client offers none of them (EMQX default true). */
    fail_if_no_subprotocol: z.boolean().default(true),
    /** Largest WebSocket message in bytes; 0 = mqtt.max_packet_size + 5 (one largest MQTT packet). */
    max_frame_size: z.preprocess(bytesFrom, z.number().int().min(0)).default(0),
    check_origin_enable: z.boolean().default(false),
    check_origins: z.array(z.string()).default([]),
    /** Behind a reverse proxy: take the client address from this header (e.g. "x-forwarded-for"); empty = off. */
    proxy_address_header: z.string().default(''),
  })
  .prefault({});

const base = {
  enable: z.boolean().default(true),
  bind: z.string().min(1).default('0.0.0.0'),
  /** 0 = infinity (also written "infinity", as EMQX does). */
  max_connections: z.preprocess(infinityAsZero, z.number().int().min(0)).default(0),
  /** New connections per time (EMQX "1000/s"); excess connections wait before they are served. */
  max_conn_rate: connRate.default('infinity'),
  peer_cert_as_username: certAs,
  peer_cert_as_clientid: certAs,
};

// bind = "0.0.0.0:8883" or bind = 8883 (EMQX's form) sets port too; bind = "0.0.0.0" plus port still works.
const withBind = <S extends z.ZodType>(s: S) => z.preprocess(splitListenerBind('0.0.0.0'), s);
/** An enabled TLS listener needs its certificate and key, so check-config refuses what start would. */
function requireCert(l: { enable: boolean; ssl_options: { certfile: string; keyfile: string } }, ctx: z.core.$RefinementCtx<unknown>): void {
  if (!l.enable) return;
  for (const k of ['certfile', 'keyfile'] as const) {
    if (l.ssl_options[k] === '') ctx.addIssue({ code: 'custom', path: ['ssl_options', k], message: 'required when the listener is enabled' });
  }
}
export const sslListenerSchema = withBind(z.strictObject({ ...base, port: port.default(8883), ssl_options: sslOptionsSchema }).superRefine(requireCert));
export const wsListenerSchema = withBind(z.strictObject({ ...base, port: port.default(8083), websocket: websocketSchema }));
export const wssListenerSchema = withBind(z.strictObject({ ...base, port: port.default(8084), ssl_options: sslOptionsSchema, websocket: websocketSchema }).superRefine(requireCert));

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'listener names are letters, digits, _ and -');

export const listenersSchema = z
  .strictObject({
    ssl: z.record(name, sslListenerSchema).prefault({ default: { enable: false } }),
    ws: z.record(name, wsListenerSchema).prefault({ default: { enable: false } }),
    wss: z.record(name, wssListenerSchema).prefault({ default: { enable: false } }),
  })
  .prefault({});

export const listenersConfigShape = { listeners: listenersSchema };

export type SslOptions = z.infer<typeof sslOptionsSchema>;
export type WebsocketOptions = z.infer<typeof websocketSchema>;
export type SslListenerConfig = z.infer<typeof sslListenerSchema>;
export type WsListenerConfig = z.infer<typeof wsListenerSchema>;
export type WssListenerConfig = z.infer<typeof wssListenerSchema>;
export type ListenersConfig = z.infer<typeof listenersSchema>;
