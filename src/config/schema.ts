// The config schema: the one place where defaults live. Components own their sections (each
// exports its zod shape from its folder); this file composes them. Every object is strict, so an
// unknown key is an error that names its dotted path.
import { z } from 'zod';
import { authConfigShape, rateSchema } from '../auth/config.js';
import { bridgesConfigShape } from '../bridge/config.js';
import { apiConfigShape } from '../admin/config.js';
import { listenersConfigShape } from '../mqtt/listeners/config.js';
import { gatewayConfigSchema } from '../../gateways/config.js';
import { bytesFrom, infinityAsZero, millisecondsFrom, secondsFrom, splitListenerBind } from '../core/units.js';

const port = z.number().int().min(0).max(65535);
/** Whole seconds; EMQX duration strings ("15s", "2h", "1d") are read too, rounded up to the second. */
const seconds = (n: z.ZodNumber = z.number().int().min(0)) => z.preprocess(secondsFrom(true), n);
/** Bytes; EMQX size strings ("64KB", "1MB") are read too. */
const bytes = (n: z.ZodNumber) => z.preprocess(bytesFrom, n);
/** 0 = no limit (or never), also written "infinity" as EMQX does. */
const orInfinity = <S extends z.ZodType>(s: S) => z.preprocess(infinityAsZero, s);
/** A repeating period: Node's setInterval takes at most 2^31-1 ms (~24.8 days) and fires every 1 ms past it. */
const period = seconds(z.number().int().min(0).max(2_147_483));

export const SHARED_STRATEGIES = ['random', 'round_robin', 'round_robin_per_group', 'sticky', 'local', 'hash_clientid', 'hash_topic'] as const;
export type SharedStrategy = (typeof SHARED_STRATEGIES)[number];

export const nodeSchema = z
  .strictObject({
    /** Node name in $SYS topics and the API (EMQX: emqx@127.0.0.1). */
    name: z.string().min(1).default('outpost@127.0.0.1'),
    /** Where the database and runtime files live; overridden by --data-dir. */
    data_dir: z.string().min(1).default('./data'),
  })
  .prefault({});

export const mqttSchema = z
  .preprocess(
    // bind = "127.0.0.1:1883" or bind = 1883 (EMQX's listeners.tcp.default.bind) sets port too.
    splitListenerBind('0.0.0.0'),
    z.strictObject({
      enable: z.boolean().default(true),
      bind: z.string().default('0.0.0.0'),
      port: port.default(1883),
      /** 0 = unlimited. */
      max_connections: orInfinity(z.number().int().min(0)).default(0),
      /** New connections per period on the TCP listener ("1000/s"); beyond it accepts are paced, not refused. */
      max_conn_rate: rateSchema.default('infinity'),
      max_packet_size: bytes(z.number().int().min(64).max(268435455)).default(1048576),
      max_clientid_len: z.number().int().min(23).max(65535).default(65535),
      max_topic_levels: z.number().int().min(1).max(65535).default(128),
      max_qos_allowed: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(2),
      max_topic_alias: z.number().int().min(0).max(65535).default(65535),
      retain_available: z.boolean().default(true),
      wildcard_subscription: z.boolean().default(true),
      shared_subscription: z.boolean().default(true),
      shared_subscription_strategy: z.enum(SHARED_STRATEGIES).default('round_robin'),
      /** Per-group strategy overrides: { group = "sticky" }. */
      shared_subscription_group: z.record(z.string(), z.enum(SHARED_STRATEGIES)).default({}),
      exclusive_subscription: z.boolean().default(false),
      /** Seconds a TCP connection may stay without CONNECT. */
      idle_timeout: z.preprocess(secondsFrom(false), z.number().min(0.1)).default(15),
      keepalive_multiplier: z.number().min(1).default(1.5),
      /** 0: honour the client's keepalive; otherwise the v5 Server-Keep-Alive to impose. */
      // EMQX writes the off state as "disabled".
      server_keepalive: z.preprocess((v) => (v === 'disabled' ? 0 : v), seconds(z.number().int().min(0).max(65535))).default(0),
      /** Clients asking for more get this back as v5 Server-Keep-Alive (v3: accepted as is). */
      max_keepalive: seconds(z.number().int().min(0).max(65535)).default(65535),
      max_inflight: z.number().int().min(0).max(65535).default(32),
      /** 0 = unlimited. */
      max_mqueue_len: orInfinity(z.number().int().min(0)).default(1000),
      /** Bytes of payload queued per session; 0 = unlimited. */
      max_mqueue_bytes: orInfinity(bytes(z.number().int().min(0))).default(0),
      mqueue_store_qos0: z.boolean().default(true),
      /**
       * Stop reading a publisher while a connected, acknowledging subscriber it feeds has a long queue
       * (TCP backpressure instead of queue_full drops); off gives EMQX's accept-then-drop behaviour.
       */
      publisher_flow_control: z.boolean().default(true),
      max_awaiting_rel: z.number().int().min(0).default(100),
      await_rel_timeout: seconds().default(300),
      /** Session expiry for v3 clients with clean session = 0 (EMQX: 2 h). */
      session_expiry_interval: seconds().default(7200),
      /** Largest session expiry accepted from v5 clients; 0 = no cap. */
      max_session_expiry_interval: orInfinity(seconds()).default(0),
      /** Default expiry for messages without a v5 Message-Expiry-Interval; 0 = never. */
      message_expiry_interval: orInfinity(seconds()).default(0),
      /** 0 = unlimited. */
      max_subscriptions: orInfinity(z.number().int().min(0)).default(0),
      upgrade_qos: z.boolean().default(false),
      ignore_loop_deliver: z.boolean().default(false),
      /** Resend unacked QoS 1/2 while connected after this many seconds; 0 = only on resume (EMQX 5.8). */
      retry_interval: seconds().default(0),
      use_username_as_clientid: z.boolean().default(false),
    }),
  )
  .prefault({});

export const storeSchema = z
  .strictObject({
    /** Database file, relative to node.data_dir. */
    file: z.string().min(1).default('outpost.db'),
    /**
     * NORMAL survives a crash of the process (kill -9); FULL also survives a power cut at the cost
     * of an fsync per commit (commits are grouped per tick, so per batch, not per message).
     */
    synchronous: z.enum(['OFF', 'NORMAL', 'FULL']).default('NORMAL'),
  })
  .prefault({});

export const retainerSchema = z
  .strictObject({
    enable: z.boolean().default(true),
    max_payload_size: bytes(z.number().int().min(0)).default(1048576),
    /** 0 = unlimited; when full, new topics are not retained (existing ones can be replaced). */
    max_retained_messages: orInfinity(z.number().int().min(0)).default(0),
    /** Expiry for retained messages without their own, seconds; 0 = never. */
    msg_expiry_interval: orInfinity(seconds()).default(0),
    stop_publish_clear_msg: z.boolean().default(false),
  })
  .prefault({});

export const sysTopicsSchema = z
  .strictObject({
    /** Seconds between stats/metrics publishes; 0 disables them. */
    sys_msg_interval: period.default(60),
    sys_heartbeat_interval: period.default(30),
    client_connected: z.boolean().default(true),
    client_disconnected: z.boolean().default(true),
    client_subscribed: z.boolean().default(false),
    client_unsubscribed: z.boolean().default(false),
  })
  .prefault({});

export const delayedSchema = z
  .strictObject({
    enable: z.boolean().default(true),
    max_delayed_messages: z.number().int().min(0).default(0),
  })
  .prefault({});

export const rewriteRuleSchema = z.strictObject({
  action: z.enum(['publish', 'subscribe', 'all']),
  source_topic: z.string().min(1),
  re: z.string().min(1),
  dest_topic: z.string().min(1),
});

/** EMQX's syslog-style level names -> pino's. */
const EMQX_LEVELS: Record<string, string> = { warning: 'warn', notice: 'info', critical: 'fatal', alert: 'fatal', emergency: 'fatal', all: 'trace', none: 'silent' };

export const logSchema = z
  .strictObject({
    /** pino's names, or EMQX's (warning, notice, critical, alert, emergency, all, none), read as the nearest pino level. */
    level: z.preprocess((v) => (typeof v === 'string' ? (EMQX_LEVELS[v] ?? v) : v), z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])).default('info'),
    /** EMQX log.console.formatter: "text" (level names, one line per event), "json", or "auto": text on a terminal, JSON otherwise (systemd). */
    format: z.enum(['auto', 'text', 'json']).default('auto'),
    /** Repeated warnings (e.g. queue drops) are written once per window with a count. */
    throttle_window: seconds().default(60),
  })
  .prefault({});

// --- alarms and system monitors (issue 22, API helper): EMQX's alarm.* and sysmon.os.* keys where
// EMQX has them; sysmon.vm.long_schedule is read as the event loop's lag; sysmon.disk, sysmon.bridge
// sysmon.flapping and sysmon.cert are Outpost's own. Intervals in seconds or EMQX duration strings, sizes in bytes or size strings, percentages 0-100.
const percent = z.number().min(0).max(100);
export const alarmSchema = z
  .strictObject({
    actions: z.array(z.enum(['log', 'publish'])).default(['log', 'publish']),
    /** Most deactivated alarms kept for GET /alarms?activated=false. */
    size_limit: z.number().int().min(1).max(3000).default(1000),
    /** Seconds a deactivated alarm is kept. */
    validity_period: seconds().default(86400),
  })
  .prefault({});
export const sysmonSchema = z
  .strictObject({
    os: z
      .strictObject({
        /** Seconds between memory checks; 0 disables them. */
        mem_check_interval: period.default(60),
        /** high_system_memory_usage: used system memory over this percentage. */
        sysmem_high_watermark: percent.default(70),
        /** high_process_memory_usage: this process's RSS over this percentage of the system's memory. */
        procmem_high_watermark: percent.default(50),
      })
      .prefault({}),
    vm: z
      .strictObject({
        /** event_loop_lag: the event loop blocked longer than this many ms; 0 disables. */
        long_schedule: z.preprocess(millisecondsFrom, z.number().int().min(0)).default(1000),
      })
      .prefault({}),
    disk: z
      .strictObject({
        /** Seconds between checks of the data dir's file system; 0 disables them. */
        check_interval: period.default(60),
        /** store_near_full: free bytes on the data dir's file system below this. */
        free_low_watermark: bytes(z.number().int().min(0)).default(104857600),
      })
      .prefault({}),
    bridge: z
      .strictObject({
        /** Seconds between bridge checks (bridge down, backlog); 0 disables them. */
        check_interval: period.default(10),
        /** bridge_backlog: more messages than this queued for one bridge. */
        backlog_high_watermark: z.number().int().min(1).default(10000),
      })
      .prefault({}),
    flapping: z
      .strictObject({
        /** Seconds over which flapping bans are counted; 0 disables the check. */
        check_interval: period.default(10),
        /** flapping_ban_storm: at least this many clients banned for flapping within one check_interval. */
        storm_threshold: z.number().int().min(1).default(20),
      })
      .prefault({}),
    cert: z
      .strictObject({
        /** certificate_expiring: a listener certificate expires within this many days; 0 disables. */
        expiry_warning_days: z.number().int().min(0).default(30),
      })
      .prefault({}),
  })
  .prefault({});
// --- end alarms and system monitors

export const configSchema = z.strictObject({
  node: nodeSchema,
  mqtt: mqttSchema,
  store: storeSchema,
  retainer: retainerSchema,
  sys_topics: sysTopicsSchema,
  delayed: delayedSchema,
  rewrite: z.array(rewriteRuleSchema).default([]),
  log: logSchema,
  alarm: alarmSchema,
  sysmon: sysmonSchema,
  ...listenersConfigShape,
  ...authConfigShape,
  ...bridgesConfigShape,
  ...apiConfigShape,
  gateway: gatewayConfigSchema,
});

export type Config = z.infer<typeof configSchema>;
export type MqttConfig = Config['mqtt'];
