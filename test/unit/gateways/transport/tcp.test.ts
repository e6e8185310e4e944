import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { pino } from 'pino';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { makeTestPki, type TestPki } from '../../../helpers/certs.js';
import { TcpTransport } from '../../../../gateways/transport/tcp.js';
import { StreamHub, type StreamPipe } from '../../../../gateways/transport/stream-conn.js';
import type { StreamOptions, StreamSslOptions } from '../../../../gateways/transport/stream-types.js';
import { delay, Echo, echoRig, lineCodec, waitFor, type EchoRig, type Line } from './line-codec.js';

interface Harness extends Omit<EchoRig, 'opts'> {
  t: TcpTransport<Line, Echo>;
}

const running: TcpTransport<Line, Echo>[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const t of running.splice(0)) await t.stop();
});

async function startTcp(over: Partial<StreamOptions<Line, Echo>> = {}, ssl: StreamSslOptions | null = null, idleAnswer = true): Promise<Harness> {
  const { clock, channels, counts, logs, opts } = echoRig(ssl ? 'ssl:t' : 'tcp:t', over, idleAnswer);
  const t = new TcpTransport<Line, Echo>({ bind: '127.0.0.1', port: 0, ssl, stopGraceMs: 2000 }, opts);
  running.push(t);
  await t.start();
  return { t, clock, channels, counts, logs };
}

interface Client {
  s: net.Socket;
  text: () => string;
  ended: () => boolean;
  closed: () => boolean;
}

function watch(s: net.Socket): Client {
  sockets.push(s);
  let data = '';
  let ended = false;
  let closed = false;
  s.on('data', (b: Buffer) => (data += b.toString('latin1')));
  s.on('end', () => (ended = true));
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  return { s, text: () => data, ended: () => ended, closed: () => closed };
}

async function connect(port: number, opts: { allowHalfOpen?: boolean } = {}): Promise<Client> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: opts.allowHalfOpen ?? false });
  s.setNoDelay(true);
  const c = watch(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return c;
}

describe('stream core decode loop', () => {
  // A pipe that records writes, to check the loop without socket timing.
  function hubWithPipe(): { hub: StreamHub<Line, Echo>; ch: () => Echo; input: (b: Buffer) => void } {
    let channel: Echo | null = null;
    const hub = new StreamHub<Line, Echo>(
      {
        codec: lineCodec,
        listener: 'tcp:core',
        clock: new FakeClock(),
        log: pino({ level: 'silent' }),
        idleMs: 0,
        maxConnections: 0,
        firstFrameMs: 0,
        maxBufferedBytes: 1024,
        writeHighWater: 1 << 20,
        drainTimeoutMs: 1000,
        open: (l) => (channel = new Echo(l, true)),
      },
      () => {},
    );
    const pipe: StreamPipe = { write: () => {}, buffered: 0, pauseReading: () => {}, resumeReading: () => {}, end: () => {}, destroy: () => {} };
    const conn = hub.accept({ address: '10.0.0.1', port: 1, family: 'IPv4' }, pipe, { kind: 'tcp', sockPort: 1, cert: null, subprotocol: null })!;
    return { hub, ch: () => channel!, input: (b) => conn.input(b) };
  }

  it('decodes the same frames whatever byte offset the stream is split at', () => {
    const wire = Buffer.from('connect\nsend a/b hello\n\nlast one\n');
    const whole = hubWithPipe();
    whole.input(wire);
    const expected = whole.ch().frames;
    expect(expected).toEqual(['connect', 'send a/b hello', '', 'last one']);
    for (let i = 0; i <= wire.length; i++) {
      for (let j = i; j <= wire.length; j++) {
        const h = hubWithPipe();
        h.input(wire.subarray(0, i));
        h.input(wire.subarray(i, j));
        h.input(wire.subarray(j));
        expect(h.ch().frames, `split at ${i},${j}`).toEqual(expected);
      }
    }
  });
});

describe('TcpTransport', () => {
  it('binds port 0, reports the real port, and echoes frames split across writes at every offset', async () => {
    const h = await startTcp();
    expect(h.t.port).toBeGreaterThan(0);
    expect(h.t.bindAddress).toBe(`127.0.0.1:${h.t.port}`);
    const c = await connect(h.t.port);
    const msg = 'hello world\n';
    for (let k = 1; k < msg.length; k++) {
      c.s.write(msg.slice(0, k));
      await delay(3);
      c.s.write(msg.slice(k));
    }
    const n = msg.length - 1;
    await waitFor(() => h.channels[0]?.frames.length === n, 'all frames');
    expect(h.channels[0]!.frames).toEqual(Array(n).fill('hello world'));
    await waitFor(() => c.text().length === n * msg.length, 'echoes');
    expect(c.text()).toBe('HELLO WORLD\n'.repeat(n));
    expect(h.channels[0]!.link.kind).toBe('tcp');
    expect(h.channels[0]!.link.sockPort).toBe(h.t.port);
    expect(h.channels[0]!.link.peer.address).toBe('127.0.0.1');
  });

  it('decodes several frames in one chunk and writes one tick of replies as one write', async () => {
    const h = await startTcp();
    const c = await connect(h.t.port);
    c.s.write('a\nb\nc\n');
    await waitFor(() => c.text() === 'A\nB\nC\n', 'three echoes');
    expect(h.channels[0]!.frames).toEqual(['a', 'b', 'c']);
    expect(h.counts.get('transport.frames_out')).toBe(3);
    expect(h.counts.get('transport.stream_write')).toBe(1);
    c.s.write('burst 6\n');
    await waitFor(() => c.text().endsWith('b5\n'), 'burst');
    expect(h.counts.get('transport.frames_out')).toBe(9);
    expect(h.counts.get('transport.stream_write')).toBe(2);
  });

  it('closes only the peer whose partial frame passes the cap, with the reason', async () => {
    const h = await startTcp({ maxBufferedBytes: 64 });
    const bad = await connect(h.t.port);
    const good = await connect(h.t.port);
    bad.s.write('x'.repeat(100));
    await waitFor(() => bad.closed(), 'bad peer closed');
    const badCh = h.channels.find((c) => c.errors.length > 0)!;
    expect(badCh.errors).toEqual(['frame_too_large']);
    expect(badCh.closed).toEqual(['frame_too_large']);
    // The channel's ERROR frame goes out before the connection ends.
    expect(bad.text()).toBe('ERROR frame_too_large\n');
    expect(h.logs.some((l) => l.msg === 'connection_closed' && l.reason === 'frame_too_large')).toBe(true);
    expect(h.counts.get('transport.frame_too_large')).toBe(1);
    good.s.write('still here\n');
    await waitFor(() => good.text() === 'STILL HERE\n', 'good peer echo');
    expect(good.closed()).toBe(false);
  });

  it('answers a malformed frame through the channel, then ends that connection', async () => {
    const h = await startTcp();
    const c = await connect(h.t.port);
    c.s.write('ok\nbad\0line\nnever\n');
    await waitFor(() => c.ended(), 'end');
    expect(c.text()).toBe('OK\nERROR bad_byte\n');
    expect(h.channels[0]!.frames).toEqual(['ok']);
    expect(h.channels[0]!.closed).toEqual(['frame_error']);
  });

  it('close with a final frame flushes it then ends; a half-closed peer still gets its answers', async () => {
    const h = await startTcp();
    const a = await connect(h.t.port);
    a.s.write('one\nbye\nafter\n');
    await waitFor(() => a.ended(), 'end after bye');
    expect(a.text()).toBe('ONE\nBYE\n');
    expect(h.channels[0]!.frames).toEqual(['one', 'bye']);
    expect(h.channels[0]!.closed).toEqual([]);

    const b = await connect(h.t.port, { allowHalfOpen: true });
    b.s.end('x\ny\n');
    await waitFor(() => b.ended(), 'server end after half-close');
    expect(b.text()).toBe('X\nY\n');
    const ch = h.channels[1]!;
    expect(ch.closed).toEqual(['peer_closed']);
    await waitFor(() => h.t.hub.live === 0, 'connections gone');
  });

  it('pauses reading from a peer that does not drain, closes it after the drain timeout, others unaffected', async () => {
    const h = await startTcp({ writeHighWater: 64 * 1024, drainTimeoutMs: 2000, idleMs: 0, firstFrameMs: 0 });
    const slow = await connect(h.t.port);
    const other = await connect(h.t.port);
    slow.s.pause();
    slow.s.write('flood 16\n');
    await waitFor(() => (h.counts.get('transport.backpressure_pause') ?? 0) === 1, 'pause');
    const slowCh = h.channels[0]!;
    // Reading is paused: a frame the slow peer sends now is not decoded.
    slow.s.write('ping\n');
    other.s.write('hi\n');
    await waitFor(() => other.text() === 'HI\n', 'other peer echo');
    await delay(100);
    expect(slowCh.frames).toEqual(['flood 16']);
    h.clock.advance(1000);
    expect(slowCh.closed).toEqual([]);
    h.clock.advance(2000);
    expect(slowCh.closed).toEqual(['drain_timeout']);
    expect(h.t.hub.live).toBe(1);
    // The paused client only notices the reset once it reads again.
    slow.s.resume();
    await waitFor(() => slow.closed(), 'slow peer dropped');
    expect(h.logs.some((l) => l.msg === 'connection_closed' && l.reason === 'drain_timeout')).toBe(true);
    other.s.write('again\n');
    await waitFor(() => other.text() === 'HI\nAGAIN\n', 'other peer still served');
  });

  it('resumes reading once a slow reader catches up', async () => {
    const h = await startTcp({ writeHighWater: 64 * 1024, drainTimeoutMs: 60_000 });
    const c = await connect(h.t.port);
    let got = 0;
    c.s.removeAllListeners('data');
    c.s.on('data', (b: Buffer) => (got += b.length));
    c.s.pause();
    c.s.write('flood 4\n');
    await waitFor(() => (h.counts.get('transport.backpressure_pause') ?? 0) === 1, 'pause');
    c.s.write('ping\n');
    c.s.resume();
    await waitFor(() => h.channels[0]!.frames.includes('ping'), 'ping decoded after drain', 15_000);
    await waitFor(() => got === 4 * ((1 << 20) + 1) + 'PING\n'.length, 'everything delivered', 15_000);
    expect(h.channels[0]!.closed).toEqual([]);
  });

  it('closes a peer at once when its queued output passes maxWriteBuffer', async () => {
    const h = await startTcp({ maxWriteBuffer: 2 << 20, drainTimeoutMs: 60_000 });
    const slow = await connect(h.t.port);
    slow.s.pause();
    slow.s.write('flood 16\n');
    await waitFor(() => h.channels[0]?.closed.length === 1, 'closed');
    expect(h.channels[0]!.closed).toEqual(['write_buffer_full']);
    expect(h.counts.get('transport.write_drop')).toBe(1);
    await waitFor(() => h.t.hub.live === 0, 'gone');
  });

  it('closes the socket when the gateway refuses to open a channel, and refuses a port in use', async () => {
    const h = await startTcp({ open: () => null });
    const c = await connect(h.t.port);
    await waitFor(() => c.closed(), 'refused');
    expect(h.t.hub.size).toBe(0);
    const other = new TcpTransport<Line, Echo>({ bind: '127.0.0.1', port: h.t.port }, { ...h.t.hub.opts });
    await expect(other.start()).rejects.toThrow(/EADDRINUSE/);
    await other.stop();
  });

  it('asks an idle channel to go after idleMs and keeps it when the channel says no', async () => {
    const h = await startTcp({ idleMs: 1000 });
    const c = await connect(h.t.port);
    c.s.write('hi\n');
    await waitFor(() => c.text() === 'HI\n', 'echo');
    h.clock.advance(900);
    expect(h.channels[0]!.idleAsked).toBe(0);
    h.clock.advance(700);
    expect(h.channels[0]!.idleAsked).toBe(1);
    await waitFor(() => c.ended(), 'idle end');
    expect(h.counts.get('transport.channel_idle_close')).toBe(1);

    const k = await startTcp({ idleMs: 1000 }, null, false);
    const d = await connect(k.t.port);
    d.s.write('hi\n');
    await waitFor(() => d.text() === 'HI\n', 'echo');
    k.clock.advance(3000);
    expect(k.channels[0]!.idleAsked).toBeGreaterThan(0);
    d.s.write('still\n');
    await waitFor(() => d.text() === 'HI\nSTILL\n', 'kept');
  });

  it('refuses connections over max_connections and accepts again when one leaves', async () => {
    const h = await startTcp({ maxConnections: 2 });
    const a = await connect(h.t.port);
    const b = await connect(h.t.port);
    a.s.write('a\n');
    b.s.write('b\n');
    await waitFor(() => a.text() === 'A\n' && b.text() === 'B\n', 'two served');
    const c = await connect(h.t.port);
    await waitFor(() => c.closed(), 'third refused');
    expect(c.text()).toBe('');
    expect(h.counts.get('transport.channel_limit')).toBe(1);
    expect(h.logs.some((l) => l.msg === 'connection_refused' && l.reason === 'max_connections')).toBe(true);
    a.s.destroy();
    await waitFor(() => h.t.hub.size === 1, 'slot freed');
    const d = await connect(h.t.port);
    d.s.write('d\n');
    await waitFor(() => d.text() === 'D\n', 'fourth served');
  });

  it('drops a peer that sends no complete frame before the first-frame deadline', async () => {
    const h = await startTcp({ firstFrameMs: 500 });
    const slow = await connect(h.t.port);
    const quick = await connect(h.t.port);
    slow.s.write('CONNE');
    quick.s.write('connect\n');
    await waitFor(() => quick.text() === 'CONNECT\n' && h.channels.length === 2, 'quick served');
    h.clock.advance(800);
    await waitFor(() => slow.closed(), 'slowloris dropped');
    const slowCh = h.channels.find((c) => c.frames.length === 0)!;
    expect(slowCh.closed).toEqual(['first_frame_timeout']);
    expect(h.counts.get('transport.first_frame_timeout')).toBe(1);
    quick.s.write('more\n');
    await waitFor(() => quick.text() === 'CONNECT\nMORE\n', 'quick kept');
  });

  it('stop() tells every channel, flushes their last frames and closes every connection', async () => {
    const h = await startTcp();
    const a = await connect(h.t.port);
    const b = await connect(h.t.port);
    a.s.write('a\n');
    b.s.write('b\n');
    await waitFor(() => h.channels.length === 2 && a.text() === 'A\n' && b.text() === 'B\n', 'served');
    await h.t.stop();
    await waitFor(() => a.closed() && b.closed(), 'all closed');
    expect(a.text()).toBe('A\nSHUTDOWN\n');
    expect(b.text()).toBe('B\nSHUTDOWN\n');
    expect(h.channels.every((c) => c.transportClosed && c.closed.length === 0)).toBe(true);
    expect(h.t.running).toBe(false);
    expect(h.t.hub.live).toBe(0);
  });
});

describe('TcpTransport over TLS', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makeTestPki('sensor-7');
  });
  afterAll(() => pki.cleanup());

  const mtls = (): StreamSslOptions => ({ certfile: pki.serverCert, keyfile: pki.serverKey, cacertfile: pki.caFile, verify: 'verify_peer', fail_if_no_peer_cert: true });

  async function tlsConnect(port: number, withCert: 'client' | 'rogue' | 'none'): Promise<Client & { err: () => Error | null }> {
    const o: tls.ConnectionOptions = { host: '127.0.0.1', port, ca: pki.read(pki.caFile), servername: 'localhost' };
    if (withCert === 'client') Object.assign(o, { cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) });
    if (withCert === 'rogue') Object.assign(o, { cert: pki.read(pki.rogueCert), key: pki.read(pki.rogueKey) });
    const s = tls.connect(o);
    let err: Error | null = null;
    s.on('error', (e) => (err = e));
    const c = watch(s);
    await new Promise<void>((resolve) => {
      s.once('secureConnect', () => resolve());
      s.once('close', () => resolve());
    });
    return { ...c, err: () => err };
  }

  it('shows a verified client certificate to the channel (verify_peer)', async () => {
    const h = await startTcp({}, mtls());
    const c = await tlsConnect(h.t.port, 'client');
    c.s.write('cert\n');
    await waitFor(() => c.text() === 'cn=sensor-7\n', 'cert echo');
    const link = h.channels[0]!.link;
    expect(link.kind).toBe('ssl');
    expect(link.cert?.commonName).toBe('sensor-7');
    expect(link.cert?.san).toEqual(['sensor-7.devices.local']);
    expect(link.cert?.subject).toContain('CN=sensor-7');
    expect(link.cert?.fingerprint).toMatch(/^[0-9A-F:]+$/);
  });

  it('refuses a client without a certificate, or with an untrusted one, under fail_if_no_peer_cert', async () => {
    const h = await startTcp({}, mtls());
    for (const kind of ['none', 'rogue'] as const) {
      const c = await tlsConnect(h.t.port, kind);
      if (!c.closed()) c.s.write('hello\n');
      await waitFor(() => c.closed(), `${kind} closed`);
      expect(c.text()).toBe('');
    }
    expect(h.channels).toEqual([]);
    expect(h.counts.get('transport.tls_error')).toBeGreaterThanOrEqual(2);
    await waitFor(() => h.t.hub.size === 0, 'handshakes settled');
  });

  it('lets a client without a certificate in when fail_if_no_peer_cert is false, with no cert', async () => {
    const h = await startTcp({}, { ...mtls(), fail_if_no_peer_cert: false });
    const c = await tlsConnect(h.t.port, 'none');
    c.s.write('cert\n');
    await waitFor(() => c.text() === 'cn=none\n', 'served');
    expect(h.channels[0]!.link.cert).toBeNull();
  });

  it('answers a TLS peer that half-closes after its last frames', async () => {
    const h = await startTcp({}, mtls());
    const o: tls.ConnectionOptions = { host: '127.0.0.1', port: h.t.port, ca: pki.read(pki.caFile), servername: 'localhost', cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey), allowHalfOpen: true };
    const s = tls.connect(o);
    const c = watch(s);
    await new Promise<void>((resolve) => s.once('secureConnect', () => resolve()));
    s.end('x\ny\n');
    await waitFor(() => c.ended(), 'server end after half-close');
    expect(c.text()).toBe('X\nY\n');
    expect(h.channels[0]!.closed).toEqual(['peer_closed']);
  });

  it('counts a socket in its TLS handshake against the cap and drops it at the first-frame deadline', async () => {
    const h = await startTcp({ maxConnections: 1, firstFrameMs: 500 }, mtls());
    const raw = await connect(h.t.port);
    await waitFor(() => h.t.hub.size === 1, 'handshake admitted');
    const c = await tlsConnect(h.t.port, 'client');
    await waitFor(() => c.closed(), 'over cap');
    expect(h.counts.get('transport.channel_limit')).toBe(1);
    h.clock.advance(800);
    await waitFor(() => raw.closed(), 'stalled handshake dropped');
    expect(h.logs.some((l) => l.msg === 'connection_closed' && l.reason === 'first_frame_timeout')).toBe(true);
    const d = await tlsConnect(h.t.port, 'client');
    d.s.write('cert\n');
    await waitFor(() => d.text() === 'cn=sensor-7\n', 'served after');
  });
});
