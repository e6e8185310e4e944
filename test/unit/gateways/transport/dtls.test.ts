// DTLS engine without sockets: record routing, cookie secrets, and the listener's caps, deadlines,
// eviction and client-restart handling driven through an in-memory datagram pipe with the real
// addon on both ends and an injected clock.
import { afterEach, describe, expect, it } from 'vitest';
import type { DatagramSocket, RemoteInfo } from '../../../../gateways/transport/datagram.js';
import { addonPath, loadNative, tryLoad, type DtlsNative } from '../../../../gateways/transport/dtls/addon.js';
import { DtlsClient } from '../../../../gateways/transport/dtls/client.js';
import { COOKIE_LENGTH, CookieSecrets } from '../../../../gateways/transport/dtls/cookie.js';
import { dtlsSupport } from '../../../../gateways/transport/dtls/index.js';
import { DtlsListener } from '../../../../gateways/transport/dtls/listener.js';
import { isClientHello, looksLikeDtls } from '../../../../gateways/transport/dtls/record.js';
import type { DtlsListenerOptions } from '../../../../gateways/transport/dtls/types.js';
import { mulberry32 } from '../../../helpers/prng.js';

const KEY = Buffer.from('0123456789abcdef', 'hex');
const CLIENT = { identity: 'dev1', key: KEY };

function native(): DtlsNative {
  const n = loadNative();
  if (!('native' in n)) throw new Error(n.reason);
  return n.native;
}

describe('addon loading', () => {
  it('is built here, and a missing addon names how to build it', () => {
    expect(dtlsSupport()).toEqual({ ok: true });
    expect(addonPath()).toMatch(/gateways\/transport\/dtls\/native\/build\/Release\/outpost_dtls\.node$/);
    const r = tryLoad('/nonexistent/outpost_dtls.node');
    expect('reason' in r && r.reason).toMatch(/not built.*python3, make and g\+\+.*npm run build:native/);
  });
});

describe('record routing', () => {
  it('recognises an epoch-0 ClientHello and nothing else', () => {
    const hello = DtlsClient.clientHello(CLIENT);
    expect(isClientHello(hello)).toBe(true);
    expect(looksLikeDtls(hello)).toBe(true);
    const appData = Buffer.from(hello);
    appData[0] = 23;
    expect(isClientHello(appData)).toBe(false);
    const epoch1 = Buffer.from(hello);
    epoch1[4] = 1;
    expect(isClientHello(epoch1)).toBe(false);
    expect(isClientHello(hello.subarray(0, 20))).toBe(false);
    expect(looksLikeDtls(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(false);
  });
});

describe('cookie secrets', () => {
  it('binds the cookie to address and port, and accepts the previous secret for one period only', () => {
    let t = 0;
    const c = new CookieSecrets(1000, () => t);
    const a = c.cookie('10.0.0.1', 1000);
    expect(a).toHaveLength(COOKIE_LENGTH);
    expect(c.cookie('10.0.0.1', 1000)).toEqual(a);
    expect(c.cookie('10.0.0.1', 1001)).not.toEqual(a);
    expect(c.cookie('10.0.0.2', 1000)).not.toEqual(a);
    expect(c.previousCookie('10.0.0.1', 1000)).toBeUndefined();
    t = 1500;
    const b = c.cookie('10.0.0.1', 1000);
    expect(b).not.toEqual(a);
    expect(c.previousCookie('10.0.0.1', 1000)).toEqual(a);
    t = 2600;
    c.cookie('10.0.0.1', 1000);
    expect(c.previousCookie('10.0.0.1', 1000)).toEqual(b);
    t = 10_000; // silent for several periods: nothing old survives
    c.cookie('10.0.0.1', 1000);
    expect(c.previousCookie('10.0.0.1', 1000)).toBeUndefined();
  });
});

/** A DtlsListener on an in-memory socket; clients are DtlsClients whose datagrams we route. */
function harness(opts: Partial<DtlsListenerOptions> = {}) {
  let t = 1_000_000;
  const toServer: ((msg: Buffer, from: RemoteInfo) => void)[] = [];
  const clients = new Map<number, { c: DtlsClient; hold: boolean; held: Buffer[] }>();
  const warns: { o: object; m: string }[] = [];
  const sock: DatagramSocket = {
    onMessage: (l) => toServer.push(l),
    onError: () => undefined,
    send: (msg, port) => {
      const e = clients.get(port);
      if (!e) return;
      if (e.hold) e.held.push(msg);
      else e.c.input(msg);
    },
    address: () => ({ address: '127.0.0.1', port: 5684 }),
    close: async () => undefined,
  };
  const server = new DtlsListener(sock, native(), {
    psk: { key: (id) => (id === 'dev1' ? KEY : undefined) },
    now: () => t,
    log: { info: () => undefined, warn: (o, m) => warns.push({ o, m }) },
    ...opts,
  });
  const echo: string[] = [];
  server.onMessage((m, from) => {
    echo.push(`${from.port}:${m.toString()}`);
    server.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address);
  });
  const client = (port: number) => {
    const c = new DtlsClient(CLIENT, 0, '127.0.0.1', (d) => {
      for (const l of toServer) l(d, { address: '10.0.0.9', port, family: 'IPv4' });
    });
    clients.set(port, { c, hold: false, held: [] });
    return c;
  };
  return {
    server,
    warns,
    echo,
    client,
    /** Stop delivering server datagrams to this client (held until release). */
    hold: (port: number) => {
      clients.get(port)!.hold = true;
    },
    /** Deliver what was held for this client (its answers go out; new server datagrams stay held). */
    release: (port: number) => {
      const e = clients.get(port)!;
      const held = e.held.splice(0);
      for (const d of held) e.c.input(d);
    },
    heldCount: (port: number) => clients.get(port)!.held.length,
    discard: (port: number) => {
      clients.get(port)!.held.length = 0;
    },
    unhold: (port: number) => {
      clients.get(port)!.hold = false;
    },
    /** A datagram from this source port to the server. */
    inject: (d: Buffer, port: number) => {
      for (const l of toServer) l(d, { address: '10.0.0.9', port, family: 'IPv4' });
    },
    attach: (port: number, c: DtlsClient) => {
      clients.set(port, { c, hold: false, held: [] });
    },

    advance: (ms: number) => {
      t += ms;
    },
    closeAll: async () => {
      for (const e of clients.values()) await e.c.close(false);
      await server.close();
    },
  };
}

describe('DtlsListener (in memory)', () => {
  let h: ReturnType<typeof harness> | undefined;
  afterEach(async () => {
    await h?.closeAll();
    h = undefined;
  });

  it('completes a PSK handshake through the cookie exchange and echoes, with the identity on RemoteInfo', async () => {
    h = harness();
    const c = h.client(40001);
    await c.connect();
    const got: string[] = [];
    c.onMessage((m) => got.push(m.toString()));
    c.send(Buffer.from('a'));
    c.send(Buffer.from('b'));
    expect(got).toEqual(['echo:a', 'echo:b']);
    const s = h.server.stats();
    expect(s).toMatchObject({ peers: 1, handshakes: 0, handshakesDone: 1, cookieRejects: 1, handshakeFailures: 0 });
    // send() to a peer without a session is dropped and counted
    h.server.send(Buffer.from('x'), 9, '10.9.9.9');
    expect(h.server.stats().dropped).toBe(1);
  });

  it('retransmits a lost handshake flight on its timer, so a client that does not retransmit still completes', async () => {
    h = harness({ retransmitMs: 50 });
    const c = h.client(45001);
    h.hold(45001);
    const done = c.connect();
    h.release(45001); // the HelloVerifyRequest arrives; c answers with its cookie
    const held = h.heldCount(45001);
    expect(held).toBeGreaterThan(0); // the server's first flight (ServerHello..ServerHelloDone)
    h.discard(45001); // ...is lost
    h.unhold(45001);
    const t0 = Date.now();
    await done; // the server's timer resent it; the client's own timer (1 s) had not fired yet
    expect(Date.now() - t0).toBeLessThan(900);
    expect(h.server.stats()).toMatchObject({ peers: 1, handshakesDone: 1 });
  });

  it('caps half-open handshakes and gives up an unfinished one at the deadline (injected clock)', async () => {
    h = harness({ maxHandshakes: 1, handshakeTimeoutMs: 5_000 });
    const c1 = h.client(41001);
    const c2 = h.client(41002);
    h.hold(41001);
    h.hold(41002);
    const p1 = c1.connect().catch((e: Error) => e);
    const p2 = c2.connect().catch((e: Error) => e);
    // Only HelloVerifyRequests went out so far: no state on the server.
    expect(h.server.stats()).toMatchObject({ handshakes: 0, cookieRejects: 2 });
    h.release(41001); // c1 echoes its cookie: one half-open handshake, its flight held
    expect(h.server.stats()).toMatchObject({ handshakes: 1, refused: 0 });
    h.release(41002); // c2's valid cookie meets the cap
    expect(h.server.stats()).toMatchObject({ handshakes: 1, refused: 1 });
    h.advance(4_999);
    h.server.sweep();
    expect(h.server.stats().handshakes).toBe(1);
    h.advance(1);
    h.server.sweep();
    expect(h.server.stats()).toMatchObject({ handshakes: 0, handshakeFailures: 1, peers: 0 });
    expect(h.warns.filter((w) => w.m === 'DTLS handshake failed')).toHaveLength(1);
    await c1.close(false);
    await c2.close(false);
    void p1;
    void p2;
  });

  it('evicts an idle session with close_notify, and caps established sessions', async () => {
    h = harness({ idleTimeoutMs: 60_000, maxPeers: 1 });
    const a = h.client(42001);
    await a.connect();
    const b = h.client(42002);
    const pb = b.connect().catch((e: Error) => e);
    expect(h.server.stats()).toMatchObject({ peers: 1, refused: 1 });
    h.advance(30_000);
    a.send(Buffer.from('still here'));
    h.advance(59_999);
    h.server.sweep();
    expect(h.server.stats()).toMatchObject({ peers: 1, evicted: 0 });
    h.advance(1);
    h.server.sweep();
    expect(h.server.stats()).toMatchObject({ peers: 0, evicted: 1 });
    expect(a.closedByPeer).toBe(true);
    void pb;
  });

  it('a client restarting on the same address and port gets a new session once its cookie checks out', async () => {
    h = harness();
    const a = h.client(43001);
    await a.connect();
    a.send(Buffer.from('one'));
    // A spoofed ClientHello for that address (no cookie) changes nothing.
    h.inject(DtlsClient.clientHello(CLIENT), 43001);
    expect(h.server.stats()).toMatchObject({ peers: 1, handshakesDone: 1 });
    const a2 = h.client(43001); // same port: the device rebooted
    await a2.connect();
    const got: string[] = [];
    a2.onMessage((m) => got.push(m.toString()));
    a2.send(Buffer.from('two'));
    expect(got).toEqual(['echo:two']);
    expect(h.server.stats()).toMatchObject({ peers: 1, handshakesDone: 2 });
    await a.close(false);
  });

  it('a client restarting mid-handshake starts over at once; a duplicated hello never replaces a live session', async () => {
    h = harness();
    const c1 = h.client(48001);
    h.hold(48001);
    const p1 = c1.connect().catch((e: Error) => e);
    h.release(48001); // cookie echoed: half-open, the server's flight held
    expect(h.server.stats().handshakes).toBe(1);
    await c1.close(false);
    // the device reboots on the same port: a new random, a new cookie round, a new session
    const sent: Buffer[] = [];
    const c2 = new DtlsClient(CLIENT, 0, '127.0.0.1', (d) => {
      sent.push(d);
      h!.inject(d, 48001);
    });
    h.attach(48001, c2);
    await c2.connect();
    expect(h.server.stats()).toMatchObject({ peers: 1, handshakes: 0, handshakesDone: 1 });
    // a delayed duplicate of c2's hello with the cookie arrives: stale, dropped
    const withCookie = sent.filter((d) => isClientHello(d))[1]!;
    h.inject(withCookie, 48001);
    expect(h.server.stats()).toMatchObject({ peers: 1, handshakesDone: 1, dropped: 1 });
    const got: string[] = [];
    c2.onMessage((m) => got.push(m.toString()));
    c2.send(Buffer.from('same session'));
    expect(got).toEqual(['echo:same session']);
    void p1;
  });

  it('a wrong key never establishes; an unknown identity is refused with an alert, logged once', async () => {
    h = harness({ handshakeTimeoutMs: 2_000 });
    const bad = new DtlsClient({ identity: 'nobody', key: KEY }, 0, '127.0.0.1', (d) => h!.inject(d, 44001));
    h.attach(44001, bad);
    const err = await bad.connect().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/unknown psk identity/i);
    expect(h.server.stats()).toMatchObject({ peers: 0, handshakes: 0, handshakeFailures: 1, alerts: 1 });
    expect(h.warns).toHaveLength(1);
    expect(JSON.stringify(h.warns[0]!.o)).toMatch(/unknown psk identity/i);
    // The device retries from the same address: counted again, not logged again.
    const again = new DtlsClient({ identity: 'nobody', key: KEY }, 0, '127.0.0.1', (d) => h!.inject(d, 44001));
    h.attach(44001, again);
    await again.connect().catch(() => undefined);
    expect(h.server.stats()).toMatchObject({ handshakeFailures: 2, alerts: 2 });
    expect(h.warns).toHaveLength(1);

    // The right identity with a wrong key: the client's Finished does not decrypt (DTLS drops
    // such records silently), so the handshake never completes and ends at the deadline.
    const wrong = new DtlsClient({ identity: 'dev1', key: Buffer.alloc(16, 1) }, 0, '127.0.0.1', (d) => h!.inject(d, 44002));
    h.attach(44002, wrong);
    const p = wrong.connect().catch((e: Error) => e);
    expect(h.server.stats()).toMatchObject({ peers: 0, handshakesDone: 0 });
    h.advance(2_000);
    h.server.sweep();
    expect(h.server.stats()).toMatchObject({ peers: 0, handshakes: 0, handshakeFailures: 3 });
    expect(h.warns).toHaveLength(2);
    void p;
  });

  it('survives mutated and random datagrams (seeded): no crash, no state for strangers, the live session keeps working', async () => {
    h = harness();
    const a = h.client(46001);
    await a.connect();
    const got: string[] = [];
    a.onMessage((m) => got.push(m.toString()));
    const rnd = mulberry32(20261206);
    const hello = DtlsClient.clientHello(CLIENT);
    const mutate = (b: Buffer): Buffer => {
      const m = Buffer.from(b.subarray(0, 1 + Math.floor(rnd() * b.length)));
      for (let k = 0, n = 1 + Math.floor(rnd() * 8); k < n; k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      return m;
    };
    const random = (): Buffer => Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
    for (let i = 0; i < 3000; i++) {
      const kind = i % 3;
      const d = kind === 0 ? mutate(hello) : kind === 1 ? random() : Buffer.concat([Buffer.from([22 + (i % 2), 0xfe, 0xfd]), random()]);
      // strangers on many ports, and the established peer's own address
      h.inject(d, i % 5 === 0 ? 46001 : 47000 + (i % 500));
    }
    expect(h.server.stats()).toMatchObject({ peers: 1, handshakes: 0, handshakesDone: 1 });
    // garbage into a half-open handshake too
    const b = h.client(46002);
    h.hold(46002);
    const pb = b.connect().catch((e: Error) => e);
    h.release(46002);
    expect(h.server.stats().handshakes).toBe(1);
    for (let i = 0; i < 1000; i++) h.inject(i % 2 ? random() : Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, i % 3]), random()]), 46002);
    h.unhold(46002);
    h.release(46002);
    h.advance(30_000);
    h.server.sweep(); // whatever the garbage did, the half-open handshake ends by its deadline
    expect(h.server.stats().handshakes).toBe(0);
    await b.close(false);
    void pb;
    a.send(Buffer.from('after fuzz'));
    expect(got).toEqual(['echo:after fuzz']);
  });
});
