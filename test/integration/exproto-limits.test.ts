// [gateway.exproto.handler] max_concurrent_calls: a global bound on calls to the handler across
// connections (spec §6, for small boards). With 1, three devices that send at once are served one
// after the other, and none is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { sleep, until } from '../helpers/mqtt-clients.js';
import { TcpDevice, TestHandler, exprotoConfig, freePort } from './exproto-harness.js';

let d: Daemon;
let h: TestHandler;
const devices: TcpDevice[] = [];

beforeAll(async () => {
  h = new TestHandler();
  await h.start();
  const adapterPort = await freePort();
  d = await startDaemon({ config: exprotoConfig({ adapterPort, handlerPort: h.port }).replace('request_timeout = 2', 'request_timeout = 2\nmax_concurrent_calls = 1') });
});

afterAll(async () => {
  for (const x of devices) x.destroy();
  await d?.stop();
  await h?.stop();
});

describe('ExProto: max_concurrent_calls', () => {
  it('with 1, calls of different connections never overlap and all arrive', async () => {
    h.on.OnReceivedBytes = () => sleep(80);
    const devs = await Promise.all([0, 1, 2].map(() => TcpDevice.connect(d.ports['exproto:tcp:default']!)));
    devices.push(...devs);
    const conns = await Promise.all(devs.map((x) => h.created(x.localPort)));
    for (const x of devs) x.write('tick');
    await until(() => conns.every((c) => h.of(c).some((e) => e.method === 'OnReceivedBytes')), 5000, 'bytes of all three devices');
    expect(h.maxRunningAll).toBe(1);
    expect(devs.every((x) => !x.closed)).toBe(true);
  });
});
