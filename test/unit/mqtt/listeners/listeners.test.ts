// The extra listeners with a fake front end (accept records the connection): certificate fields,
// identity overrides, certificate reload, the accept gate's limits, and the config schema.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listenersSchema } from '../../../../src/mqtt/listeners/config.js';
import { AcceptGate, parseConnRate } from '../../../../src/mqtt/listeners/gate.js';
import { startExtraListeners, withConnectionCap } from '../../../../src/mqtt/listeners/index.js';
import { parseSan } from '../../../../src/mqtt/listeners/tls-options.js';
import { pickSubprotocol } from '../../../../src/mqtt/listeners/ws-listener.js';
import type { AcceptedConnection, ListenerHandle } from '../../../../src/mqtt/listener.js';
import type { Config } from '../../../../src/config/schema.js';
import { makeTestPki, reissueServerCert, type TestPki } from '../../../helpers/certs.js';

const log = pino({ level: 'silent' });
let pki: TestPki;
let handles: ListenerHandle[] = [];
const sockets: (Socket | WebSocket)[] = [];

beforeAll(() => {
  pki = makeTestPki('dev-42');
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  for (const s of sockets.splice(0)) s instanceof WebSocket ? s.terminate() : s.destroy();
  for (const h of handles.splice(0)) await h.close();
});

function cfg(listeners: Record<string, unknown>): Config {
  return { listeners: listenersSchema.parse(listeners) } as unknown as Config;
}
const ssl = (extra: Record<string, unknown> = {}) => ({ certfile: pki.serverCert, keyfile: pki.serverKey, cacertfile: pki.caFile, ...extra });

function recorder() {
  const got: AcceptedConnection[] = [];
  const accept = (c: AcceptedConnection) => {
    got.push(c);
    // Echo so the client sees the stream is live.
    c.socket.on('data', (b: Buffer) => c.socket.write(b));
    c.socket.on('error', () => undefined);
  };
  return { got, accept };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tlsClient(port: number, withCert: boolean): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.read(pki.caFile), ...(withCert ? { cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey) } : {}) }, () => resolve(s));
    sockets.push(s);
    s.once('error', reject);
  });
}

describe('listener config', () => {
  it('declares ssl/ws/wss default listeners switched off, with EMQX ports', () => {
    const l = listenersSchema.parse({});
    expect(l.ssl.default).toMatchObject({ enable: false, port: 8883, bind: '0.0.0.0', max_connections: 0, max_conn_rate: 'infinity' });
    expect(l.ws.default).toMatchObject({ enable: false, port: 8083, websocket: { mqtt_path: '/mqtt', fail_if_no_subprotocol: true } });
    expect(l.wss.default).toMatchObject({ enable: false, port: 8084, ssl_options: { verify: 'verify_none', versions: ['tlsv1.3', 'tlsv1.2'] } });
  });

  it('a declared listener is on unless it says otherwise; unknown keys and bad rates are errors', () => {
    expect(listenersSchema.parse({ ws: { lan: {} } }).ws.lan!.enable).toBe(true);
    expect(listenersSchema.safeParse({ ssl: { default: { ssl_options: { verify: 'maybe' } } } }).success).toBe(false);
    expect(listenersSchema.safeParse({ ws: { default: { nope: 1 } } }).success).toBe(false);
    expect(listenersSchema.safeParse({ ws: { default: { max_conn_rate: 'lots' } } }).success).toBe(false);
    expect(listenersSchema.safeParse({ tcp: {} }).success).toBe(false);
  });

  it('helpers: subprotocol choice, SAN parsing, connection rates', () => {
    const sup = ['mqtt', 'mqttv3.1'];
    expect(pickSubprotocol('chat, mqttv3.1', sup)).toBe('mqttv3.1');
    expect(pickSubprotocol(undefined, sup)).toBe('');
    expect(pickSubprotocol('chat', sup)).toBeNull();
    expect(parseSan('DNS:a.local, IP Address:127.0.0.1, email:x@y')).toEqual(['a.local', '127.0.0.1', 'x@y']);
    expect(parseConnRate('1000/s')).toBe(1);
    expect(parseConnRate('infinity')).toBeNull();
    expect(() => parseConnRate('x')).toThrow();
  });
});

describe('TLS listener', () => {
  it('passes the verified client certificate and the identity overrides to accept', async () => {
    const { got, accept } = recorder();
    handles = await startExtraListeners(
      cfg({ ssl: { default: { bind: '127.0.0.1', port: 0, peer_cert_as_username: 'cn', peer_cert_as_clientid: 'dn', ssl_options: ssl({ verify: 'verify_peer' }) } } }),
      accept,
      log,
    );
    const h = handles[0]!;
    expect(h).toMatchObject({ id: 'ssl:default', type: 'ssl', bind: '127.0.0.1' });
    const s = await tlsClient(h.port, true);
    await until(() => got.length === 1);
    const c = got[0]!;
    expect(c).toMatchObject({ listener: 'ssl:default', peerHost: '127.0.0.1', sockPort: h.port, certAs: { username: 'cn', clientId: 'dn' } });
    expect(c.cert).toMatchObject({ commonName: 'dev-42', subject: 'C=DE,O=Outpost Test,CN=dev-42', san: ['dev-42.devices.local'] });
    expect(c.cert!.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(h.currentConnections()).toBe(1);
    s.write('ping');
    await new Promise<void>((r) => s.once('data', () => r()));
    // A client without a certificate is allowed (fail_if_no_peer_cert = false) and has no cert fields.
    await tlsClient(h.port, false);
    await until(() => got.length === 2);
    expect(got[1]!.cert).toBeUndefined();
  });

  it('reload re-reads the certificate files; a missing file throws and keeps the old one', async () => {
    const { accept } = recorder();
    const conf = cfg({ ssl: { default: { bind: '127.0.0.1', port: 0, ssl_options: ssl() } } });
    handles = await startExtraListeners(conf, accept, log);
    const h = handles[0]!;
    const cn = async () => {
      const s = await tlsClient(h.port, false);
      const name = (s.getPeerCertificate().subject as { CN: string }).CN;
      s.destroy();
      return name;
    };
    expect(await cn()).toBe('localhost');
    reissueServerCert(pki, 'renewed.localhost');
    await h.reload!(conf);
    expect(await cn()).toBe('renewed.localhost');
    await expect(h.reload!(cfg({ ssl: { default: { bind: '127.0.0.1', port: 0, ssl_options: ssl({ certfile: `${pki.dir}/missing.pem` }) } } }))).rejects.toThrow(/certfile/);
    expect(await cn()).toBe('renewed.localhost');
  });

  it('a listener that cannot start names itself, and the ones started before are closed', async () => {
    const { accept } = recorder();
    const err = await startExtraListeners(
      cfg({ ws: { default: { bind: '127.0.0.1', port: 0 } }, ssl: { default: { bind: '127.0.0.1', port: 0, ssl_options: { certfile: '/nonexistent/outpost-test/cert.pem', keyfile: '/nonexistent/outpost-test/key.pem' } } } }),
      accept,
      log,
    ).catch((e: unknown) => e as Error & { code: string });
    expect(err).toMatchObject({ code: 'OUTPOST_ERR_LISTENER_START' });
    expect((err as Error).message).toMatch(/listener ssl:default failed to start: .*certfile/);
  });
});

describe('WebSocket listeners', () => {
  it('wss with verify_peer: the client certificate and certAs reach accept; a rogue certificate does not', async () => {
    const { got, accept } = recorder();
    handles = await startExtraListeners(
      cfg({ wss: { default: { bind: '127.0.0.1', port: 0, peer_cert_as_clientid: 'cn', ssl_options: ssl({ verify: 'verify_peer', fail_if_no_peer_cert: true }) } } }),
      accept,
      log,
    );
    const port = handles[0]!.port;
    const dial = (cert: string, key: string) =>
      new Promise<'open' | 'refused'>((resolve) => {
        const ws = new WebSocket(`wss://localhost:${port}/mqtt`, 'mqtt', { ca: pki.read(pki.caFile), cert: pki.read(cert), key: pki.read(key) });
        sockets.push(ws);
        ws.once('open', () => resolve('open'));
        ws.once('error', () => resolve('refused'));
      });
    expect(await dial(pki.clientCert, pki.clientKey)).toBe('open');
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ listener: 'wss:default', certAs: { clientId: 'cn' }, cert: { commonName: 'dev-42' } });
    expect(await dial(pki.rogueCert, pki.rogueKey)).toBe('refused');
    expect(got).toHaveLength(1);
  });

  it('ws: proxy_address_header gives the client address; MQTT bytes round-trip through the stream', async () => {
    const { got, accept } = recorder();
    handles = await startExtraListeners(cfg({ ws: { default: { bind: '127.0.0.1', port: 0, websocket: { proxy_address_header: 'X-Forwarded-For' } } } }), accept, log);
    const ws = new WebSocket(`ws://127.0.0.1:${handles[0]!.port}/mqtt`, ['mqttv5', 'mqtt'], { headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' } });
    sockets.push(ws);
    await new Promise((r) => ws.once('open', r));
    expect(ws.protocol).toBe('mqttv5');
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ peerHost: '203.0.113.9', listener: 'ws:default' });
    const echoed = new Promise<Buffer>((r) => ws.once('message', (b: Buffer) => r(b)));
    ws.send(Buffer.from([0xc0, 0x00]));
    expect([...(await echoed)]).toEqual([0xc0, 0x00]);
    // The peer closing ends the stream and closes it, so connection counting sees it go.
    ws.close();
    await until(() => handles[0]!.currentConnections() === 0);
  });
});

describe('WebSocket message bound', () => {
  it('a message above max_frame_size closes the connection (1009) before anything reaches the front end', async () => {
    const got: Buffer[] = [];
    const accept = (c: AcceptedConnection) => {
      c.socket.on('data', (b: Buffer) => got.push(b));
      c.socket.on('error', () => undefined);
    };
    handles = await startExtraListeners(cfg({ ws: { default: { bind: '127.0.0.1', port: 0, websocket: { max_frame_size: 100 } } } }), accept, log);
    const ws = new WebSocket(`ws://127.0.0.1:${handles[0]!.port}/mqtt`, 'mqtt');
    sockets.push(ws);
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    ws.send(Buffer.alloc(200, 1));
    expect(await closed).toBe(1009);
    expect(got).toHaveLength(0);
  });
});

describe('accept gate', () => {
  it('max_connections: the connection over the limit is closed at once', async () => {
    const { got, accept } = recorder();
    handles = await startExtraListeners(cfg({ ws: { default: { bind: '127.0.0.1', port: 0, max_connections: 2 } } }), accept, log);
    const port = handles[0]!.port;
    const open = (): Promise<'open' | 'closed'> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
        sockets.push(ws);
        ws.once('open', () => resolve('open'));
        ws.once('error', () => resolve('closed'));
        ws.once('close', () => resolve('closed'));
      });
    expect(await open()).toBe('open');
    expect(await open()).toBe('open');
    expect(await open()).toBe('closed');
    expect(got).toHaveLength(2);
    expect(handles[0]!.currentConnections()).toBe(2);
  });

  it('max_conn_rate: connections beyond the rate wait for their turn instead of being served at once', async () => {
    const { got, accept } = recorder();
    handles = await startExtraListeners(cfg({ ws: { default: { bind: '127.0.0.1', port: 0, max_conn_rate: '4/s' } } }), accept, log);
    const port = handles[0]!.port;
    const t0 = Date.now();
    const times: number[] = [];
    await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
            sockets.push(ws);
            ws.once('open', () => (times.push(Date.now() - t0), resolve()));
            ws.once('error', reject);
          }),
      ),
    );
    times.sort((a, b) => a - b);
    expect(got).toHaveLength(8);
    // 4 pass at once (one second of tokens), the other 4 arrive one every 250 ms.
    expect(times[3]!).toBeLessThan(500);
    expect(times[7]!).toBeGreaterThanOrEqual(900);
    expect(times[7]!).toBeLessThan(3000);
  });

  it('withConnectionCap closes connections over the global cap and frees slots on close', async () => {
    const { got, accept } = recorder();
    let slots = 1;
    const cap = { tryAcquire: () => (slots > 0 ? (slots--, () => void slots++) : null) };
    handles = await startExtraListeners(cfg({ ws: { default: { bind: '127.0.0.1', port: 0 } } }), withConnectionCap(accept, cap, log), log);
    const port = handles[0]!.port;
    const a = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
    sockets.push(a);
    await new Promise((r) => a.once('open', r));
    const b = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
    sockets.push(b);
    await new Promise((r) => b.once('close', r));
    expect(got).toHaveLength(1);
    a.close();
    await until(() => slots === 1);
    const c = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
    sockets.push(c);
    await new Promise((r) => c.once('open', r));
    expect(got).toHaveLength(2);
  });

  it('a plain TCP connection that never completes the TLS handshake does not reach accept', async () => {
    const { got, accept } = recorder();
    handles = await startExtraListeners(cfg({ ssl: { default: { bind: '127.0.0.1', port: 0, ssl_options: ssl({ handshake_timeout: 0.3 }) } } }), accept, log);
    const s = netConnect({ host: '127.0.0.1', port: handles[0]!.port });
    sockets.push(s);
    s.on('error', () => undefined);
    s.write('CONNECT not tls\r\n');
    await new Promise((r) => s.once('close', r));
    expect(got).toHaveLength(0);
  });
});

describe('accept gate', () => {
  function rawClient(port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => resolve(s));
      sockets.push(s);
      s.once('error', reject);
    });
  }
  const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

  it('drops a socket the layer above never takes over after the deadline, keeps a released one, forgets both', async () => {
    const handed: Socket[] = [];
    const gate = new AcceptGate({ id: 't', bind: '127.0.0.1', port: 0, maxConnections: 0, maxConnRate: 'infinity', log, preAcceptMs: 150, handOver: (s) => {
      handed.push(s);
      s.resume();
    } });
    const port = await gate.listen();
    handles.push({ id: 't', port, bind: '127.0.0.1', type: 'tcp', currentConnections: () => gate.current(), close: () => gate.close(), reload: async () => {} });
    const stuck = await rawClient(port);
    const taken = await rawClient(port);
    await until(() => handed.length === 2);
    gate.release(handed[1]!);
    const t0 = Date.now();
    await closed(stuck);
    expect(Date.now() - t0).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 300));
    expect(taken.destroyed).toBe(false);
    expect(gate.current()).toBe(1);
    taken.destroy();
    await until(() => gate.current() === 0);
  });
});
