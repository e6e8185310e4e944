// ExProto over TLS on all three legs (gateways/exproto/SPEC.md §5, §8 item 17): an ssl device
// listener whose client certificate reaches the handler as conninfo.peercert, the gateway calling
// its handler over https:// with the CA verified, and the ConnectionAdapter served with TLS.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { TcpDevice, TestHandler, freePort, type AdapterClient } from './exproto-harness.js';

let pki: TestPki;
let d: Daemon;
let h: TestHandler;
let adapter: AdapterClient;
let sslPort: number;
const devices: TcpDevice[] = [];

beforeAll(async () => {
  pki = makeTestPki('meter-7');
  h = new TestHandler();
  await h.start(0, grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(pki.serverCert), private_key: readFileSync(pki.serverKey) }], false));
  const adapterPort = await freePort();
  d = await startDaemon({
    config: `
[gateway.exproto]
enable = true

[gateway.exproto.server]
bind = "127.0.0.1:${adapterPort}"

[gateway.exproto.server.ssl_options]
certfile = "${pki.serverCert}"
keyfile = "${pki.serverKey}"

[gateway.exproto.handler]
address = "https://localhost:${h.port}"
request_timeout = 2

[gateway.exproto.handler.ssl_options]
enable = true
verify = "verify_peer"
cacertfile = "${pki.caFile}"

[gateway.exproto.listeners.tcp.default]
enable = false

[gateway.exproto.listeners.ssl.default]
bind = "127.0.0.1"
port = 0

[gateway.exproto.listeners.ssl.default.ssl_options]
certfile = "${pki.serverCert}"
keyfile = "${pki.serverKey}"
cacertfile = "${pki.caFile}"
verify = "verify_peer"
fail_if_no_peer_cert = true
`,
  });
  sslPort = d.ports['exproto:ssl:default']!;
  adapter = h.connectAdapter(adapterPort, grpc.credentials.createSsl(readFileSync(pki.caFile)));
});

afterAll(async () => {
  for (const x of devices) x.destroy();
  await d?.stop();
  await h?.stop();
  d?.cleanup();
  pki?.cleanup();
});

describe('ExProto over TLS', () => {
  it('an ssl device with a client certificate: OnSocketCreated{socktype SSL, peercert cn/dn} through an https handler; the adapter answers over TLS', async () => {
    const dev = await TcpDevice.connectTls(sslPort, { ca: pki.read(pki.caFile), cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey), servername: 'localhost' });
    devices.push(dev);
    const conn = await h.created(dev.localPort);
    const ci = h.of(conn)[0]!.req.conninfo;
    expect(ci.socktype).toBe('SSL');
    expect(ci.peercert.cn).toBe('meter-7');
    expect(ci.peercert.dn).toContain('CN=meter-7');
    dev.write('over tls');
    const e = await h.waitFor((x) => x.req.conn === conn && x.method === 'OnReceivedBytes');
    expect(e.req.bytes.toString()).toBe('over tls');
    expect((await adapter.call('Send', { conn, bytes: Buffer.from('secure\n') })).code).toBe('SUCCESS');
    await dev.waitText('secure\n');
  });

  it('a plaintext client cannot use the TLS adapter', async () => {
    const { AdapterClient } = await import('./exproto-harness.js');
    const plain = new AdapterClient(Number(/bind = "127.0.0.1:(\d+)"/.exec(readFileSync(d.configPath, 'utf8'))![1]));
    await expect(plain.call('RawPublish', { topic: 't', qos: 0, payload: Buffer.from('') }, 1000)).rejects.toThrow();
    plain.close();
  });
});
