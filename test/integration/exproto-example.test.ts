// The shipped example handler (gateways/exproto/example/line-handler.ts, run from dist/ as the
// README says) against the real daemon: a device speaking its line protocol, MQTT.js on the other side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, until, type TestClient } from '../helpers/mqtt-clients.js';
import { TcpDevice, exprotoConfig, freePort, startLineHandler, type LineHandler } from './exproto-harness.js';

let d: Daemon;
let ex: LineHandler | undefined;
let app: TestClient;
const devices: TcpDevice[] = [];

beforeAll(async () => {
  const adapterPort = await freePort();
  const handlerPort = await freePort();
  ex = await startLineHandler(adapterPort, handlerPort);
  d = await startDaemon({ config: exprotoConfig({ adapterPort, handlerPort }) });
  app = await connectClient(d.mqttUrl, { clientId: uid('app') });
  await app.sub('line/#', { qos: 1 });
}, 30_000);

afterAll(async () => {
  for (const x of devices) x.destroy();
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  await ex?.stop();
});

describe('the example line handler', () => {
  it('CONNECT, SUB, PUB, MSG, PING and QUIT work end to end', async () => {
    const dev = await TcpDevice.connect(d.ports['exproto:tcp:default']!);
    devices.push(dev);
    dev.write('PUB line/early no\n');
    await dev.waitText('ERR UNKNOWN unexpected_call\n');
    dev.write(`CONNECT ${uid('ln')}\r\n`);
    await dev.waitText('OK\n');
    dev.write('SUB line/down\nPUB line/up hello ');
    dev.write('world\nPING\n');
    await dev.waitText('PONG\n');
    const [m] = await app.waitMessages(1, 3000, (x) => x.topic === 'line/up');
    expect(m!.text).toBe('hello world');
    await app.pub('line/down', 'cmd-1', { qos: 1 });
    await dev.waitText('MSG line/down cmd-1\n');
    dev.write('QUIT\n');
    await dev.waitText('BYE\n');
    await dev.waitClosed();
    expect(app.msgs.some((x) => x.topic === 'line/early')).toBe(false);
  });
});
