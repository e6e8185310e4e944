// EMQX's deprecated streaming service (handler.service_name = "ConnectionHandler", spec §1.3, §8
// item 18): one client stream per rpc from the gateway to a grpc-js handler; events still reach it
// and the adapter still answers. Ordering across rpcs is not guaranteed by that service, so this
// test checks arrival, not order between streams.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { until } from '../helpers/mqtt-clients.js';
import { AdapterClient, PROTO, TcpDevice, exprotoConfig, freePort } from './exproto-harness.js';

const def = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, longs: String, defaults: true });
const v1 = (grpc.loadPackageDefinition(def) as unknown as { emqx: { exproto: { v1: Record<string, grpc.ServiceClientConstructor> } } }).emqx.exproto.v1;

let d: Daemon;
let server: grpc.Server;
let adapter: AdapterClient;
const seen: { method: string; req: { conn: string; bytes?: Buffer; reason?: string; conninfo?: { peername: { port: number } } } }[] = [];
let streamsOpened = 0;

beforeAll(async () => {
  server = new grpc.Server();
  const impl: grpc.UntypedServiceImplementation = {};
  for (const m of ['OnSocketCreated', 'OnReceivedBytes', 'OnTimerTimeout', 'OnReceivedMessages', 'OnSocketClosed']) {
    impl[m] = (call: grpc.ServerReadableStream<(typeof seen)[number]['req'], object>, cb: grpc.sendUnaryData<object>) => {
      streamsOpened++;
      call.on('data', (req) => seen.push({ method: m, req }));
      call.on('end', () => cb(null, {}));
      call.on('error', () => {});
    };
  }
  server.addService(v1['ConnectionHandler']!.service, impl);
  const handlerPort = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const adapterPort = await freePort();
  d = await startDaemon({ config: exprotoConfig({ adapterPort, handlerPort, extra: '' }).replace('request_timeout = 2', 'request_timeout = 2\nservice_name = "ConnectionHandler"') });
  adapter = new AdapterClient(adapterPort);
});

afterAll(async () => {
  adapter?.close();
  await d?.stop();
  server?.forceShutdown();
});

describe('ExProto with the streaming ConnectionHandler', () => {
  it('events arrive over per-rpc streams, reused across connections; the adapter answers', async () => {
    const dev = await TcpDevice.connect(d.ports['exproto:tcp:default']!);
    await until(() => seen.some((e) => e.method === 'OnSocketCreated' && e.req.conninfo?.peername.port === dev.localPort), 5000, 'OnSocketCreated');
    const conn = seen.find((e) => e.method === 'OnSocketCreated' && e.req.conninfo?.peername.port === dev.localPort)!.req.conn;
    dev.write('one');
    await until(() => seen.some((e) => e.method === 'OnReceivedBytes' && e.req.conn === conn), 5000, 'OnReceivedBytes');
    expect((await adapter.call('Send', { conn, bytes: Buffer.from('hi\n') })).code).toBe('SUCCESS');
    await dev.waitText('hi\n');
    expect((await adapter.call('Close', { conn })).code).toBe('SUCCESS');
    await until(() => seen.some((e) => e.method === 'OnSocketClosed' && e.req.conn === conn && e.req.reason === 'normal'), 5000, 'OnSocketClosed');
    const opened = streamsOpened;
    const dev2 = await TcpDevice.connect(d.ports['exproto:tcp:default']!);
    dev2.write('two');
    await until(() => seen.some((e) => e.method === 'OnReceivedBytes' && e.req.bytes?.toString() === 'two'), 5000, 'second device bytes');
    expect(streamsOpened).toBe(opened);
    dev.destroy();
    dev2.destroy();
  });
});
