// MQTT-SN devices as first-class clients in the HTTP API: listed with protocol data, kickable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { uid } from '../helpers/mqtt-clients.js';
import { SnClient } from '../helpers/mqttsn-client.js';

let d: Daemon;
let api: string;
const opened: SnClient[] = [];

beforeAll(async () => {
  d = await startDaemon({
    config: `
[api]
bind = "127.0.0.1"
port = 0
auth = false

[gateway.mqttsn]
enable = true

[gateway.mqttsn.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`,
  });
  api = `http://127.0.0.1:${d.ports['api:http']}`;
});

afterAll(async () => {
  for (const c of opened) await c.close();
  await d?.stop();
  d?.cleanup();
});

async function device(id: string): Promise<SnClient> {
  const c = await SnClient.udp(d.ports['mqttsn:udp:default']!);
  opened.push(c);
  expect(await c.connect(id)).toBe(0);
  return c;
}

describe('MQTT-SN clients in the HTTP API', () => {
  it('lists a connected device under /api/v5/gateways/mqttsn/clients with proto_ver 1.2 (2)', async () => {
    expect(d.ports['api:http']).toBeGreaterThan(0);
    const id = uid('sn');
    await device(id);
    const res = await fetch(`${api}/api/v5/gateways/mqttsn/clients`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { clientid: string; proto_ver?: string; connected?: boolean }[] };
    const me = body.data.find((x) => x.clientid === id);
    expect(me).toMatchObject({ clientid: id, proto_ver: '1.2', connected: true });
  });

  it('DELETE /api/v5/gateways/mqttsn/clients/{id} kicks the device (it gets DISCONNECT)', async () => {
    const id = uid('kick');
    const c = await device(id);
    const res = await fetch(`${api}/api/v5/gateways/mqttsn/clients/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await c.next('disconnect')).toEqual({ type: 'disconnect', duration: null });
  });
});
