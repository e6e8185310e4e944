import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bridgesConfigShape } from '../../../src/bridge/config.js';

const schema = z.strictObject(bridgesConfigShape);

function parse(bridges: Record<string, unknown>) {
  return schema.safeParse({ bridges });
}

function ok(bridges: Record<string, unknown>) {
  const r = parse(bridges);
  if (!r.success) throw new Error(JSON.stringify(r.error.issues, null, 1));
  return r.data.bridges;
}

function issues(bridges: Record<string, unknown>): string[] {
  const r = parse(bridges);
  expect(r.success).toBe(false);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('bridges config (native shape)', () => {
  it('fills defaults: durable session, bridge bit, drop_oldest, no hidden ttl', () => {
    const b = ok({ cloud: { servers: ['127.0.0.1:1883'], egress: [{ filter: 'a/#' }] } }).cloud!;
    expect(b.clean_start).toBe(false);
    expect(b.bridge_mode).toBe(true);
    expect(b.buffer).toMatchObject({ overflow: 'drop_oldest', ttl: 0, qos0: 'store' });
    expect(b.replay).toMatchObject({ inflight: 32, rate: 0, stall_timeout: 30 });
    expect(b.reconnect).toEqual({ min: 1, max: 60 });
    expect(b.tls.verify).toBe(true);
    expect(b.egress[0]).toMatchObject({ topic: '${topic}', qos: '${qos}', retain: '${retain}', payload: '${payload}' });
  });

  it('names an unknown key with its path', () => {
    const r = parse({ cloud: { servers: ['h:1'], bogus: 1 } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain('bogus');
  });

  it('rejects an unknown template placeholder', () => {
    expect(issues({ c: { servers: ['h:1'], egress: [{ filter: 'a/#', topic: 'x/${nope}' }] } }).join()).toContain('unknown placeholder ${nope}');
  });

  it('rejects ingress that feeds an egress filter of the same bridge [spec §5.7]', () => {
    const msgs = issues({ c: { servers: ['h:1'], egress: [{ filter: 'cmd/#' }], ingress: [{ filter: 'remote/cmd/#', strip_prefix: 'remote/' }] } });
    expect(msgs.join()).toContain('allow_loop');
  });

  it('accepts the same overlap when allow_loop is set, and disjoint mappings without it', () => {
    ok({ c: { servers: ['h:1'], allow_loop: true, egress: [{ filter: 'x/#' }], ingress: [{ filter: 'x/#' }] } });
    ok({ c: { servers: ['h:1'], egress: [{ filter: 'up/#' }], ingress: [{ filter: '$share/g/cmd/#', topic: 'down/${topic}' }] } });
  });

  it('refuses a server address it cannot dial', () => {
    expect(issues({ c: { servers: ['h:1', 'ws://h:80'] } }).join()).toContain('bridges.c.servers.1: not a server address');
  });

  it('checks limits against each other', () => {
    expect(issues({ c: { servers: ['h:1'], buffer: { max_messages: 10 }, replay: { inflight: 20 } } }).join()).toContain('replay.inflight');
    expect(issues({ c: { servers: ['h:1'], reconnect: { min: 10, max: 5 } } }).join()).toContain('reconnect.min');
  });
});

describe('bridges config (compatible blocks)', () => {
  it('reads an EMQX 5.4+ connector/action/source/rules block into one model', () => {
    const b = ok({
      cloud: {
        emqx: {
          connectors: { mqtt: { cloud: { server: 'cloud.example.com:8883', proto_ver: 'v5', clientid_prefix: 'site1', keepalive: '160s', ssl: { enable: true, verify: 'verify_peer', cacertfile: '/ca.pem' } } } },
          actions: { mqtt: { up: { connector: 'cloud', parameters: { topic: 'site1/${topic}', qos: '${qos}', retain: '${flags.retain}', payload: '${payload}' }, resource_opts: { inflight_window: 100, max_buffer_bytes: '64MB' } } } },
          sources: { mqtt: { down: { connector: 'cloud', parameters: { topic: '$share/g/site1/cmd/#', qos: 1 } } } },
          rules: {
            r_up: { sql: 'SELECT * FROM "devices/#"', actions: ['mqtt:up'] },
            r_down: { sql: 'SELECT * FROM "$bridges/mqtt:down"', actions: [{ function: 'republish', args: { topic: 'cmd/${topic}', qos: '${qos}', retain: false, payload: '${payload}' } }] },
          },
        },
        buffer: { max_messages: 5000 },
      },
    }).cloud!;
    expect(b.servers).toEqual(['mqtts://cloud.example.com:8883']);
    expect(b).toMatchObject({ proto_ver: 'v5', clientid: 'site1', keepalive: 160, clean_start: true, bridge_mode: false });
    expect(b.tls).toMatchObject({ enable: true, verify: true, ca_file: '/ca.pem' });
    expect(b.egress).toEqual([expect.objectContaining({ filter: 'devices/#', topic: 'site1/${topic}', qos: '${qos}', retain: '${flags.retain}', payload: '${payload}' })]);
    expect(b.ingress).toEqual([expect.objectContaining({ filter: '$share/g/site1/cmd/#', topic: 'cmd/${topic}', qos: 1, retain: false, no_local: false })]);
    // Explicit native keys override; EMQX's implicit 45 s request_ttl is not carried over.
    expect(b.buffer).toMatchObject({ max_messages: 5000, max_bytes: 64 * 1024 * 1024, ttl: 0 });
    expect(b.replay.inflight).toBe(100);
  });

  it('reads EMQX 5.0–5.3 egress/ingress and keeps an explicit request_ttl', () => {
    const b = ok({
      up: {
        emqx: {
          server: 'cloud:1883',
          egress: { local: { topic: 'devices/#' }, remote: { topic: 'site1/${topic}', qos: 1, retain: false, payload: '' } },
          ingress: { remote: { topic: 'site1/cmd/#', qos: 1 }, local: { topic: 'cmd/${topic}', qos: '${qos}' } },
        },
      },
    }).up!;
    expect(b.servers).toEqual(['cloud:1883']);
    expect(b.egress[0]).toMatchObject({ filter: 'devices/#', qos: 1, retain: false, payload: '' });
    expect(b.ingress[0]).toMatchObject({ filter: 'site1/cmd/#', topic: 'cmd/${topic}', local_qos: '${qos}' });
  });

  it('refuses EMQX rules it cannot honour', () => {
    const msgs = issues({
      c: { emqx: { connector: { server: 'h:1' }, actions: { up: { parameters: { topic: 't' } } }, rules: { r: { sql: 'SELECT payload FROM "a" WHERE qos = 1', actions: ['mqtt:up'] } } } },
    });
    expect(msgs.join()).toContain('SELECT * FROM');
  });

  it('reads a NanoMQ forwards/subscription block with wildcard remap', () => {
    const b = ok({
      nano: {
        nanomq: {
          server: 'tls+mqtt-tcp://cloud:8883',
          proto_ver: 5,
          clientid: 'edge-1',
          keepalive: '60s',
          backoff_max: '30s',
          clean_start: false,
          forwards: [
            { remote_topic: 'fwd/topic1', local_topic: 'topic1', qos: 1 },
            { remote_topic: '', local_topic: 'sensors/#', prefix: 'site1/' },
          ],
          subscription: [{ remote_topic: '+/nanomq/#', local_topic: '#', qos: 1, retain: 2 }],
          retry_qos_0: false,
          max_send_queue_len: 16,
          cache: { disk_cache_size: 2000 },
        },
        // '#' locally overlaps the sensors/# forward: accepted only when asked for.
        allow_loop: true,
      },
    }).nano!;
    expect(b).toMatchObject({ servers: ['mqtts://cloud:8883'], proto_ver: 'v5', clientid: 'edge-1', keepalive: 60, clean_start: false });
    expect(b.reconnect.max).toBe(30);
    expect(b.egress[0]).toMatchObject({ filter: 'topic1', topic: 'fwd/topic1', qos: 1 });
    expect(b.egress[1]).toMatchObject({ filter: 'sensors/#', topic: '${topic}', prefix: 'site1/' });
    expect(b.ingress[0]).toMatchObject({ filter: '+/nanomq/#', topic: '${match.#}', retain: '${retain}' });
    expect(b.buffer).toMatchObject({ qos0: 'drop_offline', max_messages: 2000 });
    expect(b.replay.inflight).toBe(16);
  });

  it('reports the NanoMQ wildcard remap that would loop without allow_loop', () => {
    const msgs = issues({ n: { nanomq: { server: 'mqtt-tcp://h:1', forwards: [{ local_topic: 'sensors/#' }], subscription: [{ remote_topic: '+/nanomq/#', local_topic: '#' }] } } });
    expect(msgs.join()).toContain('allow_loop');
  });

  const mosq = `
# bridge to the cloud
connection cloud
address 127.0.0.1:1883 127.0.0.1:1884
bridge_protocol_version mqttv311
remote_clientid edge-7
cleansession false
keepalive_interval 30
try_private true
restart_timeout 2 20
topic sensors/# out 1 "" site1/
topic cmd/# in 1 site1/ cloud/site1/
`;

  it('reads Mosquitto connection/topic lines inline', () => {
    const b = ok({ m: { mosquitto: mosq } }).m!;
    expect(b.servers).toEqual(['127.0.0.1:1883', '127.0.0.1:1884']);
    expect(b).toMatchObject({ proto_ver: 'v4', clientid: 'edge-7', clean_start: false, keepalive: 30, bridge_mode: true, reconnect: { min: 2, max: 20 } });
    expect(b.egress[0]).toMatchObject({ filter: 'sensors/#', strip_prefix: '', prefix: 'site1/', qos: 1 });
    expect(b.ingress[0]).toMatchObject({ filter: 'cloud/site1/cmd/#', strip_prefix: 'cloud/site1/', prefix: 'site1/', qos: 1 });
  });

  it('reads Mosquitto lines from a file and reports an unknown option with its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-cfg-'));
    const f = join(dir, 'bridge.conf');
    writeFileSync(f, mosq);
    expect(ok({ m: { mosquitto_file: f } }).m!.clientid).toBe('edge-7');
    writeFileSync(f, mosq + 'frobnicate yes\n');
    expect(issues({ m: { mosquitto_file: f } }).join()).toContain(`${f}:13: unsupported mosquitto option "frobnicate"`);
  });

  it('allows a Mosquitto "both" line (the echo is stopped by origin tagging)', () => {
    const b = ok({ m: { mosquitto: 'connection c\naddress h:1\ntopic x/# both 1' } }).m!;
    expect(b.allow_loop).toBe(true);
    expect(b.egress[0]!.filter).toBe('x/#');
    expect(b.ingress[0]!.filter).toBe('x/#');
  });

  it('reads EMQX 5.4+ HOCON text (as in the EMQX docs) into the same model', () => {
    const b = ok({
      cloud: {
        emqx: `
connectors.mqtt.cloud { server = "cloud.example.com:1883", clientid_prefix = "site1" }
actions.mqtt.up {
  connector = cloud
  parameters { topic = "site1/\${topic}", qos = "\${qos}", retain = "\${flags.retain}", payload = "\${payload}" }
  resource_opts { query_mode = async, request_ttl = "45s", max_buffer_bytes = "256MB", worker_pool_size = 16, inflight_window = 100 }
}
rule_engine.rules.r_up { sql = "SELECT * FROM \\"devices/#\\"", actions = ["mqtt:up"] }
sources.mqtt.down { connector = cloud, parameters { topic = "$share/g/site1/cmd/#", qos = 1, no_local = false } }
rule_engine.rules.r_down {
  sql = "SELECT * FROM \\"$bridges/mqtt:down\\""
  actions = [{ function = republish, args { topic = "cmd/\${topic}", qos = "\${qos}", retain = false, payload = "\${payload}" } }]
}`,
      },
    }).cloud!;
    expect(b.servers).toEqual(['cloud.example.com:1883']);
    expect(b.egress).toEqual([expect.objectContaining({ filter: 'devices/#', topic: 'site1/\${topic}', retain: '\${flags.retain}' })]);
    expect(b.ingress).toEqual([expect.objectContaining({ filter: '$share/g/site1/cmd/#', topic: 'cmd/\${topic}' })]);
    // An explicit request_ttl is honoured as written (45 s here), and buffer/inflight follow resource_opts.
    expect(b.buffer).toMatchObject({ ttl: 45, max_bytes: 256 * 1024 * 1024 });
    expect(b.replay.inflight).toBe(100);
  });

  it('reads a NanoMQ HOCON file with the shared cache block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bridge-cfg-'));
    const f = join(dir, 'nanomq.conf');
    writeFileSync(
      f,
      `bridges.mqtt.cloud {
  server = "mqtt-tcp://cloud.example.com:1883"
  proto_ver = 4
  clientid = "edge-1"
  keepalive = 60s
  clean_start = false
  forwards = [
    { remote_topic = "fwd/topic1", local_topic = "topic1", qos = 1 }
    { remote_topic = "", local_topic = "sensors/#", prefix = "site1/" }
  ]
  subscription = [
    { remote_topic = "cmd/topic1", local_topic = "topic3", qos = 1, retain = 2 }
  ]
}
bridges.mqtt.cache { disk_cache_size = 102400, mounted_file_path = "/tmp/", flush_mem_threshold = 100 }
`,
    );
    const b = ok({ n: { nanomq_file: f } }).n!;
    expect(b).toMatchObject({ servers: ['cloud.example.com:1883'], clientid: 'edge-1', clean_start: false, keepalive: 60 });
    expect(b.egress.map((e) => e.filter)).toEqual(['topic1', 'sensors/#']);
    expect(b.ingress[0]).toMatchObject({ filter: 'cmd/topic1', topic: 'topic3' });
    expect(b.buffer.max_messages).toBe(102400);
    writeFileSync(f, 'bridges.mqtt.cloud {\n server = "mqtt-tcp://h:1"\n');
    expect(issues({ n: { nanomq_file: f } }).join()).toContain('invalid HOCON: line 3: missing "}"');
  });

  it('refuses two compatible blocks in one bridge', () => {
    expect(issues({ m: { mosquitto: 'connection c\naddress h:1', nanomq: { server: 'mqtt-tcp://h:1' } } }).join()).toContain('only one compatible block');
  });
});
