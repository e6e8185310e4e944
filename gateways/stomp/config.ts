// [gateway.stomp]: EMQX 5's knobs (gateways/stomp/SPEC.md §9) plus Outpost's extensions: a
// WebSocket listener, real acknowledgements for client ack modes, and heart-beat grace. Every
// object is strict; defaults live here only.
import { z } from 'zod';
import { splitListenerBind } from '../gateway.js';

// EMQX's `bind = "0.0.0.0:5683"` (or a bare port) sets `port` too; `bind` + `port` apart still work.
const withBind = <S extends z.ZodType>(s: S) => z.preprocess(splitListenerBind('0.0.0.0'), s);

const port = z.number().int().min(0).max(65535);
const seconds = z.number().min(0);

const sslOptionsSchema = z.strictObject({
  certfile: z.string().min(1),
  keyfile: z.string().min(1),
  /** CA bundle that verifies client certificates (verify_peer). */
  cacertfile: z.string().optional(),
  password: z.string().optional(),
  versions: z.array(z.enum(['tlsv1.2', 'tlsv1.3'])).min(1).default(['tlsv1.3', 'tlsv1.2']),
  ciphers: z.array(z.string()).default([]),
  verify: z.enum(['verify_none', 'verify_peer']).default('verify_none'),
  fail_if_no_peer_cert: z.boolean().default(false),
});

const listenerBase = {
  enable: z.boolean().default(true),
  bind: z.string().min(1).default('0.0.0.0'),
  /** 0 = unlimited. */
  max_connections: z.number().int().min(0).default(1024000),
};

const tcpListenerSchema = z.strictObject({ ...listenerBase, port: port.default(61613) });
const sslListenerSchema = z.strictObject({ ...listenerBase, port: port.default(61614), ssl_options: sslOptionsSchema });
const wsListenerSchema = z.strictObject({
  ...listenerBase,
  port: port.default(61615),
  path: z.string().startsWith('/').default('/stomp'),
  /** Comma-separated, in our order of preference (EMQX's MQTT websocket option's spelling). */
  supported_subprotocols: z.string().default('v12.stomp, v11.stomp, v10.stomp'),
  /** Refuse an upgrade that offers no subprotocol (stomp.js always offers them). */
  fail_if_no_subprotocol: z.boolean().default(false),
});

export const stompConfigSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    /** Prefix for every topic on the MQTT side; may use ${clientid} and ${username}. */
    mountpoint: z.string().default(''),
    /** Seconds a connection may stay without a CONNECT frame (and without any input before it). */
    idle_timeout: seconds.default(30),
    frame: z
      .strictObject({
        max_headers: z.number().int().min(1).default(10),
        /** Bytes of name + value of one header. */
        max_headers_length: z.number().int().min(16).default(1024),
        max_body_length: z.number().int().min(0).default(65536),
      })
      .prefault({}),
    /**
     * Credentials and client id from CONNECT headers: templates with ${Packet.headers.<name>}
     * (EMQX). Without a clientid template the client id is random.
     */
    clientinfo_override: z
      .strictObject({
        username: z.string().default('${Packet.headers.login}'),
        password: z.string().default('${Packet.headers.passcode}'),
        clientid: z.string().default(''),
      })
      .prefault({}),
    heartbeat: z
      .strictObject({
        /**
         * A client that promised to send every cx ms is dropped after grace x cx of silence
         * (EMQX drops on the second silent check, i.e. after 1.5-2 x cx; RabbitMQ after 2 x cx).
         */
        grace: z.number().min(1).default(2),
        /** Smallest interval, ms, we agree to (either way); smaller proposals are raised to it. */
        min_interval: z.number().int().min(0).default(0),
      })
      .prefault({}),
    /**
     * MQTT QoS of subscriptions with ack:client or ack:client-individual. 1 (default): the broker
     * keeps each MESSAGE until ACK, NACK redelivers it. 0: EMQX's behaviour (ACK/NACK are no-ops).
     */
    client_ack_qos: z.union([z.literal(0), z.literal(1)]).default(1),
    /** MESSAGEs awaiting ACK per connection; more wait in the session queue. */
    max_unacked: z.number().int().min(1).max(65535).default(1000),
    /**
     * Durable subscribers: a client whose id comes from clientinfo_override.clientid keeps its
     * session (subscriptions, unacknowledged and queued QoS 1 messages) this many seconds after it
     * disconnects; it gets them again, marked redelivered, once it re-SUBSCRIBEs to the same
     * destination. 0 (EMQX): every connection starts clean.
     */
    session_expiry_interval: seconds.default(0),
    /** Seconds an open transaction may live; older ones are dropped (EMQX: 60). */
    transaction_timeout: seconds.default(60),
    listeners: z
      .strictObject({
        tcp: z.record(z.string(), withBind(tcpListenerSchema)).default({ default: tcpListenerSchema.parse({}) }),
        ssl: z.record(z.string(), withBind(sslListenerSchema)).default({}),
        ws: z.record(z.string(), withBind(wsListenerSchema)).default({}),
      })
      .prefault({}),
  })
  .prefault({});

export type StompConfig = z.infer<typeof stompConfigSchema>;
