// The DTLS transport on a real UDP socket (no gateway): a tiny CoAP responder over a DtlsSocket,
// and Debian's libcoap (coap-client-openssl) and `openssl s_client -dtls1_2` as peers, plus the
// addon's own client for the flood, reload and close tests.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, decode, encode } from '../../gateways/codecs/coap/frame.js';
import type { RemoteInfo } from '../../gateways/transport/datagram.js';
import { DtlsClient } from '../../gateways/transport/dtls/client.js';
import { dtlsSocketFactory, type DtlsSocket } from '../../gateways/transport/dtls/index.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';

const run = promisify(execFile);
const KEY = 'sesame-key-0001';
const KEY_HEX = Buffer.from(KEY).toString('hex');

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Who the transport says the peer is. */
const who = (from: RemoteInfo): string =>
  from.security?.pskIdentity !== undefined ? `psk:${from.security.pskIdentity}` : `cert:${from.security?.cert?.commonName ?? '?'}`;

describe('DTLS transport', () => {
  let pki: TestPki;
  let server: DtlsSocket;
  let port: number;
  const infos: { o: Record<string, unknown>; m: string }[] = [];
  const warns: { o: Record<string, unknown>; m: string }[] = [];
  let keys = new Map([['dev1', Buffer.from(KEY)]]);
  const children: ChildProcess[] = [];
  const lastFrom: RemoteInfo[] = [];

  beforeAll(async () => {
    pki = makeTestPki('sensor-7');
    server = await dtlsSocketFactory({
      psk: { key: (id) => keys.get(id) },
      certs: { certfile: pki.serverCert, keyfile: pki.serverKey, cacertfile: pki.caFile, verify: 'verify_peer', failIfNoPeerCert: false },
      handshakeTimeoutMs: 1_500,
      log: { info: (o, m) => infos.push({ o: o as Record<string, unknown>, m }), warn: (o, m) => warns.push({ o: o as Record<string, unknown>, m }) },
    })('127.0.0.1', 0);
    port = server.address().port;
    // The responder: CoAP requests get 2.05 "<who>:<path>"; "ping" datagrams get "pong:<who>".
    server.onMessage((msg, from) => {
      lastFrom.push(from);
      if (msg.subarray(0, 4).toString() === 'ping') {
        server.send(Buffer.from(`pong:${who(from)}:${msg.subarray(4).toString().trim()}\n`), from.port, from.address);
        return;
      }
      const d = decode(msg);
      if (d.kind !== 'frame' || d.frame.code < 1 || d.frame.code > 31) return;
      const f = d.frame;
      const path = f.options.filter((o) => o.number === 11).map((o) => o.value.toString()).join('/');
      const reply = encode({ type: f.type === 'CON' ? 'ACK' : 'NON', code: Code.CONTENT, messageId: f.messageId, token: f.token, options: [], payload: Buffer.from(`${who(from)}:${path}`) });
      server.send(reply, from.port, from.address);
    });
  });

  afterAll(async () => {
    for (const c of children) {
      try {
        if (c.pid && c.exitCode === null) process.kill(c.pid);
      } catch {
        /* already gone */
      }
    }
    await server?.close();
    pki?.cleanup();
  });

  it('coap-client-openssl completes a PSK handshake and gets its answer', async () => {
    const { stdout } = await run('coap-client-openssl', ['-m', 'get', '-B', '5', '-u', 'dev1', '-k', KEY, `coaps://127.0.0.1:${port}/sensors/t1`], { timeout: 10_000 });
    expect(stdout.trim()).toBe('psk:dev1:sensors/t1');
    expect(lastFrom.at(-1)?.security).toEqual({ pskIdentity: 'dev1' });
  });

  it('coap-client-openssl with a client certificate: the verified CN, subject and fingerprint reach RemoteInfo', async () => {
    const { stdout } = await run('coap-client-openssl', ['-m', 'get', '-B', '5', '-c', pki.clientCert, '-j', pki.clientKey, '-C', pki.caFile, `coaps://127.0.0.1:${port}/c`], { timeout: 10_000 });
    expect(stdout.trim()).toBe('cert:sensor-7:c');
    const cert = lastFrom.at(-1)?.security?.cert;
    expect(cert?.commonName).toBe('sensor-7');
    expect(cert?.subject).toMatch(/CN=sensor-7/);
    expect(cert?.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(cert?.san).toEqual(['sensor-7.devices.local']);
  });

  it('a certificate from an untrusted CA fails the handshake, logged and counted', async () => {
    const before = server.stats().handshakeFailures;
    const r = await run('coap-client-openssl', ['-m', 'get', '-B', '3', '-c', pki.rogueCert, '-j', pki.rogueKey, '-n', `coaps://127.0.0.1:${port}/c`], { timeout: 10_000 }).catch((e: { stdout: string }) => e);
    expect(r.stdout).not.toMatch(/cert:/);
    await until(() => server.stats().handshakeFailures > before, 3_000);
    expect(warns.some((w) => /certificate verify failed|unknown ca/i.test(JSON.stringify(w.o)))).toBe(true);
  });

  it('openssl s_client forcing PSK-AES128-CCM8 carries datagrams both ways', async () => {
    const c = spawn('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-psk', KEY_HEX, '-psk_identity', 'dev1', '-cipher', 'PSK-AES128-CCM8', '-ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /Cipher is PSK-AES128-CCM8/.test(out), 5_000);
    c.stdin.write('ping ccm8\n');
    await until(() => out.includes('pong:psk:dev1:ccm8'), 5_000);
    expect(infos.some((i) => i.m === 'DTLS session established' && i.o.cipher === 'PSK-AES128-CCM8')).toBe(true);
    c.kill();
  });

  it('a wrong key fails cleanly: no session, one failure counted, logged once', async () => {
    const before = server.stats();
    const warnsBefore = warns.length;
    const r = await run('coap-client-openssl', ['-m', 'get', '-B', '2', '-u', 'dev1', '-k', 'not-the-key', `coaps://127.0.0.1:${port}/x`], { timeout: 10_000 }).catch((e: { stdout: string }) => e);
    expect(r.stdout).not.toMatch(/psk:/);
    await until(() => server.stats().handshakeFailures === before.handshakeFailures + 1 && server.stats().handshakes === 0, 4_000);
    expect(server.stats().peers).toBe(before.peers);
    expect(server.stats().handshakesDone).toBe(before.handshakesDone);
    expect(warns.slice(warnsBefore).filter((w) => w.m === 'DTLS handshake failed')).toHaveLength(1);
  });

  it('a flood of spoofed ClientHellos from many source ports allocates no sessions; an established session keeps answering', async () => {
    const client = new DtlsClient({ identity: 'dev1', key: Buffer.from(KEY) }, port);
    await client.connect();
    const answers: string[] = [];
    client.onMessage((m) => answers.push(m.toString()));
    const hello = DtlsClient.clientHello({ identity: 'x', key: Buffer.alloc(16) });
    const sockets: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const s = createSocket('udp4');
      s.on('error', () => undefined);
      s.on('message', () => undefined); // the HelloVerifyRequests
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    const before = server.stats();
    let sent = 0;
    // Bursts of 50 spoofed hellos, each followed by one round trip on the live session. Sender and
    // server share this process, so bursts stay below what the kernel queues for one socket.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) {
        sockets[(round * 50 + i) % sockets.length]!.send(hello, port, '127.0.0.1');
        sent++;
      }
      client.send(Buffer.from(`ping r${round}`));
      await until(() => answers.length === round + 1, 3_000);
    }
    await until(() => server.stats().cookieRejects - before.cookieRejects >= sent * 0.9, 3_000);
    const after = server.stats();
    expect(after.handshakes).toBe(0);
    expect(after.peers).toBe(before.peers);
    expect(after.handshakesDone).toBe(before.handshakesDone);
    expect(after.cookieRejects - before.cookieRejects).toBeLessThanOrEqual(sent);
    expect(answers).toEqual(Array.from({ length: 20 }, (_, r) => `pong:psk:dev1:r${r}\n`));
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await client.close();
  });

  it('reload: new keys apply to new handshakes, the established session stays up', async () => {
    const old = new DtlsClient({ identity: 'dev1', key: Buffer.from(KEY) }, port);
    await old.connect();
    const got: string[] = [];
    old.onMessage((m) => got.push(m.toString()));
    const newKey = Buffer.from('rotated-key-0002');
    keys = new Map([['dev1', newKey]]);
    server.reload({ psk: { key: (id) => keys.get(id) }, certs: { certfile: pki.serverCert, keyfile: pki.serverKey, cacertfile: pki.caFile, verify: 'verify_peer', failIfNoPeerCert: false } });
    old.send(Buffer.from('ping after-reload'));
    await until(() => got.length === 1, 3_000);
    expect(got[0]).toBe('pong:psk:dev1:after-reload\n');
    const fresh = new DtlsClient({ identity: 'dev1', key: newKey }, port);
    await fresh.connect();
    const stale = new DtlsClient({ identity: 'dev1', key: Buffer.from(KEY), timeoutMs: 1_000 }, port);
    await expect(stale.connect()).rejects.toThrow(/timed out/);
    await Promise.all([old.close(), fresh.close(), stale.close(false)]);
  });

  it('certificates only, fail_if_no_peer_cert: a client without a certificate is refused, one with a certificate gets in', async () => {
    const w: string[] = [];
    const strict = await dtlsSocketFactory({
      certs: { certfile: pki.serverCert, keyfile: pki.serverKey, cacertfile: pki.caFile, verify: 'verify_peer', failIfNoPeerCert: true },
      log: { info: () => undefined, warn: (o) => w.push(JSON.stringify(o)) },
    })('127.0.0.1', 0);
    try {
      const sClient = (extra: string[]) =>
        new Promise<string>((resolve) => {
          const c = spawn('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${strict.address().port}`, '-CAfile', pki.caFile, ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
          children.push(c);
          let out = '';
          c.stdout.on('data', (d: Buffer) => (out += d.toString()));
          c.stderr.on('data', (d: Buffer) => (out += d.toString()));
          c.on('exit', () => resolve(out));
          c.stdin.end();
        });
      const refused = await sClient([]);
      expect(refused).toMatch(/alert handshake failure/);
      expect(strict.stats()).toMatchObject({ peers: 0, handshakesDone: 0, handshakeFailures: 1 });
      expect(w.join()).toMatch(/peer did not return a certificate/);
      const ok = await sClient(['-cert', pki.clientCert, '-key', pki.clientKey]);
      expect(ok).toMatch(/Cipher is ECDHE-ECDSA-AES(128|256)-GCM/);
      expect(ok).not.toMatch(/alert/);
      expect(strict.stats().handshakesDone).toBe(1);
    } finally {
      await strict.close();
    }
  });

  it('a missing certfile or a cipher list with nothing usable refuses to start, naming it', async () => {
    const certs = { certfile: '/nonexistent/server.pem', keyfile: pki.serverKey, verify: 'verify_none' as const, failIfNoPeerCert: false };
    await expect(dtlsSocketFactory({ certs })('127.0.0.1', 0)).rejects.toThrow(/cannot load certfile \/nonexistent\/server\.pem/);
    await expect(dtlsSocketFactory({ psk: { key: () => undefined }, ciphers: ['NO-SUCH-CIPHER'] })('127.0.0.1', 0)).rejects.toThrow(/no usable cipher/);
  });

  it('closePeer sends close_notify and forgets the session', async () => {
    const c = new DtlsClient({ identity: 'dev1', key: keys.get('dev1')! }, port);
    await c.connect();
    const peers = server.stats().peers;
    server.closePeer('127.0.0.1', c.localPort());
    await until(() => c.closedByPeer, 3_000);
    expect(server.stats().peers).toBe(peers - 1);
    await c.close();
  });
});
