// ExProto over DTLS (EMQX's exproto dtls listener): the shipped example line handler, a device that
// completes a PSK handshake with a key from [psk_authentication] and speaks the line protocol in
// DTLS records. The PSK identity authenticates it (no password) and is its username.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DtlsClient } from '../../gateways/transport/dtls/client.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, until, type TestClient } from '../helpers/mqtt-clients.js';
import { exprotoConfig, freePort, startLineHandler, type LineHandler } from './exproto-harness.js';

let d: Daemon;
let ex: LineHandler | undefined;
let app: TestClient;
const API_AUTH = { authorization: `Basic ${Buffer.from('ops:ops-secret').toString('base64')}`, 'content-type': 'application/json' };

beforeAll(async () => {
  const adapterPort = await freePort();
  const handlerPort = await freePort();
  ex = await startLineHandler(adapterPort, handlerPort);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-exproto-dtls-'));
  writeFileSync(join(dir, 'psk.txt'), 'line-dev:line-dev-key-01\n');
  writeFileSync(join(dir, 'keys'), 'ops:ops-secret\n');
  const extra = `
[gateway.exproto.listeners.dtls.default]
bind = "127.0.0.1"
port = 0

[psk_authentication]
enable = true
init_file = ${JSON.stringify(join(dir, 'psk.txt'))}

[api]
port = 0
api_key_bootstrap_file = ${JSON.stringify(join(dir, 'keys'))}
`;
  d = await startDaemon({ config: exprotoConfig({ adapterPort, handlerPort, extra }) });
  app = await connectClient(d.mqttUrl, { clientId: uid('app') });
  await app.sub('line/#', { qos: 1 });
}, 30_000);

afterAll(async () => {
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  await ex?.stop();
});

describe('ExProto over DTLS', () => {
  it('a PSK device speaks the line protocol through DTLS: authenticated by its identity (its username), kicked with close_notify', async () => {
    const c = new DtlsClient({ identity: 'line-dev', key: Buffer.from('line-dev-key-01'), timeoutMs: 5000 }, d.ports['exproto:dtls:default']!);
    let text = '';
    c.onMessage((m) => (text += m.toString()));
    const clientId = uid('dtls-line');
    try {
      await c.connect();
      // No username or password on the line: the handshake authenticated the device.
      c.send(Buffer.from(`CONNECT ${clientId}\n`));
      await until(() => text.includes('OK\n'), 5000, 'OK after CONNECT');
      c.send(Buffer.from('PUB line/dtls over-dtls\n'));
      const [m] = await app.waitMessages(1, 5000, (x) => x.topic === 'line/dtls');
      expect(m!.text).toBe('over-dtls');
      const res = await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/gateways/exproto/clients?clientid=${clientId}`, { headers: API_AUTH });
      const body = (await res.json()) as { data: { clientid: string; username: string | null; listener_id?: string; socktype?: string }[] };
      const me = body.data.find((x) => x.clientid === clientId);
      expect(me?.username).toBe('line-dev');
      expect((await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/clients/${clientId}`, { method: 'DELETE', headers: API_AUTH })).status).toBe(204);
      await until(() => c.closedByPeer, 5000, 'close_notify after the kick');
    } finally {
      await c.close(false).catch(() => undefined);
    }
  });
});
