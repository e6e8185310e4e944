// A second, independent gRPC stack: an ExProto handler in Python (Debian's python3-grpcio and
// python3-protobuf, run with /usr/bin/python3) built from the same shipped exproto.proto, against
// the real daemon; a raw TCP device speaks a line protocol, MQTT.js is on the other side.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, until, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';
import { PROTO, TcpDevice, exprotoConfig, freePort } from './exproto-harness.js';

let d: Daemon;
let py: ChildProcess;
let pyOut = '';
let app: TestClient;
let dir: string;
const devices: TcpDevice[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-exproto-py-'));
  // The .proto as a serialized FileDescriptorProto: what protoc would embed in generated code.
  const def = protoLoader.loadSync(PROTO, { keepCase: true });
  const fdp = (def['emqx.exproto.v1.Message'] as protoLoader.MessageTypeDefinition).fileDescriptorProtos[0]!;
  writeFileSync(join(dir, 'exproto.desc'), fdp);
  const adapterPort = await freePort();
  py = spawn('/usr/bin/python3', [join(import.meta.dirname, 'exproto-handler.py'), join(dir, 'exproto.desc'), `127.0.0.1:${adapterPort}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  py.stdout!.on('data', (b: Buffer) => (pyOut += b.toString()));
  py.stderr!.on('data', (b: Buffer) => (pyOut += b.toString()));
  await until(() => /listening \d+/.test(pyOut) || py.exitCode !== null, 10_000, `python handler to listen: ${pyOut}`);
  const handlerPort = Number(/listening (\d+)/.exec(pyOut)?.[1]);
  expect(handlerPort).toBeGreaterThan(0);
  d = await startDaemon({ config: exprotoConfig({ adapterPort, handlerPort }) });
  app = await connectClient(d.mqttUrl, { clientId: uid('app') });
  await app.sub('py/#', { qos: 1 });
}, 30_000);

afterAll(async () => {
  for (const x of devices) x.destroy();
  await app?.end(true).catch(() => undefined);
  await d?.stop();
  if (py && py.exitCode === null) {
    const exited = new Promise<void>((r) => py.once('exit', () => r()));
    py.stdin!.end();
    const t = setTimeout(() => py.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('ExProto with a Python (grpcio) handler', () => {
  it('authenticates, publishes, subscribes and delivers through the Python handler; the close reaches it', async () => {
    // A gateway that failed to start leaves no port: say why (the daemon's log) instead of a TypeError.
    expect(d.ports['exproto:tcp:default'], d.logs()).toBeGreaterThan(0);
    const dev = await TcpDevice.connect(d.ports['exproto:tcp:default']!);
    devices.push(dev);
    const localPort = dev.localPort;
    const id = uid('py');
    dev.write(`CONNECT ${id} u p\n`);
    await dev.waitText('OK\n');
    dev.write('SUB py/cmd\nPUB py/up hello from python\n');
    await dev.waitText('PUBOK\n');
    await dev.waitText('SUBOK\n');
    const [m] = await app.waitMessages(1, 3000, (x) => x.topic === 'py/up');
    expect(m!.text).toBe('hello from python');
    expect(m!.packet.qos).toBe(1);
    await app.pub('py/cmd', 'down', { qos: 1 });
    await dev.waitText('MSG py/cmd down\n');
    dev.end();
    await withTimeout(until(() => /closed \S+ tcp_closed/.test(pyOut), 5000, 'closed in the python log'), 6000, 'python close');
    expect(pyOut).toMatch(new RegExp(`created \\S+ ${localPort}`));
  });
});
