// [gateway.exproto]: EMQX 5's ExProto knobs (gateways/exproto/SPEC.md §5) in Outpost's shape:
// listeners as [gateway.exproto.listeners.<tcp|ssl|udp|dtls>.<id>] with bind + port, durations in
// seconds. Every object is strict; defaults live here only.
import { z } from 'zod';
import { dtlsListenersSchema } from '../transport/dtls-config.js';
import { splitListenerBind } from '../gateway.js';

// EMQX's `bind = "0.0.0.0:5683"` (or a bare port) sets `port` too; `bind` + `port` apart still work.
const withBind = <S extends z.ZodType>(s: S) => z.preprocess(splitListenerBind('0.0.0.0'), s);

const port = z.number().int().min(0).max(65535);
const seconds = z.number().positive();

/** EMQX ssl_options for a device listener or the adapter server. */
const serverSslSchema = z.strictObject({
  certfile: z.string().min(1),
  keyfile: z.string().min(1),
  cacertfile: z.string().optional(),
  password: z.string().optional(),
  versions: z.array(z.enum(['tlsv1.2', 'tlsv1.3'])).optional(),
  ciphers: z.array(z.string()).optional(),
  verify: z.enum(['verify_none', 'verify_peer']).default('verify_none'),
  fail_if_no_peer_cert: z.boolean().default(false),
});

const streamListenerSchema = z.strictObject({
  enable: z.boolean().default(true),
  bind: z.string().min(1).default('0.0.0.0'),
  port: port.default(7993),
  /** 0 = unlimited. */
  max_connections: z.number().int().min(0).default(1024000),
});

const sslListenerSchema = streamListenerSchema.extend({ ssl_options: serverSslSchema });

const udpListenerSchema = z.strictObject({
  enable: z.boolean().default(true),
  bind: z.string().min(1).default('0.0.0.0'),
  port: port.default(7993),
  max_connections: z.number().int().min(0).default(1024000),
});

/** host:port or [v6]:port; port 0 binds an ephemeral port (tests). */
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):\d{1,5}$/, 'must be host:port, e.g. "127.0.0.1:9100"');

export const exprotoConfigSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    /** Prefix for every MQTT topic; may use ${clientid} and ${username}. */
    mountpoint: z.string().default(''),
    /**
     * UDP: a peer is dropped after this long without a datagram unless the handler started a
     * keepalive timer. TCP/SSL: the longest wait for the first bytes (EMQX).
     */
    idle_timeout: seconds.default(30),
    server: z
      .strictObject({
        /**
         * Where the gateway serves ConnectionAdapter. EMQX's examples use 0.0.0.0:9100; the adapter
         * has no authentication of its own, so Outpost listens on loopback unless told otherwise.
         */
        bind: hostPort.default('127.0.0.1:9100'),
        ssl_options: serverSslSchema.extend({ enable: z.boolean().default(true) }).optional(),
      })
      .prefault({}),
    handler: z
      .strictObject({
        /** URL of the user's ConnectionUnaryHandler; https:// (or ssl_options.enable) means TLS. */
        address: z.string().regex(/^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):\d{1,5}\/?$/, 'must be a URL like "http://127.0.0.1:9001"').default('http://127.0.0.1:9001'),
        /**
         * ConnectionUnaryHandler (one call per event, in order per connection) or EMQX's deprecated
         * ConnectionHandler (one long-lived client stream per rpc: events of different rpcs may overtake
         * each other, and a write is done once sent, not once handled).
         */
        service_name: z.enum(['ConnectionUnaryHandler', 'ConnectionHandler']).default('ConnectionUnaryHandler'),
        /** Deadline of each call to the handler; a call past it closes that device connection. */
        request_timeout: seconds.default(10),
        /**
         * Calls to the handler in flight at once across all connections (each connection has at most
         * one); more wait their turn, within request_timeout. Bounds the load a burst puts on a small box.
         */
        max_concurrent_calls: z.number().int().min(1).default(256),
        /** Reconnection to the handler: exponential backoff with jitter between these bounds. */
        reconnect: z
          .strictObject({
            initial_backoff: seconds.default(1),
            max_backoff: seconds.default(30),
          })
          .prefault({}),
        ssl_options: z
          .strictObject({
            enable: z.boolean().default(false),
            verify: z.enum(['verify_none', 'verify_peer']).default('verify_peer'),
            cacertfile: z.string().optional(),
            certfile: z.string().optional(),
            keyfile: z.string().optional(),
            server_name_indication: z.string().optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Handler events waiting per connection behind the one in flight; more closes the device (handler too slow). */
    max_queued_events: z.number().int().min(1).default(1000),
    listeners: z
      .strictObject({
        tcp: z.record(z.string(), withBind(streamListenerSchema)).default({ default: streamListenerSchema.parse({}) }),
        ssl: z.record(z.string(), withBind(sslListenerSchema)).default({}),
        udp: z.record(z.string(), withBind(udpListenerSchema)).default({}),
        /** Datagrams over DTLS 1.2 (EMQX's exproto dtls listener): PSK or certificates, as the other UDP gateways. */
        dtls: dtlsListenersSchema(7993),
      })
      .prefault({}),
  })
  .prefault({});

export type ExprotoConfig = z.infer<typeof exprotoConfigSchema>;
