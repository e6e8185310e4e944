// /alarms, /monitor, /monitor_current, /configs, /mqtt/retainer|delayed against EMQX 5's shapes
// (emqx_mgmt_api_alarms.erl, emqx_dashboard_monitor_api.erl, emqx_mgmt_api_configs.erl).
import { parse } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { MonitorSampler } from '../../../../src/admin/monitor.js';
import { client } from '../fake-broker.js';
import { harness, type Harness } from '../harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('/alarms', () => {
  it('lists active alarms by default and deactivated ones with activated=false, paged, in EMQX fields', async () => {
    h = await harness();
    h.alarms.activate('store_near_full', { free_bytes: 5 }, 'data dir nearly full');
    h.alarms.activate('high_system_memory_usage', { usage: '90%' }, 'System memory usage is higher than 70%');
    h.broker.clock.advance(1500);
    const r = await h.app.inject({ url: '/api/v5/alarms?limit=1', headers: h.viewer });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.meta).toEqual({ page: 1, limit: 1, count: 2, hasnext: true });
    expect(body.data).toEqual([
      { node: 'outpost@127.0.0.1', name: 'store_near_full', message: 'data dir nearly full', duration: 1500, activate_at: '2026-11-22T00:00:00.000Z', details: { free_bytes: 5 } },
    ]);
    h.alarms.deactivate('store_near_full');
    const d = (await h.app.inject({ url: '/api/v5/alarms?activated=false', headers: h.admin })).json();
    expect(d.data).toEqual([
      {
        node: 'outpost@127.0.0.1',
        name: 'store_near_full',
        message: 'data dir nearly full',
        duration: 1500,
        activate_at: '2026-11-22T00:00:00.000Z',
        deactivate_at: '2026-11-22T00:00:01.500Z',
        details: { free_bytes: 5 },
      },
    ]);
    expect((await h.app.inject({ url: '/api/v5/alarms?activated=true', headers: h.admin })).json().data.map((a: { name: string }) => a.name)).toEqual(['high_system_memory_usage']);
    expect((await h.app.inject({ url: '/api/v5/alarms?activated=maybe', headers: h.admin })).statusCode).toBe(400);
    const bad = await h.app.inject({ url: '/api/v5/alarms?page=0', headers: h.admin });
    expect([bad.statusCode, bad.json()]).toEqual([400, { code: 'INVALID_PARAMETER', message: 'page_limit_invalid' }]);
  });

  it('DELETE clears deactivated alarms only (204); a viewer may not', async () => {
    h = await harness();
    h.alarms.activate('a');
    h.alarms.activate('b');
    h.alarms.deactivate('b');
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/alarms', headers: h.viewer })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/alarms', headers: h.admin })).statusCode).toBe(204);
    expect((await h.app.inject({ url: '/api/v5/alarms?activated=false', headers: h.admin })).json().meta.count).toBe(0);
    expect((await h.app.inject({ url: '/api/v5/alarms', headers: h.admin })).json().meta.count).toBe(1);
  });

  it('POST /alarms/force_deactivate: 204, then 400 NOT_FOUND, and 400 INVALID_PARAMETER without a name', async () => {
    h = await harness();
    h.alarms.activate('a');
    const ok = await h.app.inject({ method: 'POST', url: '/api/v5/alarms/force_deactivate', headers: h.admin, payload: { name: 'a' } });
    expect(ok.statusCode).toBe(204);
    expect(h.alarmEvents).toEqual([
      { name: 'a', activate: true },
      { name: 'a', activate: false },
    ]);
    const again = await h.app.inject({ method: 'POST', url: '/api/v5/alarms/force_deactivate', headers: h.admin, payload: { name: 'a' } });
    expect([again.statusCode, again.json().code]).toEqual([400, 'NOT_FOUND']);
    const none = await h.app.inject({ method: 'POST', url: '/api/v5/alarms/force_deactivate', headers: h.admin, payload: {} });
    expect([none.statusCode, none.json().code]).toEqual([400, 'INVALID_PARAMETER']);
  });

  it('answers 501 when the node has no alarm registry', async () => {
    h = await harness({ bare: true });
    const r = await h.app.inject({ url: '/api/v5/alarms', headers: h.admin });
    expect([r.statusCode, r.json().code]).toEqual([501, 'NOT_SUPPORTED']);
  });
});

describe('MonitorSampler and /monitor', () => {
  it('samples gauges and what the counters grew by, and gives rates per second', async () => {
    h = await harness();
    const s = new MonitorSampler(h.broker);
    h.broker.addClient(client('c1'));
    s.sample();
    h.broker.metrics.c['messages.received'] += 50;
    h.broker.metrics.c['messages.sent'] += 20;
    h.broker.clock.advance(10_000);
    const second = s.sample();
    expect(second).toMatchObject({ time_stamp: h.broker.clock.now(), connections: 1, live_connections: 1, received: 50, sent: 20, dropped: 0, subscriptions: 0, topics: 0 });
    expect(Object.keys(second).sort()).toEqual(
      [
        'time_stamp',
        'disconnected_durable_sessions',
        'subscriptions_durable',
        'subscriptions',
        'topics',
        'connections',
        'live_connections',
        'received',
        'sent',
        'validation_succeeded',
        'validation_failed',
        'transformation_succeeded',
        'transformation_failed',
        'dropped',
        'persisted',
        'rules_matched',
        'actions_executed',
        'actions_messages',
      ].sort(),
    );
    expect(s.current()).toMatchObject({ received_msg_rate: 5, sent_msg_rate: 2, dropped_msg_rate: 0, connections: 1, retained_msg_count: 0, shared_subscriptions: 0, cluster_sessions: 1 });
    expect(s.samples(5)).toHaveLength(1);
    expect(s.samples()).toHaveLength(2);
  });

  it('keeps the newest samples when the ring is full', async () => {
    h = await harness();
    const s = new MonitorSampler(h.broker, 10_000, 3);
    for (let i = 0; i < 5; i++) {
      h.broker.metrics.c['messages.received'] += i;
      s.sample();
      h.broker.clock.advance(10_000);
    }
    expect(s.samples().map((x) => x.received)).toEqual([2, 3, 4]);
    expect(s.current().received_msg_rate).toBe(0);
    s.clear();
    expect(s.samples()).toEqual([]);
  });

  it('GET /monitor returns samples, per node too (404 for another node); DELETE clears; /monitor_current has the current fields', async () => {
    h = await harness();
    const all = (await h.app.inject({ url: '/api/v5/monitor', headers: h.viewer })).json();
    expect(Array.isArray(all)).toBe(true);
    expect(all[0]).toHaveProperty('time_stamp');
    expect((await h.app.inject({ url: '/api/v5/monitor/nodes/outpost@127.0.0.1?latest=300', headers: h.viewer })).json()).toHaveLength(1);
    const other = await h.app.inject({ url: '/api/v5/monitor/nodes/emqx@10.0.0.1', headers: h.viewer });
    expect([other.statusCode, other.json().code]).toEqual([404, 'NOT_FOUND']);
    expect((await h.app.inject({ url: '/api/v5/monitor?latest=0', headers: h.viewer })).statusCode).toBe(400);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/monitor', headers: h.admin })).statusCode).toBe(204);
    expect((await h.app.inject({ url: '/api/v5/monitor', headers: h.viewer })).json()).toEqual([]);
    const cur = (await h.app.inject({ url: '/api/v5/monitor_current', headers: h.viewer })).json();
    for (const k of ['connections', 'live_connections', 'subscriptions', 'topics', 'received_msg_rate', 'sent_msg_rate', 'dropped_msg_rate', 'retained_msg_count', 'shared_subscriptions', 'cluster_sessions']) expect(typeof cur[k]).toBe('number');
    const perNode = (await h.app.inject({ url: '/api/v5/monitor_current/nodes/outpost@127.0.0.1', headers: h.viewer })).json();
    expect(perNode.node_uptime).toBe(3_600_000);
    expect(perNode).not.toHaveProperty('subscriptions_durable');
  });
});

describe('/configs and the retainer/delayed views', () => {
  it('shows the running config as TOML text or JSON, by root, with secrets hidden; PUT is refused', async () => {
    h = await harness();
    const text = await h.app.inject({ url: '/api/v5/configs?key=retainer', headers: h.viewer });
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.body).toContain('[retainer]');
    expect(text.body).toContain('max_payload_size = 1048576');
    // The whole config as text is TOML that reads back to the JSON view.
    const full = await h.app.inject({ url: '/api/v5/configs', headers: h.viewer });
    const json = (await h.app.inject({ url: '/api/v5/configs', headers: { ...h.viewer, accept: 'application/json' } })).json();
    expect(parse(full.body)).toEqual(json);
    expect(json.node.name).toBe('outpost@127.0.0.1');
    expect(json.sysmon.os.sysmem_high_watermark).toBe(70);
    expect((await h.app.inject({ url: '/api/v5/configs/alarm', headers: h.viewer })).json()).toEqual({ actions: ['log', 'publish'], size_limit: 1000, validity_period: 86400 });
    const nf = await h.app.inject({ url: '/api/v5/configs/nope', headers: h.viewer });
    expect([nf.statusCode, nf.json().code]).toEqual([404, 'NOT_FOUND']);
    const put = await h.app.inject({ method: 'PUT', url: '/api/v5/configs/alarm', headers: h.admin, payload: {} });
    expect([put.statusCode, put.json().code]).toEqual([501, 'NOT_SUPPORTED']);
  });

  it('redacts password, secret and token values', async () => {
    const { redact } = await import('../../../../src/admin/routes/configs.js');
    expect(redact({ a: { password: 'p', ssl_options: { password: '' } }, client_secret: 's', token: 't', keyfile: '/k.pem', list: [{ secret: 'x' }] })).toEqual({
      a: { password: '******', ssl_options: { password: '' } },
      client_secret: '******',
      token: '******',
      keyfile: '/k.pem',
      list: [{ secret: '******' }],
    });
    h = await harness();
  });

  it('GET /mqtt/retainer and /mqtt/delayed in EMQX shape', async () => {
    h = await harness();
    expect((await h.app.inject({ url: '/api/v5/mqtt/retainer', headers: h.viewer })).json()).toEqual({
      enable: true,
      msg_expiry_interval: '0s',
      max_payload_size: '1MB',
      stop_publish_clear_msg: false,
      backend: { type: 'built_in_database', storage_type: 'disc', max_retained_messages: 0, enable: true },
    });
    expect((await h.app.inject({ url: '/api/v5/mqtt/delayed', headers: h.viewer })).json()).toEqual({ enable: true, max_delayed_messages: 0 });
  });
});
