// [gateway.mqttsn]: EMQX 5 knobs (gateways/mqttsn/SPEC.md §9) plus Outpost's listener, sleep and
// compatibility switches. Every object is strict; defaults live here only.
import { z } from 'zod';
import { millisecondsFrom, secondsFrom, splitListenerBind } from '../gateway.js';
import { dtlsListenersSchema } from '../transport/dtls-config.js';

// EMQX's `bind = "0.0.0.0:5683"` (or a bare port) sets `port` too; `bind` + `port` apart still work.
const withBind = <S extends z.ZodType>(s: S) => z.preprocess(splitListenerBind('0.0.0.0'), s);

const port = z.number().int().min(0).max(65535);
/** Seconds; EMQX duration strings ("30s", "2h") are read too. */
const seconds = (n: z.ZodNumber = z.number().min(0)) => z.preprocess(secondsFrom(false), n);

const udpListenerSchema = z.strictObject({
  enable: z.boolean().default(true),
  /** IPv4 or IPv6 address; '::' listens on both families where the OS allows. */
  bind: z.string().min(1).default('0.0.0.0'),
  port: port.default(1884),
  /** Accept Forwarder Encapsulation (MQTT-SN 1.2 §5.5): each wireless node is its own client. */
  forwarder: z.boolean().default(true),
  /** 0 = unlimited. */
  max_connections: z.number().int().min(0).default(1024000),
});

const serialListenerSchema = z.strictObject({
  enable: z.boolean().default(true),
  device: z.string().min(1),
  baud_rate: z.number().int().min(50).default(115200),
  /** The line carries Forwarder Encapsulation (one client per node id) instead of a single device. */
  forwarder: z.boolean().default(false),
  /** Milliseconds of silence after which a partial message on the line is dropped. */
  frame_timeout: z.preprocess(millisecondsFrom, z.number().int().min(1)).default(500),
  /** Seconds between attempts to reopen a device that went away; 0 = never. */
  // Re-armed with setTimeout, whose range ends at 2^31-1 ms (~24.8 days).
  reopen_interval: seconds(z.number().min(0).max(2_147_483)).default(5),
});

const predefinedSchema = z.strictObject({
  /** EMQX reserves 1..1024 for predefined ids; dynamic ids start at 1025 (spec §2). */
  id: z.number().int().min(1).max(1024),
  topic: z.string().min(1),
  /** Only for this client id; without it the id is global. */
  clientid: z.string().min(1).optional(),
});

export const mqttsnConfigSchema = z
  .strictObject({
    enable: z.boolean().default(false),
    /** GwId in GWINFO and ADVERTISE. */
    gateway_id: z.number().int().min(0).max(255).default(1),
    /** Prefix for every topic on the MQTT side; may use ${clientid} and ${username}. */
    mountpoint: z.string().default(''),
    /** Accept QoS -1 publishes (connected or not). */
    enable_qos3: z.boolean().default(true),
    /** QoS -1 from devices that never connected, to predefined ids and short names (spec §6). */
    qos3_unconnected: z.boolean().default(true),
    /** On a resumed session, REGISTER every subscribed topic before replaying messages (spec §5.4). */
    subs_resume: z.boolean().default(false),
    predefined: z.array(predefinedSchema).default([]),
    /** Seconds a channel may exist without CONNECT (and idle sweep period). */
    idle_timeout: seconds().default(30),
    /** Keepalive timeout = multiplier x the CONNECT Duration (MQTT-SN 1.2 §6.6 recommends 1.5). */
    keepalive_multiplier: z.number().min(1).default(1.5),
    /** Session expiry for CleanSession=0 devices (EMQX hard-codes 2 h). */
    session_expiry_interval: seconds().default(7200),
    /** Longest client id accepted; MQTT-SN 1.2 says 23, EMQX accepts longer ones. */
    max_clientid_len: z.number().int().min(1).max(65535).default(65535),
    /**
     * MQTT-SN carries no credentials: build them for authentication from templates with
     * ${clientid} (EMQX clientinfo_override), e.g. username = "${clientid}", password = "secret".
     */
    clientinfo_override: z
      .strictObject({
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .prefault({}),
    /** EMQX publishes the will on a clean DISCONNECT too; the MQTT-SN spec does not (spec §3.1). */
    will_on_disconnect: z.boolean().default(true),
    sleep: z
      .strictObject({
        /** Sleep timeout = multiplier x the DISCONNECT Duration (EMQX: exactly the duration). */
        timeout_multiplier: z.number().min(1).default(1),
        /** Publish the will when a sleeping device misses its wake-up (spec: yes; EMQX 5.8.9: no). */
        will_on_timeout: z.boolean().default(false),
        /** Longest sleep accepted, seconds; 0 = the 16-bit maximum. */
        max_duration: seconds().default(0),
      })
      .prefault({}),
    retry: z
      .strictObject({
        /** Gateway REGISTER: wait this long for REGACK, resend up to max times (EMQX: 5 s x 3). */
        register_interval: seconds().default(5),
        register_max: z.number().int().min(0).default(3),
        /** QoS 1/2 deliveries: MQTT-SN T_retry (10-15 s) and N_retry (3-5), §6.13. */
        publish_interval: seconds().default(10),
        publish_max: z.number().int().min(0).default(3),
      })
      .prefault({}),
    /** QoS 2 publishes from a device awaiting PUBREL; more get PUBACK 0x01 (congestion). */
    max_awaiting_rel: z.number().int().min(0).default(100),
    /** Seconds after which a QoS 2 publish still awaiting PUBREL stops counting against max_awaiting_rel. */
    await_rel_timeout: seconds().default(300),
    advertise: z
      .strictObject({
        /** Periodic ADVERTISE (EMQX `broadcast`). */
        enable: z.boolean().default(false),
        /** Seconds between ADVERTISEs (T_ADV, spec: > 15 min); also the Duration field. */
        interval: z.number().int().min(1).max(65535).default(900),
        /** Destination port (EMQX: 1884 regardless of the listener port). */
        port: port.default(1884),
        /** Interface names whose IPv4 broadcast address is used; empty = all non-internal ones. */
        interfaces: z.array(z.string()).default([]),
        /** Extra destination addresses (unicast or broadcast). */
        addresses: z.array(z.string()).default([]),
      })
      .prefault({}),
    listeners: z
      .strictObject({
        udp: z.record(z.string(), withBind(udpListenerSchema)).default({ default: udpListenerSchema.parse({}) }),
        serial: z.record(z.string(), serialListenerSchema).default({}),
        /** MQTT-SN over DTLS 1.2 (EMQX's gateway dtls listener; 1885 by convention). */
        dtls: dtlsListenersSchema(1885),
      })
      .prefault({}),
  })
  .prefault({});

export type MqttsnConfig = z.infer<typeof mqttsnConfigSchema>;
