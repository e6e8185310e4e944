// EMQX's device-request API over HTTP: POST /api/v5/gateways/coap/clients/{id}/request reaches the
// CoAP gateway and relays its answer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

describe('CoAP device-request API', () => {
  let d: Daemon;
  let auth: string;
  beforeAll(async () => {
    d = await startDaemon({ config: '[gateway.coap]\nenable = true\n[gateway.coap.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n' });
    auth = 'Basic ' + Buffer.from(readFileSync(join(d.dataDir, 'api-local.key'), 'utf8').trim()).toString('base64');
  });
  afterAll(async () => {
    await d.stop();
    d.cleanup();
  });

  const post = (id: string, body: unknown) =>
    fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/gateways/coap/clients/${id}/request`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers 404 with an EMQX error body for a device that is not connected', async () => {
    const r = await post('nobody', { method: 'get', uri: '/sensors/temp', timeout: '2s', content_type: 'text/plain', payload: '' });
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: expect.any(String) });
  });

  it('answers 400 for a malformed request body', async () => {
    const r = await post('nobody', { method: 'fly', uri: 42 });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('is 404 for a gateway that is not running', async () => {
    const r = await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/gateways/mqttsn/clients/x/request`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(r.status).toBe(404);
  });
});
