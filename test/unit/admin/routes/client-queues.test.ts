// GET /clients/{id}/mqueue_messages, /inflight_messages and /clients_v2: EMQX 5's cursor pages
// (emqx_mgmt_api_clients.erl), their meta, payload options and errors, over the fake broker.
import { describe, expect, it } from 'vitest';
import type { DeliverySummary } from '../../../../src/broker/api.js';
import { createMessage } from '../../../../src/core/message.js';
import type { QoS } from '../../../../src/core/types.js';
import { client } from '../fake-broker.js';
import { harnessEachTest, type Harness } from '../harness.js';

let h: Harness;
harnessEachTest((x) => (h = x));

const get = (url: string) => h.app.inject({ url, headers: h.admin });

function delivery(seq: number, payload: string | Buffer, qos: QoS = 1, from = 'pub', fromUsername: string | null = null): DeliverySummary {
  const message = createMessage({ topic: `t/${seq}`, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain: false, from, fromUsername, now: 1_790_000_000_000 + seq });
  return { seq, message, qos };
}

function withQueues(id: string, mqueue: DeliverySummary[], inflight: DeliverySummary[] = []): void {
  h.broker.addClient(client(id));
  h.broker.queues.set(id, { mqueue, inflight });
}

describe('GET /api/v5/clients/{clientid}/mqueue_messages', () => {
  it('lists queued messages in order with EMQX fields, base64 payloads and {start, position}', async () => {
    withQueues('q1', [delivery(3, 'one', 1, 'alice', 'al'), delivery(4, 'two', 0), delivery(7, 'three', 2)]);
    const r = await get('/api/v5/clients/q1/mqueue_messages');
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.meta).toEqual({ start: '3_0', position: '7_0' });
    expect(body.data).toHaveLength(3);
    const first = body.data[0];
    expect(first).toEqual({
      msgid: expect.stringMatching(/^[0-9A-F]{32}$/),
      topic: 't/3',
      qos: 1,
      publish_at: 1_790_000_000_003,
      from_clientid: 'alice',
      from_username: 'al',
      inserted_at: '3',
      mqueue_priority: 0,
      payload: Buffer.from('one').toString('base64'),
    });
    // No username is an empty string, as EMQX's headers default.
    expect(body.data[1].from_username).toBe('');
    expect(body.data.map((m: { payload: string }) => Buffer.from(m.payload, 'base64').toString())).toEqual(['one', 'two', 'three']);
  });

  it('pages with ?limit&position until an empty page that echoes the position', async () => {
    withQueues('q2', [1, 2, 3, 4, 5].map((i) => delivery(i * 10, `m${i}`)));
    const seen: string[] = [];
    let position = 'none';
    for (let page = 0; page < 3; page++) {
      const r = (await get(`/api/v5/clients/q2/mqueue_messages?limit=2&position=${position}`)).json();
      expect(r.meta.start).toBe('10_0');
      const last = r.data[r.data.length - 1];
      expect(r.meta.position).toBe(`${last.inserted_at}_${last.mqueue_priority}`);
      seen.push(...r.data.map((m: { payload: string }) => Buffer.from(m.payload, 'base64').toString()));
      position = r.meta.position;
    }
    expect(seen).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    const end = (await get(`/api/v5/clients/q2/mqueue_messages?limit=2&position=${position}`)).json();
    expect(end).toEqual({ data: [], meta: { start: '10_0', position: '50_0' } });
  });

  it('continues after a position whose message has left the queue meanwhile', async () => {
    withQueues('q3', [delivery(5, 'a'), delivery(6, 'b'), delivery(9, 'c')]);
    const r = (await get('/api/v5/clients/q3/mqueue_messages?position=4_0')).json();
    expect(r.data.map((m: { inserted_at: string }) => m.inserted_at)).toEqual(['5', '6', '9']);
    const r2 = (await get('/api/v5/clients/q3/mqueue_messages?position=7_0')).json();
    expect(r2.data.map((m: { inserted_at: string }) => m.inserted_at)).toEqual(['9']);
  });

  it('an empty queue answers start and position none', async () => {
    withQueues('q4', []);
    expect((await get('/api/v5/clients/q4/mqueue_messages')).json()).toEqual({ data: [], meta: { start: 'none', position: 'none' } });
  });

  it('payload=plain gives text, payload=none leaves it out, non-UTF-8 plain is 400 INVALID_PARAMETER', async () => {
    withQueues('q5', [delivery(1, 'héllo'), delivery(2, 'x')]);
    const plain = (await get('/api/v5/clients/q5/mqueue_messages?payload=plain')).json();
    expect(plain.data.map((m: { payload: string }) => m.payload)).toEqual(['héllo', 'x']);
    const none = (await get('/api/v5/clients/q5/mqueue_messages?payload=none')).json();
    expect(none.data).toHaveLength(2);
    expect('payload' in none.data[0]).toBe(false);
    withQueues('q6', [delivery(1, Buffer.from([0xff, 0xfe]))]);
    const bad = await get('/api/v5/clients/q6/mqueue_messages?payload=plain');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'INVALID_PARAMETER', message: 'Some message payloads are not JSON serializable' });
    expect((await get('/api/v5/clients/q6/mqueue_messages')).json().data[0].payload).toBe('//4=');
    // Only returned payloads must be text: one cut off by max_payload_bytes does not fail the page.
    withQueues('q9', [delivery(1, 'ok'), delivery(2, Buffer.from([0xff]))]);
    const cut = await get('/api/v5/clients/q9/mqueue_messages?payload=plain&max_payload_bytes=2');
    expect(cut.statusCode).toBe(200);
    expect(cut.json()).toEqual({ data: [expect.objectContaining({ payload: 'ok' })], meta: { start: '1_0', position: '1_0' } });
  });

  it('max_payload_bytes cuts a page but always returns the first message, and the next page resumes at the cut', async () => {
    withQueues('q7', [delivery(1, 'aaaa'), delivery(2, 'bbbb'), delivery(3, 'cccc')]);
    const one = (await get('/api/v5/clients/q7/mqueue_messages?max_payload_bytes=1')).json();
    expect(one.data).toHaveLength(1);
    expect(one.meta.position).toBe('1_0');
    // base64 of 4 bytes is 8 characters: 16 fits two.
    const two = (await get(`/api/v5/clients/q7/mqueue_messages?max_payload_bytes=16&position=${one.meta.position}`)).json();
    expect(two.data.map((m: { inserted_at: string }) => m.inserted_at)).toEqual(['2', '3']);
    expect((await get('/api/v5/clients/q7/mqueue_messages?max_payload_bytes=1KB')).json().data).toHaveLength(3);
  });

  it('rejects bad parameters as EMQX does', async () => {
    withQueues('q8', [delivery(1, 'a')]);
    for (const qs of ['limit=0', 'limit=limit', 'limit=10001', 'limit=-5&position=not-valid', 'max_payload_bytes=0', 'max_payload_bytes=-1', 'max_payload_bytes=0MB', 'max_payload_bytes=-1MB', 'payload=false']) {
      const r = await get(`/api/v5/clients/q8/mqueue_messages?${qs}`);
      expect(r.statusCode, qs).toBe(400);
      expect(r.json().code, qs).toBe('BAD_REQUEST');
    }
    for (const qs of ['limit=10&position=not-valid', 'position=12', 'position=x_0', 'position=1_x']) {
      const r = await get(`/api/v5/clients/q8/mqueue_messages?${qs}`);
      expect(r.statusCode, qs).toBe(400);
      expect(r.json(), qs).toEqual({ code: 'INVALID_PARAMETER', message: 'position_limit_invalid' });
    }
    expect((await get('/api/v5/clients/q8/mqueue_messages?position=1_infinity')).statusCode).toBe(200);
  });

  it('404 CLIENTID_NOT_FOUND for an unknown client', async () => {
    for (const kind of ['mqueue', 'inflight']) {
      const r = await get(`/api/v5/clients/nobody/${kind}_messages`);
      expect(r.statusCode).toBe(404);
      expect(r.json()).toEqual({ code: 'CLIENTID_NOT_FOUND', message: 'Client ID not found' });
    }
  });
});

describe('GET /api/v5/clients/{clientid}/inflight_messages', () => {
  it('pages by a plain integer position, without mqueue_priority', async () => {
    withQueues('i1', [], [delivery(2, 'x'), delivery(3, 'y'), delivery(8, 'z')]);
    const r = (await get('/api/v5/clients/i1/inflight_messages?limit=2')).json();
    expect(r.meta).toEqual({ start: '2', position: '3' });
    expect(r.data.map((m: { inserted_at: string }) => m.inserted_at)).toEqual(['2', '3']);
    expect('mqueue_priority' in r.data[0]).toBe(false);
    const next = (await get(`/api/v5/clients/i1/inflight_messages?limit=2&position=${r.meta.position}`)).json();
    expect(next.meta).toEqual({ start: '2', position: '8' });
    expect(next.data.map((m: { payload: string }) => Buffer.from(m.payload, 'base64').toString())).toEqual(['z']);
    const bad = await get('/api/v5/clients/i1/inflight_messages?position=3_0');
    expect(bad.json()).toEqual({ code: 'INVALID_PARAMETER', message: 'position_limit_invalid' });
  });
});

describe('GET /api/v5/clients_v2', () => {
  function seed(n: number): void {
    for (let i = 1; i <= n; i++) h.broker.addClient(client(`v${i}`, { username: i % 2 ? 'odd' : 'even' }));
  }

  it('walks all clients with ?limit and the cursor; meta is {count} plus cursor while more follow', async () => {
    seed(5);
    const pages: { data: { clientid: string }[]; meta: Record<string, unknown> }[] = [];
    let url = '/api/v5/clients_v2?limit=2';
    for (;;) {
      const r = await get(url);
      expect(r.statusCode).toBe(200);
      const body = r.json();
      pages.push(body);
      if (body.meta.cursor === undefined) break;
      url = `/api/v5/clients_v2?limit=2&cursor=${encodeURIComponent(body.meta.cursor)}`;
    }
    expect(pages.map((p) => p.data.map((c) => c.clientid))).toEqual([['v1', 'v2'], ['v3', 'v4'], ['v5']]);
    expect(pages.map((p) => Object.keys(p.meta).sort())).toEqual([['count', 'cursor'], ['count', 'cursor'], ['count']]);
    expect(pages.map((p) => p.meta.count)).toEqual([2, 2, 1]);
    expect(pages[0]!.data[0]).toMatchObject({ clientid: 'v1', node: 'outpost@127.0.0.1', connected: true });
  });

  it('a cursor survives clients leaving and joining before it', async () => {
    seed(4);
    const first = (await get('/api/v5/clients_v2?limit=2')).json();
    h.broker.kick('v1');
    h.broker.addClient(client('v0'));
    const next = (await get(`/api/v5/clients_v2?limit=2&cursor=${first.meta.cursor}`)).json();
    expect(next.data.map((c: { clientid: string }) => c.clientid)).toEqual(['v3', 'v4']);
    expect(next.meta).toEqual({ count: 2 });
  });

  it('applies the /clients filters, defaults to limit 100, and rejects a bad cursor or limit', async () => {
    seed(5);
    const odd = (await get('/api/v5/clients_v2?username=odd&limit=1')).json();
    expect(odd.data.map((c: { clientid: string }) => c.clientid)).toEqual(['v1']);
    const rest = (await get(`/api/v5/clients_v2?username=odd&limit=5&cursor=${odd.meta.cursor}`)).json();
    expect(rest.data.map((c: { clientid: string }) => c.clientid)).toEqual(['v3', 'v5']);
    expect((await get('/api/v5/clients_v2')).json().meta).toEqual({ count: 5 });
    const none = (await get('/api/v5/clients_v2?like_clientid=zzz')).json();
    expect(none).toEqual({ data: [], meta: { count: 0 } });
    const bad = await get('/api/v5/clients_v2?cursor=not-a-cursor');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'BAD_REQUEST', message: 'bad cursor' });
    expect((await get('/api/v5/clients_v2?limit=0')).statusCode).toBe(400);
  });
});
