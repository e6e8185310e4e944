// The DTLS wiring of the UDP gateways without the native engine: a fake engine factory hands the
// gateway an in-memory DtlsSocket whose datagrams carry RemoteInfo.security, as the real one does.
// Checked: the listener config (EMQX names, defaults, refusals naming the key), the engine options a
// listener config becomes, reload and revocation (closePeer per PSK identity), and that CoAP,
// MQTT-SN and LwM2M authenticate with the PSK identity the handshake proved.
import { describe, expect, it } from 'vitest';
import type { PskLookup } from '../../../gateways/gateway.js';
import { coapConfigSchema } from '../../../gateways/coap/config.js';
import { createCoapGateway } from '../../../gateways/coap/index.js';
import { mqttsnConfigSchema } from '../../../gateways/mqttsn/config.js';
import { MqttsnGateway } from '../../../gateways/mqttsn/index.js';
import { encode as snEncode, decode as snDecode } from '../../../gateways/mqttsn/frame.js';
import { lwm2mConfigSchema } from '../../../gateways/lwm2m/config.js';
import { Lwm2mGateway } from '../../../gateways/lwm2m/index.js';
import { Code, decode, encode } from '../../../gateways/codecs/coap/frame.js';
import type { RemoteInfo } from '../../../gateways/transport/datagram.js';
import type { DtlsListenerOptions, DtlsSocket, DtlsStats } from '../../../gateways/transport/dtls/index.js';
import { DtlsGatewayListener, dtlsEngineOptions, offersPsk } from '../../../gateways/transport/dtls-listener.js';
import { FakeClock, createFakeGatewayContext, type FakeGatewayContext } from '../../helpers/fake-gateway-context.js';
import { request, seeded } from './coap/harness.js';

/** An in-memory DtlsSocket: what the engine would deliver after a handshake, and what was asked of it. */
class FakeDtlsSocket implements DtlsSocket {
  readonly sent: { buf: Buffer; port: number; address: string }[] = [];
  readonly closed: string[] = [];
  readonly reloads: Pick<DtlsListenerOptions, 'psk' | 'certs'>[] = [];
  private listener: ((msg: Buffer, from: RemoteInfo) => void) | null = null;
  constructor(readonly opts: DtlsListenerOptions) {}
  onMessage(l: (msg: Buffer, from: RemoteInfo) => void): void {
    this.listener = l;
  }
  onError(): void {}
  send(buf: Buffer, port: number, address: string): void {
    this.sent.push({ buf, port, address });
  }
  address(): RemoteInfo {
    return { address: '127.0.0.1', port: 5684 };
  }
  async close(): Promise<void> {}
  reload(o: Pick<DtlsListenerOptions, 'psk' | 'certs'>): void {
    this.reloads.push(o);
  }
  closePeer(address: string, port: number): void {
    this.closed.push(`${address}:${port}`);
  }
  stats(): DtlsStats {
    return { peers: 0, handshakes: 0, handshakesDone: 0, handshakeFailures: 0, cookieRejects: 0, alerts: 0, evicted: 0, refused: 0, dropped: 0 };
  }
  /** A decrypted datagram from an established session. */
  inject(buf: Buffer, from: RemoteInfo): void {
    this.listener?.(buf, from);
  }
}

function fakeEngine() {
  const sockets: FakeDtlsSocket[] = [];
  const engine = (opts: DtlsListenerOptions) => async () => {
    const s = new FakeDtlsSocket(opts);
    sockets.push(s);
    return s;
  };
  return { engine, sockets };
}

/** A PskLookup like auth's store: a map, and revocation listeners. */
function pskStore(entries: Record<string, string>): PskLookup & { revoke(id: string): void } {
  const m = new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]));
  const listeners: ((id: string) => void)[] = [];
  return {
    key: (id) => m.get(id),
    onRevoked: (l) => listeners.push(l),
    revoke: (id) => {
      m.delete(id);
      for (const l of listeners) l(id);
    },
  };
}

function withPsk(ctx: FakeGatewayContext, psk: PskLookup): FakeGatewayContext {
  (ctx as { psk?: PskLookup }).psk = psk;
  return ctx;
}

const PEER = (identity: string, port = 40001): RemoteInfo => ({ address: '127.0.0.1', port, family: 'IPv4', security: { pskIdentity: identity } });
const tick = () => new Promise((r) => setImmediate(r));

describe('[gateway.*.listeners.dtls.<id>] config', () => {
  it('declares dtls:default off by default, on EMQX ports, with EMQX dtls_options names', () => {
    const coap = coapConfigSchema.parse({});
    expect(coap.listeners.dtls.default).toMatchObject({ enable: false, port: 5684, dtls_options: { verify: 'verify_none', fail_if_no_peer_cert: false, ciphers: [], certfile: '' } });
    expect(lwm2mConfigSchema.parse({}).listeners.dtls.default!.port).toBe(5784);
    expect(mqttsnConfigSchema.parse({}).listeners.dtls.default!.port).toBe(1885);
    const l = coapConfigSchema.parse({ listeners: { dtls: { default: { bind: '127.0.0.1:15684', dtls_options: { handshake_timeout: '5s' } } } } }).listeners.dtls.default!;
    expect(l).toMatchObject({ enable: true, bind: '127.0.0.1', port: 15684, dtls_options: { handshake_timeout: 5 } });
  });

  it('refuses unknown keys and inconsistent settings, naming the key', () => {
    const issues = (raw: unknown) => {
      const r = coapConfigSchema.safeParse({ listeners: { dtls: { default: raw } } });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ dtls_options: { certfil: 'x' } }).join('\n')).toMatch(/listeners\.dtls\.default\.dtls_options.*certfil/);
    expect(issues({ psk: true }).join('\n')).toMatch(/listeners\.dtls\.default/);
    expect(issues({ dtls_options: { certfile: '/c.pem' } })).toEqual(['listeners.dtls.default.dtls_options.keyfile: certfile and keyfile go together']);
    expect(issues({ dtls_options: { ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'] } })).toEqual(['listeners.dtls.default.dtls_options.ciphers: no PSK cipher and no certfile/keyfile: the listener could complete no handshake']);
    expect(issues({ dtls_options: { verify: 'verify_peer', certfile: '/c', keyfile: '/k' } })).toEqual(['listeners.dtls.default.dtls_options.cacertfile: required with verify = "verify_peer"']);
    expect(issues({ dtls_options: { versions: ['dtlsv1'] } })[0]).toMatch(/versions: only dtlsv1\.2 is supported/);
    expect(issues({ enable: false, dtls_options: { certfile: '/c' } })).toEqual([]);
  });

  it('turns a listener config into engine options: PSK only when the ciphers offer it, certificates when set', () => {
    const psk = pskStore({ a: 'k' });
    const base = coapConfigSchema.parse({ listeners: { dtls: { default: {} } } }).listeners.dtls.default!;
    const o = dtlsEngineOptions(base, psk);
    expect(o.psk!.key('a')).toEqual(Buffer.from('k'));
    expect(o.certs).toBeUndefined();
    expect(o.ciphers).toBeUndefined();
    expect(o.maxPeers).toBe(10000);
    expect(o.handshakeTimeoutMs).toBe(15000);
    const certs = coapConfigSchema.parse({ listeners: { dtls: { default: { dtls_options: { certfile: '/c', keyfile: '/k', cacertfile: '/ca', verify: 'verify_peer', fail_if_no_peer_cert: true, ciphers: ['ECDHE-ECDSA-AES128-GCM-SHA256'] } } } } }).listeners.dtls.default!;
    const c = dtlsEngineOptions(certs, psk);
    expect(c.psk).toBeUndefined();
    expect(c.certs).toEqual({ certfile: '/c', keyfile: '/k', cacertfile: '/ca', verify: 'verify_peer', failIfNoPeerCert: true });
    expect(c.ciphers).toEqual(['ECDHE-ECDSA-AES128-GCM-SHA256']);
    expect(offersPsk(['ECDHE-PSK-AES128-CBC-SHA256'])).toBe(true);
    expect(offersPsk(['ECDHE-RSA-AES128-GCM-SHA256'])).toBe(false);
  });
});

describe('DtlsGatewayListener', () => {
  it('reloads keys and certificates, and closes every session of a revoked PSK identity', async () => {
    const { engine, sockets } = fakeEngine();
    const psk = pskStore({ a: 'k', b: 'k2' });
    const cfg = coapConfigSchema.parse({ listeners: { dtls: { default: {} } } }).listeners.dtls.default!;
    const logs: string[] = [];
    const l = new DtlsGatewayListener('gateway.coap.listeners.dtls.default', cfg, psk, { info: (_o, m) => logs.push(m), warn: (_o, m) => logs.push(m) }, engine);
    const s = await l.factory('127.0.0.1', 0);
    const seen: string[] = [];
    s.onMessage((m, from) => seen.push(`${from.security?.pskIdentity}:${m.toString()}`));
    sockets[0]!.inject(Buffer.from('x'), PEER('a', 1));
    sockets[0]!.inject(Buffer.from('y'), PEER('a', 2));
    sockets[0]!.inject(Buffer.from('z'), PEER('b', 3));
    expect(seen).toEqual(['a:x', 'a:y', 'b:z']);
    psk.revoke('a');
    expect(sockets[0]!.closed.sort()).toEqual(['127.0.0.1:1', '127.0.0.1:2']);
    expect(logs).toContain('dtls_sessions_closed: psk identity revoked');
    l.reload(coapConfigSchema.parse({ listeners: { dtls: { default: { dtls_options: { certfile: '/c2', keyfile: '/k2' } } } } }).listeners.dtls.default!);
    expect(sockets[0]!.reloads[0]!.certs).toMatchObject({ certfile: '/c2', keyfile: '/k2' });
    expect(sockets[0]!.reloads[0]!.psk!.key('b')).toEqual(Buffer.from('k2'));
  });

  it('names the listener key when the engine refuses to open it', async () => {
    const cfg = coapConfigSchema.parse({ listeners: { dtls: { default: {} } } }).listeners.dtls.default!;
    const l = new DtlsGatewayListener('gateway.coap.listeners.dtls.default', cfg, undefined, { info() {}, warn() {} }, () => () => Promise.reject(new Error('DTLS addon not built')));
    await expect(l.factory('127.0.0.1', 0)).rejects.toThrow('gateway.coap.listeners.dtls.default: DTLS addon not built');
  });
});

describe('gateways on a DTLS listener', () => {
  it('CoAP: a connectionless request authenticates with the PSK identity, publishes as it, and the listener shows as dtls', async () => {
    const clock = new FakeClock();
    const reqs: unknown[] = [];
    const ctx = withPsk(
      createFakeGatewayContext({
        clock,
        authenticate: (r) => {
          reqs.push(r);
          return r.pskIdentity !== undefined ? { ok: true, superuser: false, username: r.pskIdentity } : { ok: false, reason: 'not_authorized' };
        },
      }),
      pskStore({ 'sensor-1': 'k' }),
    );
    const { engine, sockets } = fakeEngine();
    const gw = createCoapGateway(ctx, coapConfigSchema.parse({ enable: true, listeners: { udp: { default: { enable: false } }, dtls: { default: { bind: '127.0.0.1', port: 0 } } } }), { dtlsEngine: engine, clock, random: seeded() });
    await gw.start();
    expect(gw.listeners()).toEqual([{ id: 'dtls:default', type: 'dtls', bind: '127.0.0.1:5684', running: true, dtls: expect.objectContaining({ peers: expect.any(Number), handshakeFailures: expect.any(Number) }) }]);
    sockets[0]!.inject(encode(request({ code: Code.POST, path: 'ps/t/up', payload: 'v1' })), PEER('sensor-1'));
    await tick();
    expect(reqs[0]).toMatchObject({ pskIdentity: 'sensor-1', username: null, password: null, listener: 'dtls:default' });
    expect(ctx.published.map((p) => [p.topic, p.payload])).toEqual([['t/up', 'v1']]);
    const r = decode(sockets[0]!.sent[0]!.buf);
    expect(r.kind === 'frame' && r.frame.code).toBe(Code.CHANGED);
    await gw.stop();
  });

  it('CoAP reload: new certificates and keys reach the engine, a cipher or port change needs a restart', async () => {
    const { engine, sockets } = fakeEngine();
    const ctx = withPsk(createFakeGatewayContext({}), pskStore({}));
    const raw = (certfile: string, extra: Record<string, unknown> = {}) => ({ enable: true, listeners: { udp: { default: { enable: false } }, dtls: { default: { port: 0, dtls_options: { certfile, keyfile: '/k', ...extra } } } } });
    const gw = createCoapGateway(ctx, coapConfigSchema.parse(raw('/c1')), { dtlsEngine: engine, random: seeded() });
    await gw.start();
    await gw.reload!(raw('/c2', { verify: 'verify_peer', cacertfile: '/ca' }));
    expect(sockets[0]!.reloads.at(-1)!.certs).toEqual({ certfile: '/c2', keyfile: '/k', cacertfile: '/ca', verify: 'verify_peer', failIfNoPeerCert: false });
    await expect(gw.reload!(raw('/c2', { ciphers: ['PSK-AES128-CCM8'] }))).rejects.toThrow(/restart needed/);
    await expect(gw.reload!({ ...raw('/c2'), listeners: { udp: { default: { enable: false } }, dtls: { default: { port: 1, dtls_options: { certfile: '/c2', keyfile: '/k' } } } } })).rejects.toThrow(/restart needed/);
    expect(sockets[0]!.reloads).toHaveLength(1);
    await gw.stop();
  });

  it('CoAP connection mode: the login token only works for the identity that logged in', async () => {
    const clock = new FakeClock();
    const ctx = withPsk(createFakeGatewayContext({ clock, authenticate: (r) => ({ ok: true, superuser: false, username: r.pskIdentity ?? null }) }), pskStore({ a: 'k', b: 'k' }));
    const { engine, sockets } = fakeEngine();
    const gw = createCoapGateway(ctx, coapConfigSchema.parse({ enable: true, connection_required: true, listeners: { udp: { default: { enable: false } }, dtls: { default: { port: 0 } } } }), { dtlsEngine: engine, clock, random: seeded() });
    await gw.start();
    const s = sockets[0]!;
    s.inject(encode(request({ code: Code.POST, mid: 1, path: 'mqtt/connection', query: ['clientid=dev1'] })), PEER('a'));
    await tick();
    const login = decode(s.sent.at(-1)!.buf);
    if (login.kind !== 'frame') throw new Error('undecodable');
    expect(login.frame.code).toBe(Code.CREATED);
    const token = login.frame.payload.toString();
    // Same client id and token, but another DTLS identity (another device's session): refused.
    s.inject(encode(request({ code: Code.POST, mid: 2, path: 'ps/x', query: ['clientid=dev1', `token=${token}`], payload: 'evil' })), PEER('b', 40002));
    await tick();
    const refused = decode(s.sent.at(-1)!.buf);
    expect(refused.kind === 'frame' && refused.frame.code).toBe(Code.BAD_REQUEST);
    s.inject(encode(request({ code: Code.POST, mid: 3, path: 'ps/x', query: ['clientid=dev1', `token=${token}`], payload: 'ok' })), PEER('a'));
    await tick();
    expect(ctx.published.map((p) => p.payload)).toEqual(['ok']);
    await gw.stop();
  });

  it('MQTT-SN: CONNECT over DTLS authenticates with the PSK identity', async () => {
    const reqs: { pskIdentity?: string }[] = [];
    const ctx = withPsk(
      new (await import('../../helpers/fake-gateway-context.js')).FakeGatewayContext({
        authenticate: (r) => {
          reqs.push(r);
          return { ok: true, superuser: false, username: r.pskIdentity ?? null };
        },
      }),
      pskStore({ 'soil-1': 'k' }),
    );
    const { engine, sockets } = fakeEngine();
    const gw = new MqttsnGateway(ctx, mqttsnConfigSchema.parse({ enable: true, listeners: { udp: { default: { enable: false } }, dtls: { default: { bind: '127.0.0.1', port: 0 } } } }), { dtlsEngine: engine });
    await gw.start();
    expect(gw.listeners()).toEqual([{ id: 'dtls:default', type: 'dtls', bind: '127.0.0.1:5684', running: true, dtls: expect.objectContaining({ peers: expect.any(Number), handshakeFailures: expect.any(Number) }) }]);
    sockets[0]!.inject(snEncode({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 30, clientId: 'soil-1' }), PEER('soil-1'));
    const deadline = Date.now() + 2000;
    while (sockets[0]!.sent.length === 0 && Date.now() < deadline) await tick();
    expect(reqs[0]).toMatchObject({ clientId: 'soil-1', pskIdentity: 'soil-1' });
    const ack = snDecode(sockets[0]!.sent[0]!.buf);
    expect(ack.kind === 'frame' && ack.frame).toEqual({ type: 'connack', rc: 0 });
    // A new DTLS session from the same address and port (another handshake): a fresh channel,
    // authenticated with the new session's identity, not the old one's.
    sockets[0]!.inject(snEncode({ type: 'connect', will: false, cleanSession: true, protocolId: 1, duration: 30, clientId: 'other' }), PEER('soil-2'));
    const until2 = Date.now() + 2000;
    while (reqs.length < 2 && Date.now() < until2) await tick();
    expect(reqs[1]).toMatchObject({ clientId: 'other', pskIdentity: 'soil-2' });
    await gw.stop();
  });

  it('LwM2M: Register over DTLS authenticates with the PSK identity and the listener shows as dtls', async () => {
    const reqs: { pskIdentity?: string }[] = [];
    const ctx = withPsk(
      createFakeGatewayContext({
        authenticate: (r) => {
          reqs.push(r);
          return { ok: true, superuser: false, username: r.pskIdentity ?? null };
        },
      }),
      pskStore({ 'meter-1': 'k' }),
    );
    const { engine, sockets } = fakeEngine();
    const gw = new Lwm2mGateway(ctx, lwm2mConfigSchema.parse({ enable: true, listeners: { udp: { default: { enable: false } }, dtls: { default: { port: 0 } } } }), seeded(), { dtlsEngine: engine });
    await gw.start();
    expect(gw.listeners()).toEqual([{ id: 'dtls:default', type: 'dtls', bind: '0.0.0.0:5684', running: true, dtls: expect.objectContaining({ peers: expect.any(Number), handshakeFailures: expect.any(Number) }) }]);
    sockets[0]!.inject(encode(request({ code: Code.POST, path: 'rd', query: ['ep=meter-1', 'lt=60', 'lwm2m=1.0'], payload: '</3/0>' })), PEER('meter-1'));
    const deadline = Date.now() + 2000;
    while (sockets[0]!.sent.length === 0 && Date.now() < deadline) await tick();
    expect(reqs[0]).toMatchObject({ clientId: 'meter-1', pskIdentity: 'meter-1' });
    const r = decode(sockets[0]!.sent[0]!.buf);
    expect(r.kind === 'frame' && r.frame.code).toBe(Code.CREATED);
    await gw.stop();
  });
});
