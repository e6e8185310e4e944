// [gateway.coap]: the CoAP gateway's config section (gateways/coap/SPEC.md §1). Durations are
// seconds or EMQX duration strings ("30s"), as everywhere in Outpost's config. Defaults are
// spec-correct; the [gateway.coap.emqx_compat] switches reproduce EMQX 5.8.9's observable quirks for
// devices that depend on them.
import { z } from 'zod';
import { bytesFrom, secondsFrom, splitListenerBind } from '../gateway.js';
import { dtlsListenersSchema } from '../transport/dtls-config.js';

// EMQX's `bind = "0.0.0.0:5683"` (or a bare port) sets `port` too; `bind` + `port` apart still work.
const withBind = <S extends z.ZodType>(s: S) => z.preprocess(splitListenerBind('0.0.0.0'), s);

/** Seconds; EMQX duration strings ("30s", "2m") are read too. */
const seconds = (n: z.ZodNumber = z.number().positive()) => z.preprocess(secondsFrom(false), n);
const qosMode = z.enum(['qos0', 'qos1', 'qos2', 'coap']);

export const coapUdpListenerSchema = z.strictObject({
  enable: z.boolean().default(true),
  /** IPv4 or IPv6 address to bind. */
  bind: z.string().min(1).default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(5683),
});

// Outpost before the gateway framework had one listener at `listeners.udp.{enable,bind,port}`.
// EMQX 5's shape is `listeners.<type>.<id>`: the old keys are refused with the key to use instead.
const LEGACY_LISTENER_KEYS = ['enable', 'bind', 'port'];

const coapUdpListenersSchema = z.preprocess(
  (v, ctx) => {
    if (v !== null && typeof v === 'object') {
      for (const k of LEGACY_LISTENER_KEYS) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined && (x === null || typeof x !== 'object')) {
          ctx.addIssue({ code: 'custom', path: [k], input: x, message: `moved: use gateway.coap.listeners.udp.default.${k} (EMQX 5's listeners.<type>.<id> form)` });
        }
      }
    }
    return v;
  },
  z.record(z.string(), withBind(coapUdpListenerSchema)).default({ default: coapUdpListenerSchema.parse({}) }),
);

export const coapBlockwiseSchema = z
  .strictObject({
    /** RFC 7959 Block1 (device -> gateway) and Block2 (gateway -> device) transfers. */
    enable: z.boolean().default(true),
    /** Largest block the gateway sends; payloads above it go block-wise. A power of two, 16..1024. */
    max_block_size: z
      .number()
      .int()
      .refine((n) => n >= 16 && n <= 1024 && (n & (n - 1)) === 0, 'must be a power of two between 16 and 1024')
      .default(1024),
    /** Largest body reassembled from Block1; bigger uploads get 4.13 with Size1 (RFC 7959 §2.9.3). */
    max_body_size: z.preprocess(bytesFrom, z.number().int().min(16)).default(4 * 1024 * 1024),
    /** Seconds an unfinished transfer is kept (RFC 7252 EXCHANGE_LIFETIME). */
    exchange_lifetime: seconds().default(247),
  })
  .prefault({});

export const coapCompatSchema = z
  .strictObject({
    /** EMQX 5.8.9 reads a misspelt key and always sends NON notifications, whatever notify_type says. */
    always_non_notify: z.boolean().default(false),
    /**
     * EMQX marks CoAP subscriptions as not new, so retained messages come only with ?rh=0.
     * Spec-correct (false): a new observation gets the retained messages as its first notifications.
     */
    retained_only_with_rh0: z.boolean().default(false),
    /** EMQX 5.8.9 answers a failed login with 4.00; the docs (and we, by default) say 4.01. */
    login_failure_bad_request: z.boolean().default(false),
    /** EMQX keeps an observation when the device answers a notification with RST; RFC 7641 §3.6 cancels it. */
    rst_keeps_observation: z.boolean().default(false),
  })
  .prefault({});

export const coapConfigSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    /** Prefix for every MQTT topic; ${clientid} and ${username} are expanded per device by the broker host. */
    mountpoint: z.string().default(''),
    /** Keepalive interval of every channel; the channel closes after heartbeat x keepalive_multiplier of silence. */
    heartbeat: seconds().default(30),
    keepalive_multiplier: z.number().min(1).default(1.5),
    connection_required: z.boolean().default(false),
    notify_type: z.enum(['non', 'con', 'qos']).default('qos'),
    subscribe_qos: qosMode.default('coap'),
    publish_qos: qosMode.default('coap'),
    /** A connection-mode channel that has not finished logging in by then is dropped. */
    idle_timeout: seconds().default(30),
    /** At most this many CON notifications wait behind the one outstanding; the oldest is dropped and counted. */
    notify_queue_len: z.number().int().min(1).default(100),
    max_connections: z.number().int().min(1).default(1024000),
    blockwise: coapBlockwiseSchema,
    listeners: z
      .strictObject({
        udp: coapUdpListenersSchema,
        /** CoAP over DTLS 1.2 (RFC 7252 §9, coaps://), EMQX's port 5684. */
        dtls: dtlsListenersSchema(5684),
      })
      .prefault({}),
    emqx_compat: coapCompatSchema,
  })
  .prefault({});

export type CoapConfig = z.infer<typeof coapConfigSchema>;
