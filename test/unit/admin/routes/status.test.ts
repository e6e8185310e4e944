// Nodes, stats, metrics and the Prometheus scrape (parsed by a strict text-format parser).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { client } from '../fake-broker.js';
import { harnessEachTest, type Harness } from '../harness.js';
import { parsePrometheusText, sampleValue } from '../prom-text.js';

let h: Harness;
harnessEachTest((x) => (h = x));
const get = (url: string) => h.app.inject({ url, headers: h.admin });

describe('nodes, stats, metrics', () => {
  it('GET /nodes describes this node', async () => {
    h.broker.addClient(client('c1'));
    const [n] = (await get('/api/v5/nodes')).json();
    expect(n).toMatchObject({ node: 'outpost@127.0.0.1', node_status: 'running', version: '0.1.0', uptime: 3_600_000, connections: 1, live_connections: 1 });
    expect(n.memory_used).toBeGreaterThan(0);
    // The rest of EMQX's node_info (emqx_mgmt_api_nodes.erl fields(node_info)).
    expect(n).toMatchObject({ cluster_sessions: expect.any(Number), otp_release: expect.stringMatching(/^Node\.js \d+/), log_path: 'log.file.enable is false, not logging to file.' });
    expect(existsSync(join(n.sys_path, 'package.json'))).toBe(true);
    if (existsSync('/proc/self/limits')) expect(n.max_fds).toBeGreaterThan(0);
    expect((await get('/api/v5/nodes/outpost@127.0.0.1')).json().node).toBe('outpost@127.0.0.1');
    expect((await get('/api/v5/nodes/other@x')).statusCode).toBe(404);
    expect((await get('/api/v5/nodes/outpost@127.0.0.1/stats')).json()['connections.count']).toBe(1);
    expect((await get('/api/v5/nodes/outpost@127.0.0.1/metrics')).json()).toHaveProperty('messages.received');
  });

  it('GET /stats is per node by default and one object with aggregate=true', async () => {
    h.broker.addClient(client('c1'));
    const per = (await get('/api/v5/stats')).json();
    expect(per).toHaveLength(1);
    expect(per[0]).toMatchObject({ node: 'outpost@127.0.0.1', 'connections.count': 1, 'retained.count': 0 });
    const agg = (await get('/api/v5/stats?aggregate=true')).json();
    expect(agg).not.toHaveProperty('node');
    expect(agg['live_connections.count']).toBe(1);
  });

  it('GET /metrics returns every counter, including ones declared at run time', async () => {
    h.broker.metrics.c['messages.received'] = 7;
    h.broker.metrics.inc('gateway.coap.messages.received', 3);
    const agg = (await get('/api/v5/metrics?aggregate=true')).json();
    expect(agg['messages.received']).toBe(7);
    expect(agg['gateway.coap.messages.received']).toBe(3);
    expect((await get('/api/v5/metrics')).json()[0].node).toBe('outpost@127.0.0.1');
  });
});

describe('Prometheus', () => {
  it('serves valid text exposition with EMQX names, store and process metrics', async () => {
    h.broker.addClient(client('c1'));
    h.broker.metrics.c['messages.received'] = 42;
    h.broker.metrics.c['delivery.dropped.queue_full'] = 2;
    h.broker.metrics.inc('gateway.coap.messages.received', 5);
    h.broker.metrics.registerGauge('bridge.upstream.buffer', () => 9);
    const r = await h.app.inject('/api/v5/prometheus/stats');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const fam = parsePrometheusText(r.body);
    expect(fam.get('emqx_messages_received')!.type).toBe('counter');
    expect(sampleValue(fam, 'emqx_messages_received')).toBe(42);
    expect(sampleValue(fam, 'emqx_delivery_dropped_queue_full')).toBe(2);
    expect(sampleValue(fam, 'emqx_gateway_coap_messages_received')).toBe(5);
    expect(fam.get('emqx_connections_count')!.type).toBe('gauge');
    expect(sampleValue(fam, 'emqx_connections_count')).toBe(1);
    expect(sampleValue(fam, 'outpost_bridge_upstream_buffer')).toBe(9);
    expect(sampleValue(fam, 'emqx_cluster_nodes_running')).toBe(1);
    expect(sampleValue(fam, 'outpost_store_size_bytes')).toBeGreaterThanOrEqual(0);
    expect(fam.has('outpost_store_last_commit_seconds')).toBe(true);
    expect(sampleValue(fam, 'outpost_uptime_seconds')).toBe(3600);
    expect(sampleValue(fam, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(fam.has('nodejs_eventloop_lag_seconds')).toBe(true);
    for (const f of fam.values()) expect(f.help, f.name).not.toBeNull();
  });

  it('reads current values at each scrape and /metrics serves the same registry', async () => {
    h.broker.metrics.c['messages.received'] = 1;
    const first = parsePrometheusText((await h.app.inject('/metrics')).body);
    h.broker.metrics.c['messages.received'] = 10;
    const second = parsePrometheusText((await h.app.inject('/metrics')).body);
    expect(sampleValue(first, 'emqx_messages_received')).toBe(1);
    expect(sampleValue(second, 'emqx_messages_received')).toBe(10);
  });

  it('answers JSON when asked', async () => {
    const r = await h.app.inject({ url: '/api/v5/prometheus/stats', headers: { accept: 'application/json' } });
    const list = r.json() as { name: string }[];
    expect(list.some((m) => m.name === 'emqx_messages_received')).toBe(true);
  });

  it('the parser used above rejects what Prometheus rejects', () => {
    expect(() => parsePrometheusText('# TYPE a counter\na -1\n')).toThrow(/negative/);
    expect(() => parsePrometheusText('a{x="1"} 1\nb 2\na{x="2"} 3\n')).toThrow(/grouped/);
    expect(() => parsePrometheusText('a 1\na 2\n')).toThrow(/duplicate/);
    expect(() => parsePrometheusText('1a 1\n')).toThrow(/bad sample/);
    expect(() => parsePrometheusText('a{x=1} 1\n')).toThrow(/quoted/);
    expect(() => parsePrometheusText('a one\n')).toThrow(/bad value/);
    expect(() => parsePrometheusText('a 1')).toThrow(/newline/);
    expect(parsePrometheusText('# HELP a x\n# TYPE a gauge\na{l="q\\"x"} +Inf 123\n').get('a')!.samples[0]!.labels.l).toBe('q"x');
  });
});
