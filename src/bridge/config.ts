// The `bridges` config section: one internal model for every bridge (src/bridge/SPEC.md §6),
// whatever style it was written in. A bridge is either written natively:
//
//   [bridges.cloud]
//   servers = ["cloud.example.com:8883", "backup.example.com:8883"]   # primary first, then failover
//   proto_ver = "v5"                                 # v3 (3.1) | v4 (3.1.1) | v5
//   clientid = "site1-edge"                          # stable; default "<node.name>:<bridge name>"
//   clean_start = false                              # keep the remote session (ingress survives our downtime)
//   tls = { enable = true, ca_file = "/etc/outpost/ca.pem" }
//   [[bridges.cloud.egress]]                         # local -> remote
//   filter = "sensors/#"
//   topic = "site1/${topic}"                         # ${topic} ${qos} ${retain} ${flags.retain} ${clientid}
//   [[bridges.cloud.ingress]]                        # remote -> local
//   filter = "$share/edge/site1/cmd/#"
//   strip_prefix = "site1/"
//   topic = "cmd/${topic}"
//
// or as one of the compatible blocks, translated into the same model before validation (any native
// key given next to it, e.g. `buffer` or `replay`, overrides the translated value):
//   emqx = { connector = {...}, actions = {...}, sources = {...}, rules = {...} }   EMQX 5.4+ (HOCON keys as TOML)
//   emqx = { server = "...", egress = {...}, ingress = {...} }                       EMQX 5.0–5.3
//   nanomq = { server = "mqtt-tcp://...", forwards = [...], subscription = [...] }   NanoMQ
//   mosquitto = """connection cloud\naddress ...\ntopic sensors/# out 1 "" site1/"""   Mosquitto lines
//   mosquitto_file = "/etc/mosquitto/conf.d/bridge.conf"                             the same, from a file
//   emqx = """connectors.mqtt.cloud { server = "…" } actions.mqtt.up { … } …"""         EMQX HOCON text (or emqx_file)
//   nanomq = """bridges.mqtt.cloud { server = "mqtt-tcp://…", forwards = [...] }"""    NanoMQ HOCON text (or nanomq_file)
// A HOCON text holds exactly one connector (EMQX) or one bridges.mqtt.<name> (NanoMQ, EMQX 5.0–5.3).
import { z } from 'zod';
import { bytesFrom, secondsFrom } from '../core/units.js';
import { translateCompat } from './compat/index.js';
import { parseServer } from './address.js';
import { findLoops, templateProblems } from './loop-check.js';

/** Seconds; EMQX duration strings ("500ms", "15s", "2h") are read too. */
const seconds = (n: z.ZodNumber = z.number().min(0)) => z.preprocess(secondsFrom(false), n);
const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);

/** Topic templates: ${topic} (after strip_prefix), ${qos}, ${retain} / ${flags.retain}, ${clientid}, ${username}, ${match.N} / ${match.#} (wildcard captures). */
const topicTemplate = z.string().min(1);

export const egressMappingSchema = z.strictObject({
  /** Local topic filter whose messages are forwarded. */
  filter: z.string().min(1),
  /** Removed from the start of the local topic before ${topic} is substituted (Mosquitto local-prefix). */
  strip_prefix: z.string().default(''),
  /** Remote topic template. */
  topic: topicTemplate.default('${topic}'),
  prefix: z.string().default(''),
  suffix: z.string().default(''),
  /** Fixed QoS towards the remote or "${qos}" to inherit the published QoS. */
  qos: z.union([qos, z.literal('${qos}')]).default('${qos}'),
  /** Fixed retain flag or "${retain}" / "${flags.retain}" to inherit it. */
  retain: z.union([z.boolean(), z.literal('${retain}'), z.literal('${flags.retain}')]).default('${retain}'),
  /** "${payload}" forwards the bytes; "" sends EMQX's rule-output JSON; anything else is a string template. */
  payload: z.string().default('${payload}'),
});

export const ingressMappingSchema = z.strictObject({
  /** Remote topic filter to subscribe to; $share/{group}/… allowed. */
  filter: z.string().min(1),
  /** Subscription QoS on the remote. */
  qos: qos.default(1),
  /** MQTT 5 no-local on the remote subscription (loop prevention when the remote also feeds itself). */
  no_local: z.boolean().default(true),
  strip_prefix: z.string().default(''),
  /** Local topic template. */
  topic: topicTemplate.default('${topic}'),
  prefix: z.string().default(''),
  suffix: z.string().default(''),
  /** QoS of the local publish: fixed or "${qos}" (as received). */
  local_qos: z.union([qos, z.literal('${qos}')]).default('${qos}'),
  retain: z.union([z.boolean(), z.literal('${retain}'), z.literal('${flags.retain}')]).default('${retain}'),
});

export const bridgeSchema = z
  .strictObject({
    enable: z.boolean().default(true),
    /** "host:port", "mqtt://host:port", "mqtts://host:port" (TLS) — first is primary, the rest failover in order. */
    servers: z.array(z.string().min(1)).min(1),
    proto_ver: z.enum(['v3', 'v4', 'v5']).default('v4'),
    /** Stable client id so a clean_start=false session is resumed across restarts; default "<node.name>:<bridge>". */
    clientid: z.string().min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    clean_start: z.boolean().default(false),
    /** v5 Session-Expiry-Interval sent in CONNECT, seconds (v3/v4: the broker's own setting applies). */
    session_expiry_interval: z.preprocess(secondsFrom(true), z.number().int().min(0).max(0xffffffff)).default(7200),
    keepalive: z.preprocess(secondsFrom(true), z.number().int().min(0).max(65535)).default(60),
    /** v3/v4 "bridge" bit (protocol level | 0x80): Mosquitto/EMQX do not echo our messages back and keep retain as published. */
    bridge_mode: z.boolean().default(true),
    connect_timeout: seconds().default(10),
    tls: z
      .strictObject({
        enable: z.boolean().default(false),
        ca_file: z.string().optional(),
        cert_file: z.string().optional(),
        key_file: z.string().optional(),
        /** SNI and the name verified against the certificate; default the server host. */
        server_name: z.string().optional(),
        verify: z.boolean().default(true),
      })
      .prefault({}),
    egress: z.array(egressMappingSchema).default([]),
    ingress: z.array(ingressMappingSchema).default([]),
    /** The durable outbound log (table bridge_log in the store). Limits apply to queued + in-flight. */
    buffer: z
      .strictObject({
        max_messages: z.number().int().min(1).default(1_000_000),
        max_bytes: z.preprocess(bytesFrom, z.number().int().min(1024)).default(256 * 1024 * 1024),
        /** drop_oldest (default) drops the oldest queued entry; drop_newest refuses the new message. */
        overflow: z.enum(['drop_oldest', 'drop_newest']).default('drop_oldest'),
        /** QoS 0: "store" logs it like QoS 1/2; "drop_offline" forwards only while connected with room in the window. */
        qos0: z.enum(['store', 'drop_offline']).default('store'),
        /** Extra cap on queued QoS 0 entries (0 = only the shared caps); a QoS 0 message above it is dropped. */
        max_qos0_messages: z.number().int().min(0).default(0),
        /** Optional time to live in seconds (0 = none). A v5 Message-Expiry-Interval is always honoured. */
        ttl: seconds().default(0),
      })
      .prefault({}),
    /**
     * Sending. Backlog and live traffic share one FIFO log, so replay after an outage is in publish
     * order and live messages queue behind it; the window and the rate shape both.
     */
    replay: z
      .strictObject({
        /** Unacknowledged QoS 1/2 publishes towards the remote (also capped by its v5 Receive-Maximum). */
        inflight: z.number().int().min(1).max(65535).default(32),
        /** Publishes per second towards the remote, 0 = unlimited. */
        rate: z.number().min(0).default(0),
        /** Resend unacked publishes (DUP) while connected after this many seconds; 0 = only on reconnect. */
        retry_interval: seconds().default(0),
        /** No acknowledgement for this many seconds while messages are in flight: the link is stalled, reconnect. */
        stall_timeout: seconds(z.number().min(1)).default(30),
      })
      .prefault({}),
    /** Decorrelated-jitter exponential backoff between connection attempts, seconds. */
    reconnect: z
      .strictObject({
        min: seconds(z.number().min(0.01)).default(1),
        max: seconds(z.number().min(0.01)).default(60),
      })
      .prefault({}),
    /** Publish the link state retained (1/0) on notification_topic. */
    notifications: z.boolean().default(true),
    /** Default $SYS/broker/connection/<bridge>/state (Mosquitto-compatible). */
    notification_topic: z.string().min(1).optional(),
    /** Accept a config where an ingress mapping's local topics overlap an egress filter of the same bridge. */
    allow_loop: z.boolean().default(false),
    /**
     * v5 only: tag forwarded messages with the user property `outpost-path` (node names) and never
     * forward or republish a message whose path names this node. For rings of several Outpost nodes.
     */
    loop_marker: z.boolean().default(false),
  })
  .superRefine((b, ctx) => {
    if (b.replay.inflight > b.buffer.max_messages) {
      ctx.addIssue({ code: 'custom', path: ['replay', 'inflight'], message: 'must not exceed buffer.max_messages' });
    }
    if (b.loop_marker && b.proto_ver !== 'v5') {
      ctx.addIssue({ code: 'custom', path: ['loop_marker'], message: 'needs proto_ver = "v5" (it travels as a user property)' });
    }
    if (b.reconnect.min > b.reconnect.max) {
      ctx.addIssue({ code: 'custom', path: ['reconnect', 'min'], message: 'must not exceed reconnect.max' });
    }
    b.servers.forEach((s, i) => {
      if (!parseServer(s, b.tls.enable)) ctx.addIssue({ code: 'custom', path: ['servers', i], message: `not a server address: "${s}" (host:port, mqtt://host:port or mqtts://host:port)` });
    });
    if ((b.tls.cert_file === undefined) !== (b.tls.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'cert_file and key_file go together' });
    }
    for (const t of templateProblems(b)) ctx.addIssue({ code: 'custom', path: t.path, message: t.message });
    if (!b.allow_loop) {
      for (const loop of findLoops(b)) {
        ctx.addIssue({
          code: 'custom',
          path: ['ingress', loop.ingress, 'topic'],
          message: `ingress writes local topics matching egress[${loop.egress}].filter "${loop.filter}", which would send them back upstream (set allow_loop = true if intended)`,
        });
      }
    }
  });

/** A bridge entry: compatible blocks are translated into the native shape first. */
const bridgeEntrySchema = z.preprocess((raw, ctx) => {
  const r = translateCompat(raw);
  for (const msg of r.problems) ctx.addIssue({ code: 'custom', message: msg, input: raw });
  return r.value;
}, bridgeSchema);

export const bridgesConfigShape = {
  bridges: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'bridge names use letters, digits, _ . -'), bridgeEntrySchema).default({}),
};

export type BridgeConfig = z.infer<typeof bridgeSchema>;
export type EgressMappingConfig = z.infer<typeof egressMappingSchema>;
export type IngressMappingConfig = z.infer<typeof ingressMappingSchema>;
