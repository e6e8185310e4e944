// Listeners, gateways and their clients, bridges, reload and traces.
import { unzipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildAdmin } from '../../../../src/admin/server.js';
import { client } from '../fake-broker.js';
import { harness, type Harness } from '../harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('listeners and gateways', () => {
  it('GET /listeners lists the listeners', async () => {
    h = await harness();
    const r = (await h.app.inject({ url: '/api/v5/listeners', headers: h.admin })).json();
    // EMQX nests the counts in status{} and per node in node_status[]; declared but disabled listeners are listed too.
    const status = { running: true, max_connections: 'infinity', current_connections: 2 };
    expect(r[0]).toEqual({ id: 'tcp:default', type: 'tcp', name: 'default', enable: true, bind: '127.0.0.1:1883', acceptors: 1, status, node_status: [{ node: 'outpost@127.0.0.1', status }], number: 1, ...status });
    expect(r.map((l: { id: string }) => l.id)).toEqual(['tcp:default', 'ssl:default', 'ws:default', 'wss:default']);
    expect(r[1]).toMatchObject({ id: 'ssl:default', type: 'ssl', enable: false, bind: '0.0.0.0:8883', status: { running: false, current_connections: 0 } });
    expect((await h.app.inject({ url: '/api/v5/listeners?type=ws', headers: h.admin })).json().map((l: { id: string }) => l.id)).toEqual(['ws:default']);
  });

  it('GET /listeners/:id gives its config and state; unknown ids are 404 BAD_LISTENER_ID', async () => {
    h = await harness();
    const l = (await h.app.inject({ url: '/api/v5/listeners/ssl:default', headers: h.admin })).json();
    expect(l).toMatchObject({ id: 'ssl:default', type: 'ssl', name: 'default', enable: false, running: false, current_connections: 0, max_connections: 'infinity', max_conn_rate: 'infinity' });
    expect(l.ssl_options).toMatchObject({ verify: 'verify_none' });
    const nf = await h.app.inject({ url: '/api/v5/listeners/tcp:nope', headers: h.admin });
    expect([nf.statusCode, nf.json().code]).toEqual([404, 'BAD_LISTENER_ID']);
    // A node that cannot act on listeners says so with EMQX's failure code.
    const r = await h.app.inject({ method: 'POST', url: '/api/v5/listeners/tcp:default/stop', headers: h.admin });
    expect([r.statusCode, r.json().code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('POST /listeners/:id/start|stop|restart: 200, 404 BAD_LISTENER_ID, and 400 BAD_REQUEST when it fails', async () => {
    h = await harness();
    const calls: string[] = [];
    const built = buildAdmin(
      {
        broker: h.broker,
        log: pino({ level: 'silent' }),
        listeners: () => [{ id: 'tcp:default', type: 'tcp', bind: '127.0.0.1:1883', running: true, currentConnections: 0, maxConnections: 0 }],
        listenerAction: async (id, action) => {
          calls.push(`${action} ${id}`);
          if (id === 'ws:default' && action === 'start') throw new Error('listener ws:default failed to start: EADDRINUSE');
          return true;
        },
        trace: h.built.trace,
      },
      h.config,
    );
    try {
      await built.app.ready();
      for (const action of ['stop', 'start', 'restart']) {
        const r = await built.app.inject({ method: 'POST', url: `/api/v5/listeners/tcp:default/${action}`, headers: h.admin });
        expect([r.statusCode, r.body]).toEqual([200, '']);
      }
      const fail = await built.app.inject({ method: 'POST', url: '/api/v5/listeners/ws:default/start', headers: h.admin });
      expect([fail.statusCode, fail.json().code, fail.json().message]).toEqual([400, 'BAD_REQUEST', 'listener ws:default failed to start: EADDRINUSE']);
      const unknown = await built.app.inject({ method: 'POST', url: '/api/v5/listeners/tcp:nope/stop', headers: h.admin });
      expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'BAD_LISTENER_ID']);
      expect((await built.app.inject({ method: 'POST', url: '/api/v5/listeners/tcp:default/stop', headers: h.viewer })).statusCode).toBe(403);
      expect(calls).toEqual(['stop tcp:default', 'start tcp:default', 'restart tcp:default', 'start ws:default']);
    } finally {
      await built.app.close();
    }
  });

  it('GET /gateways counts each gateway\'s connected clients', async () => {
    h = await harness();
    h.broker.addClient(client('dev1', { protocol: 'coap', listener: 'coap:udp:default' }));
    h.broker.addClient(client('dev2', { protocol: 'coap', connected: false }));
    h.broker.addClient(client('m1'));
    const r = (await h.app.inject({ url: '/api/v5/gateways', headers: h.admin })).json();
    expect(r[0]).toMatchObject({ name: 'coap', status: 'running', current_connections: 1, max_connections: 1000 });
    expect(r[0].listeners).toEqual([{ id: 'coap:udp:default', type: 'udp', name: 'default', bind: '127.0.0.1:5683', running: true }]);
    expect((await h.app.inject({ url: '/api/v5/gateways/coap', headers: h.admin })).json().name).toBe('coap');
    const nf = await h.app.inject({ url: '/api/v5/gateways/lwm2m', headers: h.admin });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().code).toBe('GATEWAY_NOT_FOUND');
  });

  it('GET /gateways lists gateways that are not loaded as EMQX does: name and status unloaded', async () => {
    h = await harness();
    const r = (await h.app.inject({ url: '/api/v5/gateways', headers: h.admin })).json();
    expect(r.map((g: { name: string; status: string }) => [g.name, g.status])).toEqual([
      ['coap', 'running'],
      ['stomp', 'unloaded'],
    ]);
    expect(r[1]).toEqual({ name: 'stomp', status: 'unloaded', current_connections: 0, listeners: [] });
    expect((await h.app.inject({ url: '/api/v5/gateways/stomp', headers: h.admin })).json()).toMatchObject({ name: 'stomp', status: 'unloaded' });
  });

  it('lists, shows, subscribes and kicks gateway clients, and only those of that gateway', async () => {
    h = await harness();
    h.broker.addClient(client('dev1', { protocol: 'coap' }));
    h.broker.addClient(client('m1'));
    const list = (await h.app.inject({ url: '/api/v5/gateways/coap/clients', headers: h.admin })).json();
    expect(list.data.map((c: { clientid: string }) => c.clientid)).toEqual(['dev1']);
    expect((await h.app.inject({ url: '/api/v5/gateways/coap/clients/m1', headers: h.admin })).statusCode).toBe(404);
    const sub = await h.app.inject({ method: 'POST', url: '/api/v5/gateways/coap/clients/dev1/subscriptions', headers: h.admin, payload: { topic: 'cmd/dev1', qos: 1 } });
    expect(sub.statusCode).toBe(201);
    expect((await h.app.inject({ url: '/api/v5/gateways/coap/clients/dev1/subscriptions', headers: h.admin })).json()).toEqual([
      { topic: 'cmd/dev1', qos: 1, nl: 0, rap: 0, rh: 0, node: 'outpost@127.0.0.1', clientid: 'dev1' },
    ]);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/gateways/coap/clients/dev1/subscriptions/cmd%2Fdev1', headers: h.admin })).statusCode).toBe(204);
    expect(h.broker.subscriptions('dev1')).toEqual([]);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/gateways/coap/clients/dev1', headers: h.admin })).statusCode).toBe(204);
    expect(h.broker.kicked).toEqual(['dev1']);
  });

  it('answers 501 when listeners and gateways are not wired', async () => {
    h = await harness({ bare: true });
    expect((await h.app.inject({ url: '/api/v5/listeners', headers: h.admin })).statusCode).toBe(501);
    expect((await h.app.inject({ url: '/api/v5/gateways', headers: h.admin })).statusCode).toBe(501);
    expect((await h.app.inject({ method: 'POST', url: '/api/v5/reload', headers: h.admin })).statusCode).toBe(501);
  });
});

describe('bridges', () => {
  it('lists status, shows metrics and restarts', async () => {
    h = await harness();
    const list = (await h.app.inject({ url: '/api/v5/bridges', headers: h.admin })).json();
    expect(list[0]).toMatchObject({ id: 'mqtt:upstream', type: 'mqtt', name: 'upstream', enable: true, status: 'connected' });
    const m = (await h.app.inject({ url: '/api/v5/bridges/mqtt:upstream/metrics', headers: h.admin })).json();
    expect(m.metrics).toMatchObject({ matched: 5, success: 4, failed: 1, queuing: 2 });
    expect(m.node_metrics[0].node).toBe('outpost@127.0.0.1');
    expect((await h.app.inject({ method: 'POST', url: '/api/v5/bridges/mqtt:upstream/restart', headers: h.admin })).statusCode).toBe(204);
    expect(h.restarted).toEqual(['mqtt:upstream']);
    expect((await h.app.inject({ method: 'POST', url: '/api/v5/bridges/mqtt:upstream/explode', headers: h.admin })).statusCode).toBe(400);
    const nf = await h.app.inject({ url: '/api/v5/bridges/mqtt:nope', headers: h.admin });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().code).toBe('BRIDGE_NOT_FOUND');
  });
});

describe('reload', () => {
  it('reports success and failure of the runtime reload', async () => {
    h = await harness();
    h.reloads.push({ ok: true }, { ok: false, error: 'mqtt.port: cannot change without restart' });
    const ok = await h.app.inject({ method: 'POST', url: '/api/v5/reload', headers: h.admin });
    expect(ok.json()).toEqual({ ok: true });
    const bad = await h.app.inject({ method: 'POST', url: '/api/v5/reload', headers: h.admin });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'RELOAD_FAILED', message: 'mqtt.port: cannot change without restart' });
  });
});

describe('trace', () => {
  it('starts a client trace, records its connect and publishes, stops and downloads it', async () => {
    h = await harness();
    const start = await h.app.inject({ method: 'POST', url: '/api/v5/trace', headers: h.admin, payload: { name: 'c1-trace', type: 'clientid', clientid: 'c1' } });
    expect(start.statusCode).toBe(200);
    expect(start.json()).toMatchObject({ name: 'c1-trace', type: 'clientid', clientid: 'c1', status: 'running' });
    h.broker.addClient(client('c1'));
    h.broker.addClient(client('c2'));
    await h.app.inject({ method: 'POST', url: '/api/v5/publish', headers: h.admin, payload: { topic: 'x/y', payload: 'from-c1', clientid: 'c1' } });
    await h.app.inject({ method: 'POST', url: '/api/v5/publish', headers: h.admin, payload: { topic: 'x/z', payload: 'from-c2', clientid: 'c2' } });
    const stop = await h.app.inject({ method: 'PUT', url: '/api/v5/trace/c1-trace/stop', headers: h.admin });
    expect(stop.json().status).toBe('stopped');
    const log = (await h.app.inject({ url: '/api/v5/trace/c1-trace/log', headers: h.admin })).body;
    expect(log).toMatch(/c1@127\.0\.0\.1 msg: client_connected/);
    expect(log).toMatch(/msg: publish, topic: x\/y, qos: 0.*payload: from-c1/);
    expect(log).not.toMatch(/c2|from-c2/);
    const list = (await h.app.inject({ url: '/api/v5/trace', headers: h.admin })).json();
    // A plain array, as EMQX answers it.
    expect(list[0].log_size['outpost@127.0.0.1']).toBe(Buffer.byteLength(log));
    // EMQX's chunked log: ?bytes&position, the cursor fed back until hint eof.
    let text = '';
    let position = '0';
    for (let i = 0; i < 100; i++) {
      const chunk = (await h.app.inject({ url: `/api/v5/trace/c1-trace/log?bytes=50&position=${position}`, headers: h.viewer })).json();
      text += chunk.items;
      position = chunk.meta.position;
      expect(chunk.meta.bytes).toBe(50);
      if (chunk.meta.hint === 'eof') break;
    }
    expect(text).toBe(log);
    expect((await h.app.inject({ url: '/api/v5/trace/c1-trace/log?position=zz', headers: h.admin })).json().code).toBe('INVALID_PARAMETER');
    expect((await h.app.inject({ url: '/api/v5/trace/c1-trace/log?bytes=-1', headers: h.admin })).statusCode).toBe(400);
    // EMQX's log_detail: [{node, size, mtime}] with mtime in posix seconds.
    const detail = (await h.app.inject({ url: '/api/v5/trace/c1-trace/log_detail', headers: h.viewer })).json();
    expect(detail).toEqual([{ node: 'outpost@127.0.0.1', size: Buffer.byteLength(log), mtime: expect.any(Number) }]);
    expect(Math.abs(detail[0].mtime - Date.now() / 1000)).toBeLessThan(60);
    expect((await h.app.inject({ url: '/api/v5/trace/none/log_detail', headers: h.admin })).statusCode).toBe(404);
    // EMQX's download: application/x-zip named <name>.zip holding <node>-trace_<name>_<date>.log.
    const dl = await h.app.inject({ url: '/api/v5/trace/c1-trace/download', headers: h.viewer });
    expect(dl.statusCode).toBe(200);
    expect(dl.headers['content-type']).toBe('application/x-zip');
    expect(dl.headers['content-disposition']).toBe('attachment; filename=c1-trace.zip');
    const files = unzipSync(new Uint8Array(dl.rawPayload));
    expect(Object.keys(files)).toEqual([`outpost@127.0.0.1-trace_c1-trace_${new Date(h.broker.clock.now()).toISOString().slice(0, 10)}.log`]);
    expect(Buffer.from(Object.values(files)[0]!).toString()).toBe(log);
    expect((await h.app.inject({ url: '/api/v5/trace/c1-trace/download?node=emqx@10.0.0.9', headers: h.admin })).statusCode).toBe(404);
    expect((await h.app.inject({ url: '/api/v5/trace/none/download', headers: h.admin })).json().code).toBe('NOT_FOUND');
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/trace/c1-trace', headers: h.admin })).statusCode).toBe(204);
    expect((await h.app.inject({ url: '/api/v5/trace/c1-trace/log', headers: h.admin })).statusCode).toBe(404);
  });

  it('validates trace requests', async () => {
    h = await harness();
    const post = (payload: object) => h.app.inject({ method: 'POST', url: '/api/v5/trace', headers: h.admin, payload });
    expect((await post({ name: 't', type: 'clientid' })).statusCode).toBe(400);
    expect((await post({ name: 'bad name', type: 'topic', topic: 'a/#' })).statusCode).toBe(400);
    expect((await post({ name: 't', type: 'topic', topic: 'a/#', end_at: '2000-01-01T00:00:00Z' })).statusCode).toBe(400);
    expect((await post({ name: 't', type: 'topic', topic: 'a/#' })).statusCode).toBe(200);
    const dup = await post({ name: 't', type: 'topic', topic: 'a/#' });
    expect(dup.statusCode).toBe(409);
    expect((await h.app.inject({ method: 'PUT', url: '/api/v5/trace/nope/stop', headers: h.admin })).statusCode).toBe(404);
  });
});
