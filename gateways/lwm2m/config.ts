// [gateway.lwm2m]: EMQX 5's keys (specs/lwm2m-gateway.md B.1) plus Outpost's listener and
// compatibility switches. Durations are seconds, as everywhere in Outpost's config.
import { z } from 'zod';
import { dtlsListenersSchema } from '../transport/dtls-config.js';
import { splitListenerBind } from '../gateway.js';

// EMQX's `bind = "0.0.0.0:5683"` (or a bare port) sets `port` too; `bind` + `port` apart still work.
const withBind = <S extends z.ZodType>(s: S) => z.preprocess(splitListenerBind('0.0.0.0'), s);

const seconds = z.number().min(0);
const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

const translator = (topic: string, q: 0 | 1 = 0) => z.strictObject({ topic: z.string().min(1).default(topic), qos: qos.default(q) }).prefault({});

const udpListenerSchema = z.strictObject({
  enable: z.boolean().default(true),
  /** IPv4 or IPv6 address to bind. */
  bind: z.string().min(1).default('0.0.0.0'),
  /** EMQX's LwM2M port (5783), not the IANA CoAP port, so EMQX devices move over unchanged. */
  port: z.number().int().min(0).max(65535).default(5783),
  /** 0 = unlimited. */
  max_connections: z.number().int().min(0).default(1024000),
});

export const lwm2mConfigSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    /** Directory of OMA object definition XML files; empty = the objects shipped with Outpost. */
    xml_dir: z.string().default(''),
    /** Accepted but, as in EMQX 5.8.9, not enforced. */
    lifetime_min: seconds.default(15),
    /** Lifetime used for `lt=0`. */
    lifetime_max: seconds.default(86400),
    /** A queue-mode device is reachable this long after its last message (EMQX default 22 s). */
    qmode_time_window: seconds.default(22),
    /** Observe every registered object with an XML definition except 0,1,2,4,5,6,7,9,15 (B.6). */
    auto_observe: z.boolean().default(false),
    /** 'always' publishes every update event; 'contains_object_list' only those carrying an object list. */
    update_msg_publish_condition: z.enum(['always', 'contains_object_list']).default('always'),
    mountpoint: z.string().default('lwm2m/${endpoint_name}/'),
    /** A UDP peer that never registers is forgotten after this many seconds. */
    idle_timeout: seconds.default(30),
    translators: z
      .strictObject({
        /**
         * QoS of the gateway's dn subscription. 1 (EMQX: 0) keeps every command the app published at
         * QoS 1 in the device's session, in the store, until the device has answered it.
         */
        command: translator('dn/#', 1),
        response: translator('up/resp'),
        notify: translator('up/notify'),
        register: translator('up/register'),
        update: translator('up/update'),
      })
      .prefault({}),
    listeners: z
      .strictObject({
        udp: z.record(z.string(), withBind(udpListenerSchema)).default({ default: udpListenerSchema.parse({}) }),
        /** LwM2M over DTLS 1.2 (coaps, EMQX's port 5784); PSK_WITH_AES_128_CCM_8 is the suite LwM2M devices must support. */
        dtls: dtlsListenersSchema(5784),
      })
      .prefault({}),
    /** Client-initiated bootstrap (POST /bs) from the device registry in the store (EMQX has none: 4.04). */
    bootstrap: z
      .strictObject({
        enable: z.boolean().default(false),
        /** The LwM2M server URI written to devices; empty = coap://{listener address}:{listener port}. */
        server_uri: z.string().default(''),
        /** Lifetime (s) and binding written into the Server object. */
        lifetime: z.number().int().min(1).default(300),
        binding: z.string().min(1).default('U'),
        short_server_id: z.number().int().min(1).max(65534).default(1),
        /** Bootstrap endpoints not in the registry too, with a NoSec account. */
        allow_unknown: z.boolean().default(false),
        /** Devices written into the registry (table lwm2m_bootstrap) at start and reload. */
        devices: z
          .array(
            z.strictObject({
              endpoint: z.string().min(1),
              security_mode: z.enum(['nosec', 'psk']).default('nosec'),
              psk_identity: z.string().optional(),
              /** Hex. */
              psk_key: z.string().regex(/^([0-9a-fA-F]{2})*$/, 'must be hex').optional(),
              server_uri: z.string().optional(),
              lifetime: z.number().int().min(1).optional(),
            }),
          )
          .default([]),
      })
      .prefault({}),
    /** EMQX 5.8.9's observable behaviours, for apps and devices that depend on them. */
    emqx_compat: z
      .strictObject({
        /** An Update from an address other than the registration's gets 4.04 (EMQX); default: accepted by location. */
        update_requires_same_address: z.boolean().default(false),
        /** `lwm2m=1.2` is refused with 4.00 (EMQX); default: served with 1.1 features. */
        refuse_lwm2m_1_2: z.boolean().default(false),
        /** `lt` is mandatory (EMQX: 4.00 "Login Failed: invalid queries"); default: 86400 when absent. */
        require_lt: z.boolean().default(false),
        /** Read answers for objects without an XML definition are 4.00 bad_request (EMQX); default: raw values as base64. */
        unknown_object_bad_request: z.boolean().default(false),
        /** A second Register from the same address is answered 2.04 Changed (EMQX); default: 2.01 Created. */
        reregister_changed: z.boolean().default(false),
        /** Notifications under object 5 go to `{mountpoint}/v1/up/dm` (EMQX). */
        firmware_notify_topic: z.boolean().default(true),
      })
      .prefault({}),
  })
  .prefault({});

export type Lwm2mConfig = z.infer<typeof lwm2mConfigSchema>;
