// /mqtt/delayed/messages as EMQX 5 (emqx_delayed_api.erl): paged list, show with base64 payload,
// delete one by node/msgid, delete all for a topic, and EMQX's error codes.
import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../../src/core/message.js';
import { harnessEachTest, type Harness } from '../harness.js';

let h: Harness;
harnessEachTest((x) => (h = x));
const get = (url: string) => h.app.inject({ url, headers: h.admin });
const del = (url: string, headers = h.admin) => h.app.inject({ method: 'DELETE', url, headers });

function seed(): { id: number; hex: string }[] {
  const now = h.broker.clock.now();
  return [
    { topic: 't/a', secs: 30, payload: Buffer.from('hello') },
    { topic: 't/b', secs: 10, payload: Buffer.alloc(3000, 1) },
    { topic: 't/a', secs: 60, payload: Buffer.from('later') },
  ].map(({ topic, secs, payload }) => {
    const message = createMessage({ topic, payload, qos: 1, retain: false, from: 'pub1', fromUsername: 'alice', now });
    h.broker.delayed.set(message.id, { message, due: now + secs * 1000 });
    return { id: message.id, hex: message.id.toString(16).toUpperCase() };
  });
}

describe('/api/v5/mqtt/delayed/messages', () => {
  it('lists soonest first with EMQX fields and pages', async () => {
    const [a, b] = seed();
    h.broker.clock.advance(4_000);
    const r = await get('/api/v5/mqtt/delayed/messages?limit=2');
    expect(r.statusCode).toBe(200);
    const { data, meta } = r.json();
    expect(meta).toMatchObject({ page: 1, limit: 2, count: 3 });
    expect(data.map((m: { msgid: string }) => m.msgid)).toEqual([b!.hex, a!.hex]);
    expect(data[1]).toEqual({
      msgid: a!.hex,
      node: h.broker.node,
      publish_at: '2026-11-22T00:00:00.000Z',
      delayed_interval: 30,
      delayed_remaining: 26,
      expected_at: '2026-11-22T00:00:30.000Z',
      topic: 't/a',
      qos: 1,
      from_clientid: 'pub1',
      from_username: 'alice',
    });
  });

  it('shows one with its payload in base64 (PAYLOAD_TOO_LARGE above 2048 bytes) and deletes it', async () => {
    const [a, b] = seed();
    const one = await get(`/api/v5/mqtt/delayed/messages/${h.broker.node}/${a!.hex}`);
    expect(one.json()).toMatchObject({ msgid: a!.hex, payload: Buffer.from('hello').toString('base64') });
    expect((await get(`/api/v5/mqtt/delayed/messages/${h.broker.node}/${b!.hex}`)).json().payload).toBe('PAYLOAD_TOO_LARGE');
    expect((await del(`/api/v5/mqtt/delayed/messages/${h.broker.node}/${a!.hex}`, h.viewer)).statusCode).toBe(403);
    expect((await del(`/api/v5/mqtt/delayed/messages/${h.broker.node}/${a!.hex}`)).statusCode).toBe(204);
    expect(h.broker.delayed.has(a!.id)).toBe(false);
    const again = await get(`/api/v5/mqtt/delayed/messages/${h.broker.node}/${a!.hex}`);
    expect([again.statusCode, again.json().code]).toEqual([404, 'MESSAGE_ID_NOT_FOUND']);
    const badId = await get(`/api/v5/mqtt/delayed/messages/${h.broker.node}/xyz`);
    expect([badId.statusCode, badId.json().code]).toEqual([400, 'MESSAGE_ID_SCHEMA_ERROR']);
    const badNode = await get(`/api/v5/mqtt/delayed/messages/other@host/${b!.hex}`);
    expect([badNode.statusCode, badNode.json().code]).toEqual([400, 'INVALID_NODE']);
  });

  it('DELETE by topic cancels every pending message for that topic', async () => {
    const [, b] = seed();
    expect((await del(`/api/v5/mqtt/delayed/messages/${encodeURIComponent('t/a')}`)).statusCode).toBe(204);
    expect([...h.broker.delayed.keys()]).toEqual([b!.id]);
    const none = await del(`/api/v5/mqtt/delayed/messages/${encodeURIComponent('t/a')}`);
    expect([none.statusCode, none.json().code]).toEqual([404, 'MESSAGE_NOT_FOUND']);
    expect((await del(`/api/v5/mqtt/delayed/messages/${encodeURIComponent('t/#')}`)).json().code).toBe('INVALID_TOPIC');
  });
});
