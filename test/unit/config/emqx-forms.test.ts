// EMQX 5's value forms in Outpost's config: duration and size strings wherever EMQX takes them,
// `bind` as a port or "host:port", EMQX's level names, and a did-you-mean for unknown keys.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, validateConfig } from '../../../src/config/load.js';
import { parseBind, parseBytes, parseDurationMs } from '../../../src/core/units.js';
import { coapConfigSchema } from '../../../gateways/coap/config.js';
import { mqttsnConfigSchema } from '../../../gateways/mqttsn/config.js';

function issuesOf(raw: unknown): { path: string; message: string; env?: string }[] {
  try {
    validateConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('config was accepted');
}

describe('duration strings', () => {
  it('reads every EMQX unit and combinations, case-insensitively', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('15s')).toBe(15_000);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('2h')).toBe(7_200_000);
    expect(parseDurationMs('1d')).toBe(86_400_000);
    expect(parseDurationMs('1w')).toBe(604_800_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('2H')).toBe(7_200_000);
    for (const bad of ['', '15', 's', '15x', '1h 30m', '-1s', 'infinity']) expect(parseDurationMs(bad)).toBeNull();
  });

  it('is accepted in seconds fields, numbers keep working', () => {
    const c = validateConfig({
      mqtt: { session_expiry_interval: '2h', idle_timeout: '500ms', await_rel_timeout: 300, retry_interval: '30s', message_expiry_interval: '1d' },
      retainer: { msg_expiry_interval: '1h30m' },
      sys_topics: { sys_msg_interval: '1m', sys_heartbeat_interval: '30s' },
      log: { throttle_window: '2m' },
      api: { token_ttl: '60m' },
    });
    expect(c.mqtt.session_expiry_interval).toBe(7200);
    expect(c.mqtt.idle_timeout).toBe(0.5);
    expect(c.mqtt.await_rel_timeout).toBe(300);
    expect(c.mqtt.retry_interval).toBe(30);
    expect(c.mqtt.message_expiry_interval).toBe(86400);
    expect(c.retainer.msg_expiry_interval).toBe(5400);
    expect(c.sys_topics.sys_msg_interval).toBe(60);
    expect(c.sys_topics.sys_heartbeat_interval).toBe(30);
    expect(c.log.throttle_window).toBe(120);
    expect(c.api.token_ttl).toBe(3600);
  });

  it('rounds up to whole seconds where the field is whole seconds (EMQX duration_s)', () => {
    expect(validateConfig({ mqtt: { retry_interval: '1500ms' } }).mqtt.retry_interval).toBe(2);
  });

  it('is accepted in listener, auth and bridge sections', () => {
    const c = validateConfig({
      listeners: { ssl: { default: { enable: false, ssl_options: { handshake_timeout: '10s' } } } },
      authentication: { cache_ttl: '1m' },
      bridges: { up: { servers: ['127.0.0.1:1883'], keepalive: '160s', connect_timeout: '15s', buffer: { max_bytes: '64MB' } } },
    } as unknown);
    expect(c.listeners.ssl.default!.ssl_options.handshake_timeout).toBe(10);
    expect(c.authentication.cache_ttl).toBe(60);
    expect(c.bridges.up!.keepalive).toBe(160);
    expect(c.bridges.up!.connect_timeout).toBe(15);
    expect(c.bridges.up!.buffer.max_bytes).toBe(64 * 1024 * 1024);
  });

  it('is accepted in the CoAP and MQTT-SN gateways (seconds and milliseconds)', () => {
    const c = validateConfig({ gateway: { coap: { heartbeat: '2m', idle_timeout: '30s', blockwise: { exchange_lifetime: '247s', max_body_size: '4MB' } }, mqttsn: { idle_timeout: '1m', session_expiry_interval: '2h', retry: { publish_interval: '10s' }, sleep: { max_duration: '1h' } } } });
    expect(c.gateway.coap.heartbeat).toBe(120);
    expect(c.gateway.coap.idle_timeout).toBe(30);
    expect(c.gateway.coap.blockwise.exchange_lifetime).toBe(247);
    expect(c.gateway.coap.blockwise.max_body_size).toBe(4 * 1024 * 1024);
    expect(c.gateway.mqttsn.idle_timeout).toBe(60);
    expect(c.gateway.mqttsn.session_expiry_interval).toBe(7200);
    expect(c.gateway.mqttsn.retry.publish_interval).toBe(10);
    expect(c.gateway.mqttsn.sleep.max_duration).toBe(3600);
    const sn = mqttsnConfigSchema.parse({ listeners: { serial: { s: { device: '/dev/null', frame_timeout: '1s', reopen_interval: '10s' } } } });
    expect(sn.listeners.serial.s!.frame_timeout).toBe(1000);
    expect(sn.listeners.serial.s!.reopen_interval).toBe(10);
    expect(coapConfigSchema.parse({ heartbeat: 45 }).heartbeat).toBe(45);
  });

  it('refuses a malformed duration naming the key and the forms', () => {
    const [i] = issuesOf({ mqtt: { session_expiry_interval: '2 hours' } });
    expect(i!.path).toBe('mqtt.session_expiry_interval');
    expect(i!.message).toMatch(/duration such as "500ms", "15s", "2h"/);
    expect(issuesOf({ gateway: { coap: { heartbeat: 'soon' } } })[0]!.path).toBe('gateway.coap.heartbeat');
  });

  it('keeps the range checks after conversion', () => {
    // A period past Node's timer range (2^31-1 ms) would fire every millisecond.
    expect(issuesOf({ sys_topics: { sys_msg_interval: '30d' } })[0]!.path).toBe('sys_topics.sys_msg_interval');
    expect(issuesOf({ api: { token_ttl: '30s' } })[0]!.path).toBe('api.token_ttl');
  });
});

describe('size strings', () => {
  it('reads B, KB, MB, GB as powers of 1024 (EMQX bytesize)', () => {
    expect(parseBytes('512B')).toBe(512);
    expect(parseBytes('64KB')).toBe(65536);
    expect(parseBytes('1MB')).toBe(1048576);
    expect(parseBytes('1mb')).toBe(1048576);
    expect(parseBytes('2GB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('1024')).toBe(1024);
    for (const bad of ['', 'MB', '1 TB', '1XB', '-1KB']) expect(parseBytes(bad)).toBeNull();
  });

  it('is accepted in byte fields, numbers keep working', () => {
    const c = validateConfig({ mqtt: { max_packet_size: '1MB', max_mqueue_bytes: '64KB' }, retainer: { max_payload_size: 2048 }, listeners: { ws: { default: { enable: false, websocket: { max_frame_size: '256KB' } } } } });
    expect(c.mqtt.max_packet_size).toBe(1048576);
    expect(c.mqtt.max_mqueue_bytes).toBe(65536);
    expect(c.retainer.max_payload_size).toBe(2048);
    expect(c.listeners.ws.default!.websocket.max_frame_size).toBe(262144);
  });

  it('refuses a malformed or out-of-range size naming the key', () => {
    expect(issuesOf({ mqtt: { max_packet_size: 'big' } })[0]).toMatchObject({ path: 'mqtt.max_packet_size', message: expect.stringMatching(/size such as "64KB", "1MB"/) });
    // MQTT's Remaining Length ends at 256 MB - 1.
    expect(issuesOf({ mqtt: { max_packet_size: '1GB' } })[0]!.path).toBe('mqtt.max_packet_size');
  });
});

describe('bind', () => {
  it('parses a port, host:port, [v6]:port and a bare host', () => {
    expect(parseBind(1883)).toEqual({ port: 1883 });
    expect(parseBind('1883')).toEqual({ port: 1883 });
    expect(parseBind('127.0.0.1:1883')).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(parseBind('[::1]:1883')).toEqual({ host: '::1', port: 1883 });
    expect(parseBind('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseBind('0.0.0.0')).toEqual({ host: '0.0.0.0' });
    expect(parseBind('::')).toEqual({ host: '::' });
    expect(parseBind('[::]')).toEqual({ host: '::' });
    for (const bad of ['', '70000', '1.2.3.4:70000', ':1883', '[::1]:x', 'a b:1', 1.5, -1]) expect(parseBind(bad)).toBeNull();
  });

  it('sets host and port of the MQTT listener both ways', () => {
    expect(validateConfig({ mqtt: { bind: '127.0.0.1:1884' } }).mqtt).toMatchObject({ bind: '127.0.0.1', port: 1884 });
    expect(validateConfig({ mqtt: { bind: '[::1]:1885' } }).mqtt).toMatchObject({ bind: '::1', port: 1885 });
    expect(validateConfig({ mqtt: { bind: 1886 } }).mqtt).toMatchObject({ bind: '0.0.0.0', port: 1886 });
    expect(validateConfig({ mqtt: { bind: '1887' } }).mqtt).toMatchObject({ bind: '0.0.0.0', port: 1887 });
    // Outpost's own form: bind is the host, port apart.
    expect(validateConfig({ mqtt: { bind: '127.0.0.1', port: 1888 } }).mqtt).toMatchObject({ bind: '127.0.0.1', port: 1888 });
    // Both, agreeing.
    expect(validateConfig({ mqtt: { bind: '127.0.0.1:1889', port: 1889 } }).mqtt).toMatchObject({ bind: '127.0.0.1', port: 1889 });
  });

  it('sets host and port of the ssl/ws/wss listeners and the API both ways', () => {
    const c = validateConfig({
      listeners: { ssl: { default: { enable: false, bind: '0.0.0.0:8884' } }, ws: { default: { enable: false, bind: 8090 } }, wss: { default: { enable: false, bind: '127.0.0.1', port: 8091 } } },
      api: { bind: '127.0.0.1:18084' },
    });
    expect(c.listeners.ssl.default).toMatchObject({ bind: '0.0.0.0', port: 8884 });
    expect(c.listeners.ws.default).toMatchObject({ bind: '0.0.0.0', port: 8090 });
    expect(c.listeners.wss.default).toMatchObject({ bind: '127.0.0.1', port: 8091 });
    expect(c.api).toMatchObject({ bind: '127.0.0.1', port: 18084 });
    expect(validateConfig({ api: { bind: 18085 } }).api).toMatchObject({ bind: '127.0.0.1', port: 18085 });
  });

  it('keeps the API loopback rule on a host:port bind', () => {
    expect(issuesOf({ api: { bind: '0.0.0.0:18083', auth: false } })[0]!.path).toBe('api.auth');
    expect(validateConfig({ api: { bind: '127.0.0.1:18083', auth: false } }).api.auth).toBe(false);
  });

  it('sets host and port of every gateway listener as EMQX writes them (gateway.<name>.listeners.<type>.<id>.bind)', () => {
    const c = validateConfig({
      gateway: {
        coap: { listeners: { udp: { default: { bind: '127.0.0.1:5690' } } } },
        mqttsn: { listeners: { udp: { default: { bind: '1885' } } } },
        lwm2m: { listeners: { udp: { default: { bind: '[::1]:5790' } } } },
        stomp: { listeners: { tcp: { default: { bind: '0.0.0.0:61620' } }, ws: { default: { bind: '127.0.0.1', port: 61621 } } } },
        exproto: { listeners: { tcp: { default: { bind: '127.0.0.1:7994' } }, udp: { default: { bind: '7995' } } } },
      },
    });
    expect(c.gateway.coap.listeners.udp.default).toMatchObject({ bind: '127.0.0.1', port: 5690 });
    expect(c.gateway.mqttsn.listeners.udp.default).toMatchObject({ bind: '0.0.0.0', port: 1885 });
    expect(c.gateway.lwm2m.listeners.udp.default).toMatchObject({ bind: '::1', port: 5790 });
    expect(c.gateway.stomp.listeners.tcp.default).toMatchObject({ bind: '0.0.0.0', port: 61620 });
    expect(c.gateway.stomp.listeners.ws.default).toMatchObject({ bind: '127.0.0.1', port: 61621 });
    expect(c.gateway.exproto.listeners.tcp.default).toMatchObject({ bind: '127.0.0.1', port: 7994 });
    expect(c.gateway.exproto.listeners.udp.default).toMatchObject({ bind: '0.0.0.0', port: 7995 });
    expect(() => validateConfig({ gateway: { stomp: { listeners: { tcp: { default: { bind: '0.0.0.0:61620', port: 61613 } } } } } })).toThrow(/gateway\.stomp\.listeners\.tcp\.default\.bind/);
  });

  it('refuses a bad bind or a port given twice differently, naming the key', () => {
    expect(issuesOf({ mqtt: { bind: '127.0.0.1:99999' } })[0]).toMatchObject({ path: 'mqtt.bind', message: expect.stringMatching(/host:port/) });
    expect(issuesOf({ mqtt: { bind: '127.0.0.1:1883', port: 1884 } })[0]).toMatchObject({ path: 'mqtt.bind', message: expect.stringMatching(/port 1883 but port is 1884/) });
    expect(issuesOf({ listeners: { ssl: { x: { bind: 'a b' } } } })[0]!.path).toBe('listeners.ssl.x.bind');
  });
});

describe('infinity and disabled', () => {
  it('reads "infinity" as 0 (no limit, never) where 0 means that', () => {
    const c = validateConfig({
      mqtt: { max_subscriptions: 'infinity', max_mqueue_len: 'infinity', message_expiry_interval: 'infinity', max_session_expiry_interval: 'infinity', max_connections: 'infinity', server_keepalive: 'disabled' },
      retainer: { max_retained_messages: 'infinity', msg_expiry_interval: 'infinity' },
      listeners: { ws: { default: { enable: false, max_connections: 'infinity' } } },
    });
    expect(c.mqtt).toMatchObject({ max_subscriptions: 0, max_mqueue_len: 0, message_expiry_interval: 0, max_session_expiry_interval: 0, max_connections: 0, server_keepalive: 0 });
    expect(c.retainer).toMatchObject({ max_retained_messages: 0, msg_expiry_interval: 0 });
    expect(c.listeners.ws.default!.max_connections).toBe(0);
  });

  it('refuses "infinity" where there is no unlimited', () => {
    expect(issuesOf({ mqtt: { max_inflight: 'infinity' } })[0]!.path).toBe('mqtt.max_inflight');
  });
});

describe('levels and unknown keys', () => {
  it("takes EMQX's level names", () => {
    expect(validateConfig({ log: { level: 'warning' } }).log.level).toBe('warn');
    expect(validateConfig({ log: { level: 'notice' } }).log.level).toBe('info');
    expect(validateConfig({ log: { level: 'critical' } }).log.level).toBe('fatal');
    expect(validateConfig({ log: { level: 'none' } }).log.level).toBe('silent');
    expect(validateConfig({ log: { level: 'debug' } }).log.level).toBe('debug');
    expect(issuesOf({ log: { level: 'loud' } })[0]!.path).toBe('log.level');
  });

  it('suggests the nearest known key', () => {
    expect(issuesOf({ store: { synchronus: 'FULL' } })).toEqual([{ path: 'store.synchronus', message: 'unknown key (did you mean store.synchronous?)' }]);
    expect(issuesOf({ mqtt: { prot: 1 } })[0]!.message).toBe('unknown key (did you mean mqtt.port?)');
    expect(issuesOf({ listeners: { ssl: { default: { ssl_option: {} } } } })[0]!.message).toBe('unknown key (did you mean listeners.ssl.default.ssl_options?)');
    expect(issuesOf({ gateway: { coap: { hearbeat: 30 } } })[0]!.message).toBe('unknown key (did you mean gateway.coap.heartbeat?)');
    expect(issuesOf({ mqtt: { completely_unrelated: 1 } })[0]!.message).toBe('unknown key');
  });

  it('names the environment variable, not the file, for a bad override', () => {
    try {
      loadConfig({ env: { OUTPOST_MQTT__PORT: 'abc' } });
      expect.unreachable();
    } catch (err) {
      const e = err as ConfigError;
      expect(e.issues[0]).toMatchObject({ path: 'mqtt.port', env: 'OUTPOST_MQTT__PORT' });
      expect(e.message).toMatch(/^OUTPOST_MQTT__PORT: mqtt\.port: /);
      expect(e.message).not.toMatch(/embedded defaults/);
    }
    expect(() => loadConfig({ env: { OUTPOST_STORE__SYNCHRONUS: 'FULL' } })).toThrow(/^OUTPOST_STORE__SYNCHRONUS: store\.synchronus: unknown key \(did you mean store\.synchronous\?\)$/);
    expect(loadConfig({ env: { OUTPOST_MQTT__SESSION_EXPIRY_INTERVAL: '2h', OUTPOST_MQTT__BIND: '127.0.0.1:1999' } }).mqtt).toMatchObject({ session_expiry_interval: 7200, bind: '127.0.0.1', port: 1999 });
  });
});
