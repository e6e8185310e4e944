// POST /publish(/bulk) answers and the retainer message endpoints.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client } from '../fake-broker.js';
import { harness, type Harness } from '../harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
  h.broker.addClient(client('sub'));
  h.broker.subscribeFor('sub', 't/#', { qos: 1, nl: false, rap: false, rh: 0, subId: 0 });
});
afterEach(async () => {
  await h.close();
});

const post = (url: string, payload: unknown) => h.app.inject({ method: 'POST', url, headers: h.admin, payload: payload as object });

describe('POST /api/v5/publish', () => {
  it('publishes and answers 200 {id} when someone is subscribed', async () => {
    const r = await post('/api/v5/publish', {
      topic: 't/1',
      payload: 'hello',
      qos: 1,
      retain: false,
      properties: { message_expiry_interval: 60, user_properties: { k: 'v' }, content_type: 'text/plain', payload_format_indicator: 1, response_topic: 'r', correlation_data: 'c' },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().id).toMatch(/^[0-9A-F]{32}$/);
    const m = h.broker.published[0]!;
    expect(m.topic).toBe('t/1');
    expect(m.payload.toString()).toBe('hello');
    expect(m.qos).toBe(1);
    expect(m.expiresAt).toBe(h.broker.clock.t + 60_000);
    expect(m.props).toEqual({ payloadFormatIndicator: true, contentType: 'text/plain', responseTopic: 'r', correlationData: Buffer.from('c'), userProperties: [['k', 'v']] });
  });

  it('answers 202 with reason code 16 when nobody is subscribed', async () => {
    const r = await post('/api/v5/publish', { topic: 'other', payload: 'x' });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ reason_code: 16, message: 'no_matching_subscribers' });
  });

  it('decodes base64 payloads and rejects invalid ones', async () => {
    await post('/api/v5/publish', { topic: 't/b', payload: Buffer.from([0, 1, 255]).toString('base64'), payload_encoding: 'base64' });
    expect([...h.broker.published[0]!.payload]).toEqual([0, 1, 255]);
    const bad = await post('/api/v5/publish', { topic: 't/b', payload: '***', payload_encoding: 'base64' });
    expect(bad.statusCode).toBe(400);
  });

  it('rejects wildcard and empty topics with reason code 144', async () => {
    for (const topic of ['t/+', 't/#', '']) {
      const r = await post('/api/v5/publish', { topic, payload: 'x' });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toEqual({ reason_code: 144, message: 'invalid_topic' });
    }
    expect(h.broker.published).toHaveLength(0);
  });

  it('rejects a payload above mqtt.max_packet_size with reason code 149', async () => {
    const r = await post('/api/v5/publish', { topic: 't/big', payload: 'x'.repeat(h.config.mqtt.max_packet_size + 1) });
    expect(r.statusCode).toBe(400);
    expect(r.json().reason_code).toBe(149);
  });

  it('maps broker refusals to reason codes', async () => {
    h.broker.nextPublishFails = 'quota_exceeded';
    const q = await post('/api/v5/publish', { topic: 't/1', payload: 'x' });
    expect(q.statusCode).toBe(503);
    expect(q.json().reason_code).toBe(151);
    h.broker.nextPublishFails = 'not_authorized';
    expect((await post('/api/v5/publish', { topic: 't/1', payload: 'x' })).json().reason_code).toBe(135);
  });

  it('validates the body', async () => {
    const r = await post('/api/v5/publish', { topic: 't/1', qos: 7 });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('BAD_REQUEST');
  });
});

describe('POST /api/v5/publish/bulk', () => {
  it('answers one result per message: 200 when all matched, 202 when some did not', async () => {
    const all = await post('/api/v5/publish/bulk', [
      { topic: 't/1', payload: 'a' },
      { topic: 't/2', payload: 'b' },
    ]);
    expect(all.statusCode).toBe(200);
    expect(all.json()).toHaveLength(2);
    const some = await post('/api/v5/publish/bulk', [
      { topic: 't/1', payload: 'a' },
      { topic: 'x', payload: 'b' },
    ]);
    expect(some.statusCode).toBe(202);
    expect(some.json()[1]).toMatchObject({ reason_code: 16 });
    const bad = await post('/api/v5/publish/bulk', [{ topic: 't/+', payload: 'a' }]);
    expect(bad.statusCode).toBe(400);
  });
});

describe('retainer', () => {
  beforeEach(async () => {
    for (const t of ['r/b', 'r/a', 'q/1']) await post('/api/v5/publish', { topic: t, payload: `v-${t}`, retain: true, qos: 1 });
  });

  it('lists retained messages with a topic filter and pagination', async () => {
    const r = (await h.app.inject({ url: '/api/v5/mqtt/retainer/messages?topic=r/%23&limit=1', headers: h.admin })).json();
    expect(r.meta).toEqual({ page: 1, limit: 1, count: 2, hasnext: true });
    expect(r.data[0]).toMatchObject({ topic: 'r/a', qos: 1, from_clientid: 'http_api', from_username: null });
    expect(r.data[0].msgid).toMatch(/^[0-9A-F]{32}$/);
    expect(r.data[0].publish_at).toBe(new Date(h.broker.clock.t).toISOString());
    expect(r.data[0]).not.toHaveProperty('payload');
  });

  it('gets one with its payload in base64, deletes it, then 404s', async () => {
    const url = '/api/v5/mqtt/retainer/message/r%2Fa';
    const m = (await h.app.inject({ url, headers: h.admin })).json();
    expect(Buffer.from(m.payload, 'base64').toString()).toBe('v-r/a');
    expect((await h.app.inject({ method: 'DELETE', url, headers: h.admin })).statusCode).toBe(204);
    const nf = await h.app.inject({ url, headers: h.admin });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().code).toBe('NOT_FOUND');
    expect((await h.app.inject({ method: 'DELETE', url, headers: h.admin })).statusCode).toBe(404);
  });
});
