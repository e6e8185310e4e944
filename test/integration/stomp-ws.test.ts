// STOMP over WebSocket (an Outpost extension: EMQX 5.8.9 has no ws listener for STOMP) in the real
// daemon, driven by @stomp/stompjs over the `ws` package, MQTT.js on the MQTT side
// (gateways/stomp/SPEC.md §8, §11 item 23).
import { Client, type IFrame, type IMessage, type StompSubscription } from '@stomp/stompjs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, uid, until, withTimeout, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
let url: string;
let app: TestClient;
const clients: Client[] = [];

interface Session {
  client: Client;
  connected: IFrame;
  errors: IFrame[];
  debug: string[];
  closed: () => boolean;
  protocol: () => string;
}

async function open(opts: { heartbeat?: number; login?: string } = {}): Promise<Session> {
  const errors: IFrame[] = [];
  const debug: string[] = [];
  let closed = false;
  let sock: WebSocket | null = null;
  const client = new Client({
    brokerURL: url,
    webSocketFactory: () => {
      // stomp.js offers v12.stomp, v11.stomp and v10.stomp as browsers do.
      sock = new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']);
      return sock;
    },
    connectHeaders: { login: opts.login ?? 'dev', passcode: 'x', host: 'edge' },
    heartbeatIncoming: opts.heartbeat ?? 0,
    heartbeatOutgoing: opts.heartbeat ?? 0,
    reconnectDelay: 0,
    debug: (m) => debug.push(m),
    onStompError: (f) => errors.push(f),
    onWebSocketClose: () => {
      closed = true;
    },
  });
  clients.push(client);
  const connected = await withTimeout(
    new Promise<IFrame>((resolve) => {
      client.onConnect = (f) => resolve(f);
      client.activate();
    }),
    5000,
    'CONNECTED over WebSocket',
  );
  return { client, connected, errors, debug, closed: () => closed, protocol: () => (sock as WebSocket | null)?.protocol ?? '' };
}

function collect(c: Client, dest: string, headers: Record<string, string> = {}): { msgs: IMessage[]; sub: StompSubscription } {
  const msgs: IMessage[] = [];
  const sub = c.subscribe(dest, (m) => msgs.push(m), headers);
  return { msgs, sub };
}

function receipt(c: Client, id: string): Promise<IFrame> {
  return withTimeout(new Promise<IFrame>((resolve) => c.watchForReceipt(id, resolve)), 5000, `RECEIPT ${id}`);
}

beforeAll(async () => {
  d = await startDaemon({
    config: `
[gateway.stomp]
enable = true
mountpoint = "ws/"

[gateway.stomp.listeners.tcp.default]
enable = false

[gateway.stomp.listeners.ws.default]
bind = "127.0.0.1"
port = 0
path = "/stomp"
`,
  });
  const port = d.ports['stomp:ws:default']!;
  expect(port).toBeGreaterThan(0);
  url = `ws://127.0.0.1:${port}/stomp`;
  app = await connectClient(d.mqttUrl, { clientId: uid('app'), protocolVersion: 5 });
  await app.sub('ws/#', { qos: 1 });
});

afterAll(async () => {
  for (const c of clients) await c.deactivate().catch(() => undefined);
  await app?.end(true);
  await d?.stop();
  d?.cleanup();
});

describe('STOMP over WebSocket with @stomp/stompjs', () => {
  it('negotiates v12.stomp and STOMP 1.2; MQTT publishes reach the subscriber, SENDs reach MQTT', async () => {
    const s = await open();
    expect(s.protocol()).toBe('v12.stomp');
    expect(s.connected.headers.version).toBe('1.2');
    expect(s.connected.headers.server).toBe('emqx-stomp/1.2');
    const { msgs } = collect(s.client, 'sensors/+/temp', { receipt: 'sub1' });
    await receipt(s.client, 'sub1');
    await app.pub('ws/sensors/s1/temp', '21.5', { qos: 0 });
    await until(() => msgs.length === 1, 5000, 'MESSAGE over WebSocket');
    expect(msgs[0]!.body).toBe('21.5');
    expect(msgs[0]!.headers.destination).toBe('sensors/s1/temp');
    s.client.publish({ destination: 'cmd/s1', body: '{"reboot":true}', headers: { 'content-type': 'application/json', receipt: 'p1' } });
    await receipt(s.client, 'p1');
    const got = await app.waitMessages(1, 3000, (m) => m.topic === 'ws/cmd/s1');
    expect(got[0]!.text).toBe('{"reboot":true}');
    expect(got[0]!.packet.properties?.contentType).toBe('application/json');
  });

  it('binary bodies with NULs survive both ways (content-length)', async () => {
    const s = await open();
    const { msgs } = collect(s.client, 'bin', { receipt: 'b' });
    await receipt(s.client, 'b');
    const bytes = Buffer.from([0, 1, 2, 0, 255]);
    await app.pub('ws/bin', bytes, { qos: 0 });
    await until(() => msgs.length === 1, 5000, 'binary MESSAGE');
    expect(Buffer.from(msgs[0]!.binaryBody).equals(bytes)).toBe(true);
    s.client.publish({ destination: 'bin-up', binaryBody: new Uint8Array([0, 0, 7]), headers: { receipt: 'bu' } });
    await receipt(s.client, 'bu');
    const got = await app.waitMessages(1, 3000, (m) => m.topic === 'ws/bin-up');
    expect(got[0]!.payload.equals(Buffer.from([0, 0, 7]))).toBe(true);
  });

  it('client-individual: nack() redelivers, ack() settles', async () => {
    const s = await open();
    const { msgs } = collect(s.client, 'jobs', { ack: 'client-individual', receipt: 'j' });
    await receipt(s.client, 'j');
    await app.pub('ws/jobs', 'job-1', { qos: 1 });
    await until(() => msgs.length === 1, 5000, 'first MESSAGE');
    expect(msgs[0]!.headers.ack).toBeDefined();
    msgs[0]!.nack();
    await until(() => msgs.length === 2, 5000, 'redelivery after NACK');
    expect(msgs[1]!.body).toBe('job-1');
    msgs[1]!.ack({ receipt: 'acked' });
    await receipt(s.client, 'acked');
    await sleep(200);
    expect(msgs.length).toBe(2);
  });

  it('transactions: begin/commit delivers at commit, abort discards', async () => {
    const s = await open();
    const tx = s.client.begin();
    s.client.publish({ destination: 'tx', body: 'in-tx', headers: { transaction: tx.id } });
    await sleep(200);
    expect(app.msgs.some((m) => m.topic === 'ws/tx')).toBe(false);
    tx.commit();
    await app.waitMessages(1, 3000, (m) => m.topic === 'ws/tx');
    const tx2 = s.client.begin();
    s.client.publish({ destination: 'tx', body: 'aborted', headers: { transaction: tx2.id } });
    tx2.abort();
    s.client.publish({ destination: 'tx', body: 'after', headers: { receipt: 'after' } });
    await receipt(s.client, 'after');
    await app.waitMessages(2, 3000, (m) => m.topic === 'ws/tx');
    expect(app.msgs.filter((m) => m.topic === 'ws/tx').map((m) => m.text)).toEqual(['in-tx', 'after']);
  });

  it('heart-beats over WebSocket: both sides beat and the connection stays up', async () => {
    const s = await open({ heartbeat: 200 });
    expect(s.connected.headers['heart-beat']).toBe('200,200');
    await sleep(1200);
    expect(s.debug.filter((m) => m === '<<< PONG').length).toBeGreaterThanOrEqual(3);
    expect(s.client.connected).toBe(true);
    expect(s.closed()).toBe(false);
  });

  it('an ERROR frame reaches onStompError (duplicate subscription id), then the socket closes', async () => {
    const s = await open();
    s.client.subscribe('a', () => undefined, { id: 'same' });
    s.client.subscribe('b', () => undefined, { id: 'same' });
    await until(() => s.errors.length === 1, 5000, 'ERROR frame');
    expect(s.errors[0]!.body).toBe('Subscription id same is in used');
    await until(() => s.closed(), 5000, 'close after ERROR');
  });

  it('raw WebSocket: v10.stomp only still honours accept-version; frames batched in one message and split across messages', async () => {
    const ws = new WebSocket(url, ['v10.stomp']);
    const got: string[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => got.push((isBinary ? 'B:' : 'T:') + data.toString('latin1')));
    await withTimeout(new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject)), 5000, 'ws open');
    expect(ws.protocol).toBe('v10.stomp');
    // CONNECT and SUBSCRIBE in one message, a SEND split in two, heart-beat EOLs between.
    ws.send('CONNECT\naccept-version:1.1,1.2\nhost:x\n\n\0\nSUBSCRIBE\nid:0\ndestination:raw/a\nreceipt:s\n\n\0');
    await until(() => got.length >= 1 && got.join('').includes('receipt-id:s'), 5000, 'CONNECTED and RECEIPT');
    ws.send('\nSEND\ndestination:raw/a\ncontent-le');
    ws.send('ngth:2\n\nhi\0');
    await until(() => got.join('').includes('MESSAGE\n'), 5000, 'MESSAGE');
    const all = got.join('');
    expect(all).toMatch(/^T:CONNECTED\nversion:1\.2\n/);
    expect(all).toContain('destination:raw/a\n');
    expect(all).toMatch(/\n\nhi\0/);
    ws.close();
  });

  it('refuses an upgrade on another path and a subprotocol we do not speak', async () => {
    const wrongPath = new WebSocket(url.replace('/stomp', '/other'), ['v12.stomp']);
    const r1 = await new Promise<number>((resolve) => wrongPath.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(-1)));
    expect(r1).toBe(404);
    const wrongProto = new WebSocket(url, ['mqtt']);
    const r2 = await new Promise<number>((resolve) => wrongProto.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(-1)));
    expect(r2).toBe(400);
  });
});
