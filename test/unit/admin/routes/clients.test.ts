// /clients, /subscriptions and /topics: EMQX item shapes, filters, pagination and errors.
import { beforeEach, describe, expect, it } from 'vitest';
import { client } from '../fake-broker.js';
import { harnessEachTest, type Harness } from '../harness.js';

let h: Harness;
harnessEachTest((x) => (h = x));

const get = (url: string) => h.app.inject({ url, headers: h.admin });
const post = (url: string, payload: unknown) => h.app.inject({ method: 'POST', url, headers: h.admin, payload: payload as object });

function seed(n: number): void {
  for (let i = 1; i <= n; i++) {
    h.broker.addClient(
      client(`c${i}`, {
        username: i % 2 ? 'odd' : 'even',
        protoVer: i % 3 === 0 ? 4 : 5,
        connected: i !== n,
        disconnectedAt: i === n ? Date.parse('2026-11-21T11:00:00Z') : 0,
        createdAt: Date.parse('2026-11-21T10:00:00Z') + i * 1000,
        connectedAt: Date.parse('2026-11-21T10:00:00Z') + i * 1000,
      }),
    );
  }
}

describe('GET /api/v5/clients', () => {
  it('pages with {data, meta:{page, limit, count, hasnext}}', async () => {
    seed(5);
    const r = await get('/api/v5/clients?page=2&limit=2');
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.meta).toEqual({ page: 2, limit: 2, count: 5, hasnext: true });
    expect(body.data.map((c: { clientid: string }) => c.clientid)).toEqual(['c3', 'c4']);
    const last = (await get('/api/v5/clients?page=3&limit=2')).json();
    expect(last.meta.hasnext).toBe(false);
    expect(last.data).toHaveLength(1);
  });

  it('returns EMQX client fields with RFC 3339 times', async () => {
    seed(1);
    h.broker.clientMap.get('c1')!.connected = true;
    const c = (await get('/api/v5/clients')).json().data[0];
    expect(c).toMatchObject({
      clientid: 'c1',
      username: 'odd',
      node: 'outpost@127.0.0.1',
      ip_address: '127.0.0.1',
      port: 50000,
      proto_name: 'MQTT',
      proto_ver: 5,
      keepalive: 60,
      clean_start: true,
      connected: true,
      created_at: '2026-11-21T10:00:01.000Z',
      is_bridge: false,
      subscriptions_cnt: 0,
      subscriptions_max: 'infinity',
      inflight_max: 32,
      mqueue_max: 1000,
      awaiting_rel_max: 100,
    });
    for (const k of ['recv_msg', 'send_msg', 'recv_oct', 'send_oct', 'mqueue_len', 'mqueue_dropped', 'inflight_cnt', 'awaiting_rel_cnt', 'expiry_interval']) {
      expect(typeof c[k]).toBe('number');
    }
  });

  it('filters by username, conn_state, proto_ver, like_clientid and time ranges', async () => {
    seed(6);
    const ids = async (q: string) => (await get(`/api/v5/clients?${q}`)).json().data.map((c: { clientid: string }) => c.clientid);
    expect(await ids('username=even')).toEqual(['c2', 'c4', 'c6']);
    expect(await ids('conn_state=disconnected')).toEqual(['c6']);
    expect(await ids('conn_state=connected&proto_ver=4')).toEqual(['c3']);
    expect(await ids('like_clientid=5')).toEqual(['c5']);
    expect(await ids('clientid=c1&clientid=c2')).toEqual(['c1', 'c2']);
    expect(await ids('gte_created_at=2026-11-21T10:00:04Z')).toEqual(['c4', 'c5', 'c6']);
    expect(await ids(`lte_connected_at=${Date.parse('2026-11-21T10:00:02Z')}`)).toEqual(['c1', 'c2']);
    expect(await ids('node=other@host')).toEqual([]);
  });

  it('rejects bad paging and filter values with 400 BAD_REQUEST', async () => {
    for (const q of ['page=0', 'limit=10001', 'limit=x', 'conn_state=sleepy', 'clean_start=maybe', 'gte_created_at=yesterday']) {
      const r = await get(`/api/v5/clients?${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json().code).toBe('BAD_REQUEST');
    }
  });
});

describe('one client', () => {
  it('GET /clients/{id} answers the client or 404 CLIENTID_NOT_FOUND', async () => {
    seed(1);
    expect((await get('/api/v5/clients/c1')).json().clientid).toBe('c1');
    const r = await get('/api/v5/clients/nope');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ code: 'CLIENTID_NOT_FOUND', message: 'Client ID not found' });
  });

  it('DELETE /clients/{id} kicks (204) and 404s an unknown id', async () => {
    seed(2);
    const r = await h.app.inject({ method: 'DELETE', url: '/api/v5/clients/c1', headers: h.admin });
    expect(r.statusCode).toBe(204);
    expect(h.broker.kicked).toEqual(['c1']);
    expect((await h.app.inject({ method: 'DELETE', url: '/api/v5/clients/c1', headers: h.admin })).statusCode).toBe(404);
  });

  it('POST /clients/kickout/bulk kicks every listed client', async () => {
    seed(3);
    const r = await post('/api/v5/clients/kickout/bulk', ['c1', 'c3', 'ghost']);
    expect(r.statusCode).toBe(204);
    expect(h.broker.kicked).toEqual(['c1', 'c3']);
  });

  it('subscribes, lists and unsubscribes on behalf of a client', async () => {
    seed(1);
    const s = await post('/api/v5/clients/c1/subscribe', { topic: 't/1', qos: 1, nl: 1 });
    expect(s.statusCode).toBe(200);
    expect(s.json()).toEqual({ topic: 't/1', qos: 1, nl: 1, rap: 0, rh: 0, node: 'outpost@127.0.0.1', clientid: 'c1' });
    const bulk = await post('/api/v5/clients/c1/subscribe/bulk', [{ topic: 'a/#' }, { topic: '$share/g/b', qos: 2 }]);
    expect(bulk.json()).toHaveLength(2);
    const list = (await get('/api/v5/clients/c1/subscriptions')).json();
    expect(list.map((x: { topic: string }) => x.topic).sort()).toEqual(['$share/g/b', 'a/#', 't/1']);
    expect((await post('/api/v5/clients/c1/unsubscribe', { topic: 't/1' })).statusCode).toBe(204);
    expect((await post('/api/v5/clients/c1/unsubscribe/bulk', [{ topic: 'a/#' }])).statusCode).toBe(204);
    expect((await get('/api/v5/clients/c1/subscriptions')).json().map((x: { topic: string }) => x.topic)).toEqual(['$share/g/b']);
  });

  it('validates subscribe bodies and unknown clients', async () => {
    seed(1);
    const bad = await post('/api/v5/clients/c1/subscribe', { topic: 't', qos: 3 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^qos/);
    expect((await post('/api/v5/clients/ghost/subscribe', { topic: 't' })).statusCode).toBe(404);
    expect((await get('/api/v5/clients/ghost/subscriptions')).statusCode).toBe(404);
  });
});

describe('subscriptions and topics', () => {
  beforeEach(() => {
    seed(2);
    h.broker.subscribeFor('c1', 'sensors/+/temp', { qos: 1, nl: false, rap: true, rh: 0, subId: 0 });
    h.broker.subscribeFor('c1', '$share/g1/jobs/#', { qos: 2, nl: false, rap: false, rh: 0, subId: 0 });
    h.broker.subscribeFor('c2', 'sensors/a/temp', { qos: 0, nl: false, rap: false, rh: 2, subId: 0 });
  });

  it('GET /subscriptions lists every subscription with EMQX fields', async () => {
    const r = (await get('/api/v5/subscriptions')).json();
    expect(r.meta.count).toBe(3);
    expect(r.data).toContainEqual({ node: 'outpost@127.0.0.1', topic: 'sensors/+/temp', clientid: 'c1', qos: 1, nl: 0, rap: 1, rh: 0, durable: false });
  });

  it('filters by clientid, qos, share_group and match_topic', async () => {
    const topics = async (q: string) => (await get(`/api/v5/subscriptions?${q}`)).json().data.map((s: { topic: string }) => s.topic).sort();
    expect(await topics('clientid=c2')).toEqual(['sensors/a/temp']);
    expect(await topics('qos=2')).toEqual(['$share/g1/jobs/#']);
    expect(await topics('share_group=g1')).toEqual(['$share/g1/jobs/#']);
    expect(await topics('match_topic=sensors/a/temp')).toEqual(['sensors/+/temp', 'sensors/a/temp']);
    expect(await topics('match_topic=jobs/1')).toEqual(['$share/g1/jobs/#']);
    expect((await get('/api/v5/subscriptions?qos=5')).statusCode).toBe(400);
  });

  it('GET /topics lists routes and /topics/{topic} finds one or 404s', async () => {
    const r = (await get('/api/v5/topics')).json();
    expect(r.data).toEqual([
      { topic: 'jobs/#', node: 'outpost@127.0.0.1' },
      { topic: 'sensors/+/temp', node: 'outpost@127.0.0.1' },
      { topic: 'sensors/a/temp', node: 'outpost@127.0.0.1' },
    ]);
    expect((await get('/api/v5/topics/sensors%2F%2B%2Ftemp')).json()).toEqual([{ topic: 'sensors/+/temp', node: 'outpost@127.0.0.1' }]);
    const nf = await get('/api/v5/topics/nope');
    expect(nf.statusCode).toBe(404);
    expect(nf.json().code).toBe('TOPIC_NOT_FOUND');
  });
});
