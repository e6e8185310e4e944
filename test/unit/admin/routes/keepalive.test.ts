// PUT /clients/:clientid/keepalive as EMQX 5 (emqx_mgmt_api_clients.erl set_keepalive): 0..65535,
// the client's info back, 404 when not connected, 400 PARAM_ERROR when the protocol cannot.
import { describe, expect, it } from 'vitest';
import { client } from '../fake-broker.js';
import { harnessEachTest, type Harness } from '../harness.js';

let h: Harness;
harnessEachTest((x) => (h = x));
const put = (id: string, payload: unknown, headers = h.admin) => h.app.inject({ method: 'PUT', url: `/api/v5/clients/${id}/keepalive`, headers, payload: payload as object });

describe('PUT /api/v5/clients/:clientid/keepalive', () => {
  it('sets the interval and answers the client info with it', async () => {
    h.broker.addClient(client('c1', { keepalive: 60 }));
    const r = await put('c1', { interval: 5 });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ clientid: 'c1', keepalive: 5 });
    expect((await put('c1', { interval: 0 })).json().keepalive).toBe(0);
  });

  it('refuses out-of-range or missing intervals, unknown or offline clients, viewers, and gateway sessions', async () => {
    h.broker.addClient(client('c1'));
    h.broker.addClient(client('off', { connected: false }));
    h.broker.addClient(client('gw', { protocol: 'stomp' }));
    h.broker.fixedKeepalive.add('gw');
    for (const body of [{ interval: 65536 }, { interval: -1 }, { interval: 1.5 }, {}]) expect((await put('c1', body)).statusCode).toBe(400);
    for (const id of ['nope', 'off']) {
      const r = await put(id, { interval: 5 });
      expect([r.statusCode, r.json().code]).toEqual([404, 'CLIENTID_NOT_FOUND']);
    }
    const gw = await put('gw', { interval: 5 });
    expect([gw.statusCode, gw.json().code]).toEqual([400, 'PARAM_ERROR']);
    expect((await put('c1', { interval: 5 }, h.viewer)).statusCode).toBe(403);
  });
});
