import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import WebSocket from 'ws';
import { makeTestPki, type TestPki } from '../../../helpers/certs.js';
import { WsTransport, chooseSubprotocol, type WsOptions } from '../../../../gateways/transport/ws.js';
import type { StreamOptions } from '../../../../gateways/transport/stream-types.js';
import { delay, echoRig, waitFor, type Echo, type EchoRig, type Line } from './line-codec.js';

interface Harness extends Omit<EchoRig, 'opts'> {
  t: WsTransport<Line, Echo>;
}

const running: WsTransport<Line, Echo>[] = [];
const clients: { terminate(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  for (const t of running.splice(0)) await t.stop();
});

const STOMP = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

async function startWs(over: Partial<StreamOptions<Line, Echo>> = {}, ws: Partial<WsOptions> = {}): Promise<Harness> {
  const { clock, channels, counts, logs, opts } = echoRig('ws:t', over);
  const t = new WsTransport<Line, Echo>({ bind: '127.0.0.1', port: 0, path: '/stomp', subprotocols: STOMP, stopGraceMs: 2000, ...ws }, opts);
  running.push(t);
  await t.start();
  return { t, clock, channels, counts, logs };
}

interface Client {
  ws: WebSocket;
  msgs: string[];
  binary: boolean[];
  closeCode: () => number | null;
  refused: () => number | null;
  failed: () => boolean;
}

/** Opens a client; resolves once it is open or has failed. */
async function client(url: string, protocols: string[] = [], opts: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, protocols, opts);
  clients.push(ws);
  const msgs: string[] = [];
  const binary: boolean[] = [];
  let closeCode: number | null = null;
  let refused: number | null = null;
  let failed = false;
  ws.on('message', (d: Buffer, isBinary: boolean) => {
    msgs.push(d.toString('latin1'));
    binary.push(isBinary);
  });
  ws.on('close', (code) => (closeCode = code));
  ws.on('unexpected-response', (_req, res) => {
    refused = res.statusCode ?? 0;
    ws.terminate();
  });
  ws.on('error', () => (failed = true));
  await new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
    ws.once('unexpected-response', () => resolve());
  });
  return { ws, msgs, binary, closeCode: () => closeCode, refused: () => refused, failed: () => failed };
}

const url = (h: Harness, path = '/stomp', scheme = 'ws'): string => `${scheme}://127.0.0.1:${h.t.port}${path}`;

describe('chooseSubprotocol', () => {
  it('picks our most preferred offered protocol, "" for none offered, null when nothing fits', () => {
    expect(chooseSubprotocol(['v10.stomp', 'v12.stomp'], STOMP)).toBe('v12.stomp');
    expect(chooseSubprotocol([], STOMP)).toBe('');
    expect(chooseSubprotocol(['mqtt'], STOMP)).toBeNull();
  });
});

describe('WsTransport', () => {
  it('negotiates the subprotocol and passes the chosen one to the channel', async () => {
    const h = await startWs();
    const c = await client(url(h), ['v10.stomp', 'v12.stomp']);
    expect(c.ws.protocol).toBe('v12.stomp');
    c.ws.send('proto\n');
    await waitFor(() => c.msgs.length === 1, 'reply');
    expect(c.msgs).toEqual(['proto=v12.stomp\n']);
    expect(h.channels[0]!.link.kind).toBe('ws');
    expect(h.channels[0]!.link.sockPort).toBe(h.t.port);

    const none = await client(url(h));
    none.ws.send('proto\n');
    await waitFor(() => none.msgs.length === 1, 'reply without subprotocol');
    expect(none.msgs).toEqual(['proto=\n']);
  });

  it('refuses an unsupported subprotocol (400), a wrong path (404), and no subprotocol when required', async () => {
    const h = await startWs();
    const bad = await client(url(h), ['mqtt']);
    await waitFor(() => bad.refused() !== null || bad.failed(), 'refusal');
    expect(bad.refused()).toBe(400);
    const path = await client(url(h, '/mqtt'), ['v12.stomp']);
    await waitFor(() => path.refused() !== null || path.failed(), 'refusal');
    expect(path.refused()).toBe(404);
    expect(h.channels).toEqual([]);
    expect(h.logs.filter((l) => l.msg === 'ws_upgrade_refused').map((l) => l.reason)).toEqual(['subprotocol_not_supported', 'wrong_path']);
    await waitFor(() => h.t.hub.size === 0, 'refused sockets settled');

    const strict = await startWs({}, { failIfNoSubprotocol: true });
    const bare = await client(url(strict));
    await waitFor(() => bare.refused() !== null || bare.failed(), 'refusal');
    expect(bare.refused()).toBe(400);
  });

  it('decodes several frames in one message and one frame across messages; one tick is one message', async () => {
    const h = await startWs({}, { messageType: 'text' });
    const c = await client(url(h), ['v12.stomp']);
    c.ws.send('a\nb\nc\n');
    await waitFor(() => c.msgs.length === 1, 'batched echo');
    expect(c.msgs).toEqual(['A\nB\nC\n']);
    expect(c.binary).toEqual([false]);
    c.ws.send('spl');
    c.ws.send('it\n');
    await waitFor(() => c.msgs.length === 2, 'split frame');
    c.ws.send('bur');
    c.ws.send('st 5\n');
    await waitFor(() => c.msgs.length === 3, 'burst');
    expect(h.channels[0]!.frames).toEqual(['a', 'b', 'c', 'split', 'burst 5']);
    expect(c.msgs.slice(1)).toEqual(['SPLIT\n', 'b0\nb1\nb2\nb3\nb4\n']);
    expect(h.counts.get('transport.frames_out')).toBe(9);
    expect(h.counts.get('transport.stream_write')).toBe(3);
  });

  it('closes only the peer whose partial frame passes the cap, after its ERROR frame', async () => {
    const h = await startWs({ maxBufferedBytes: 64 });
    const bad = await client(url(h), ['v12.stomp']);
    const good = await client(url(h), ['v12.stomp']);
    bad.ws.send('x'.repeat(60));
    bad.ws.send('x'.repeat(60));
    await waitFor(() => bad.closeCode() !== null, 'bad closed');
    expect(bad.closeCode()).toBe(1000);
    expect(bad.msgs).toEqual(['ERROR frame_too_large\n']);
    const badCh = h.channels.find((c) => c.errors.length > 0)!;
    expect(badCh.closed).toEqual(['frame_too_large']);
    expect(h.logs.some((l) => l.msg === 'connection_closed' && l.reason === 'frame_too_large')).toBe(true);
    good.ws.send('ok\n');
    await waitFor(() => good.msgs.length === 1, 'good echo');
    expect(good.msgs).toEqual(['OK\n']);
  });

  it('treats a WebSocket message over maxMessageBytes as a frame error of that peer only', async () => {
    const h = await startWs({ maxBufferedBytes: 64 }, { maxMessageBytes: 100 });
    const big = await client(url(h), ['v12.stomp']);
    const good = await client(url(h), ['v12.stomp']);
    big.ws.send('short\n'.repeat(25));
    await waitFor(() => big.closeCode() !== null, 'big closed');
    expect(big.closeCode()).toBe(1009);
    const ch = h.channels.find((c) => c.errors.length > 0)!;
    expect(ch.errors).toEqual(['frame_too_large']);
    expect(ch.frames).toEqual([]);
    expect(ch.closed).toEqual(['frame_too_large']);
    good.ws.send('ok\n');
    await waitFor(() => good.msgs.length === 1, 'good echo');
  });

  it('close with a final frame sends it, then a normal close; a peer close reaches the channel', async () => {
    const h = await startWs();
    const a = await client(url(h), ['v12.stomp']);
    a.ws.send('one\nbye\n');
    await waitFor(() => a.closeCode() !== null, 'closed by channel');
    expect(a.msgs).toEqual(['ONE\nBYE\n']);
    expect(a.closeCode()).toBe(1000);
    expect(h.channels[0]!.closed).toEqual([]);
    const b = await client(url(h), ['v12.stomp']);
    b.ws.send('hi\n');
    await waitFor(() => b.msgs.length === 1, 'echo');
    b.ws.close(1000);
    await waitFor(() => h.channels[1]!.closed.length === 1, 'peer close seen');
    expect(h.channels[1]!.closed).toEqual(['peer_closed']);
  });

  it('pauses reading from a peer that does not drain and closes it after the drain timeout; others unaffected', async () => {
    const h = await startWs({ writeHighWater: 64 * 1024, drainTimeoutMs: 2000, idleMs: 0, firstFrameMs: 0, maxBufferedBytes: 1 << 16 });
    const slow = await client(url(h), ['v12.stomp']);
    const other = await client(url(h), ['v12.stomp']);
    slow.ws.pause();
    slow.ws.send('flood 16\n');
    await waitFor(() => (h.counts.get('transport.backpressure_pause') ?? 0) === 1, 'pause');
    slow.ws.send('ping\n');
    other.ws.send('hi\n');
    await waitFor(() => other.msgs.length === 1, 'other echo');
    await delay(100);
    const slowCh = h.channels[0]!;
    expect(slowCh.frames).toEqual(['flood 16']);
    h.clock.advance(1000);
    expect(slowCh.closed).toEqual([]);
    h.clock.advance(2000);
    expect(slowCh.closed).toEqual(['drain_timeout']);
    expect(h.logs.some((l) => l.msg === 'connection_closed' && l.reason === 'drain_timeout')).toBe(true);
    await waitFor(() => h.t.hub.live === 1, 'slow peer dropped');
    other.ws.send('again\n');
    await waitFor(() => other.msgs.length === 2, 'other still served');
    expect(other.msgs).toEqual(['HI\n', 'AGAIN\n']);
  });

  it('ends idle channels, caps connections, and drops sockets that never upgrade or never frame', async () => {
    const h = await startWs({ idleMs: 10_000, maxConnections: 2, firstFrameMs: 500 });
    const raw = net.connect({ host: '127.0.0.1', port: h.t.port });
    clients.push({ terminate: () => raw.destroy() });
    let rawClosed = false;
    raw.on('close', () => (rawClosed = true));
    raw.on('error', () => {});
    const silent = await client(url(h), ['v12.stomp']);
    await waitFor(() => h.t.hub.size === 2, 'two admitted');
    const third = await client(url(h), ['v12.stomp']);
    await waitFor(() => third.failed() || third.closeCode() !== null, 'third refused');
    expect(h.counts.get('transport.channel_limit')).toBe(1);
    h.clock.advance(800);
    await waitFor(() => rawClosed && silent.closeCode() !== null, 'deadline drops');
    expect(h.channels[0]!.closed).toEqual(['first_frame_timeout']);
    expect(h.counts.get('transport.first_frame_timeout')).toBe(2);

    const c = await client(url(h), ['v12.stomp']);
    c.ws.send('hi\n');
    await waitFor(() => c.msgs.length === 1, 'served after');
    h.clock.advance(16_000);
    await waitFor(() => c.closeCode() !== null, 'idle close');
    expect(h.counts.get('transport.channel_idle_close')).toBe(1);
  });

  it('stop() tells every channel, flushes their last frames and closes every connection', async () => {
    const h = await startWs();
    const a = await client(url(h), ['v12.stomp']);
    const b = await client(url(h), ['v11.stomp']);
    a.ws.send('a\n');
    b.ws.send('b\n');
    await waitFor(() => a.msgs.length === 1 && b.msgs.length === 1, 'served');
    await h.t.stop();
    await waitFor(() => a.closeCode() !== null && b.closeCode() !== null, 'all closed');
    expect(a.msgs).toEqual(['A\n', 'SHUTDOWN\n']);
    expect(b.msgs).toEqual(['B\n', 'SHUTDOWN\n']);
    expect(h.channels.every((c) => c.transportClosed)).toBe(true);
    expect(h.t.hub.live).toBe(0);
  });
});

describe('WsTransport over TLS (wss)', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki('sensor-9');
  });
  afterAll(() => pki.cleanup());

  it('shows the client certificate to the channel and refuses a client without one', async () => {
    const h = await startWs({}, { ssl: { certfile: pki.serverCert, keyfile: pki.serverKey, cacertfile: pki.caFile, verify: 'verify_peer', fail_if_no_peer_cert: true } });
    const tlsOpts = { ca: pki.read(pki.caFile), servername: 'localhost' };
    const c = await client(url(h, '/stomp', 'wss'), ['v12.stomp'], { ...tlsOpts, cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) });
    c.ws.send('cert\n');
    await waitFor(() => c.msgs.length === 1, 'cert reply');
    expect(c.msgs).toEqual(['cn=sensor-9\n']);
    expect(h.channels[0]!.link.kind).toBe('wss');
    expect(h.channels[0]!.link.subprotocol).toBe('v12.stomp');
    const anon = await client(url(h, '/stomp', 'wss'), ['v12.stomp'], tlsOpts);
    await waitFor(() => anon.failed() || anon.refused() !== null || anon.closeCode() !== null, 'refused');
    expect(h.channels.length).toBe(1);
  });
});
