// The STOMP gateway in the real daemon over TCP and TLS, driven by Debian's python3-stomp (stomp.py)
// for STOMP 1.0, 1.1 and 1.2 and by MQTT.js on the MQTT side; a raw socket only where a client
// library would not misbehave on purpose (frame limits, a silent client). gateways/stomp/SPEC.md §11.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, sleep, uid, type TestClient } from '../helpers/mqtt-clients.js';
import { seedAuth } from '../helpers/seed-users.js';

const PY = '/usr/bin/python3';

// Shared by every script: a listener that records frames, bounded waits, JSON result on stdout.
const PRELUDE = `
import json, sys, time, threading, ssl
import stomp
PORT = int(sys.argv[1])
CA = sys.argv[2] if len(sys.argv) > 2 else None
out = {}
class Rec(stomp.ConnectionListener):
    def __init__(self):
        self.events = []
        self.heartbeats = 0
        self.disconnected = False
        self.cv = threading.Condition()
    def _add(self, kind, f):
        with self.cv:
            self.events.append({'kind': kind, 'headers': dict(f.headers), 'body': f.body})
            self.cv.notify_all()
    def on_connected(self, f): self._add('connected', f)
    def on_message(self, f): self._add('message', f)
    def on_receipt(self, f): self._add('receipt', f)
    def on_error(self, f): self._add('error', f)
    def on_heartbeat(self):
        with self.cv: self.heartbeats += 1
    def on_disconnected(self):
        with self.cv:
            self.disconnected = True
            self.cv.notify_all()
    def of(self, kind):
        return [e for e in self.events if e['kind'] == kind]
    def wait(self, kind, n=1, timeout=5.0):
        end = time.time() + timeout
        with self.cv:
            while len(self.of(kind)) < n:
                left = end - time.time()
                if left <= 0:
                    fail('timeout waiting for %d %s; events %s' % (n, kind, json.dumps(self.events)))
                self.cv.wait(left)
            return self.of(kind)
    def wait_disconnected(self, timeout=5.0):
        end = time.time() + timeout
        with self.cv:
            while not self.disconnected:
                left = end - time.time()
                if left <= 0: fail('still connected')
                self.cv.wait(left)
def fail(msg):
    print(json.dumps({'__fail': msg})); sys.stdout.flush(); import os; os._exit(1)
def connection(cls, **kw):
    c = getattr(stomp, cls)([('127.0.0.1', PORT)], **kw)
    r = Rec()
    c.set_listener('rec', r)
    if CA:
        c.set_ssl(for_hosts=[('127.0.0.1', PORT)], ca_certs=CA)
    return c, r
def ready(tag='READY'):
    print(tag); sys.stdout.flush()
def done():
    print(json.dumps(out)); sys.stdout.flush()
`;

interface PyRun {
  /** Resolves when the script prints `tag` on a line of its own. */
  line(tag: string, ms?: number): Promise<void>;
  /** The first line that starts with `prefix` (waits for it). */
  lineWith(prefix: string, ms?: number): Promise<string>;
  /** The JSON the script printed last; rejects on a non-zero exit or a timeout. */
  result(ms?: number): Promise<Record<string, unknown>>;
}

let work: string;
let d: Daemon;
let pki: TestPki;
let port: number;
let sslPort: number;
let app: TestClient;
let api: string;
let scriptSeq = 0;

function py(body: string, args: string[] = []): PyRun {
  const file = join(work, `s${++scriptSeq}.py`);
  writeFileSync(file, PRELUDE + '\n' + body.replace(/^\n/, ''));
  const child = spawn(PY, [file, String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { tag: string; resolve: () => void }[] = [];
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    const lines = stdout.split('\n');
    for (const w of [...waiters]) if (lines.includes(w.tag)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  void exited.then(() => clearTimeout(killer));
  return {
    line: (tag, ms = 8000) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.split('\n').includes(tag)) return resolve();
        const t = setTimeout(() => reject(new Error(`python did not print ${tag}; stdout ${stdout} stderr ${stderr}`)), ms);
        waiters.push({ tag, resolve: () => (clearTimeout(t), resolve()) });
      }),
    lineWith: async (prefix, ms = 8000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = stdout.split('\n').find((l) => l.startsWith(prefix));
        if (hit !== undefined && stdout.includes(hit + '\n')) return hit;
        if (Date.now() > deadline) throw new Error(`python printed no line starting ${prefix}; stdout ${stdout} stderr ${stderr}`);
        await sleep(20);
      }
    },
    result: async (ms = 15_000) => {
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(last) as Record<string, unknown>;
      } catch {
        throw new Error(`python exit ${code}; stdout ${stdout}; stderr ${stderr}`);
      }
      if (code !== 0 || json.__fail) throw new Error(`python exit ${code}: ${String(json.__fail)}; stderr ${stderr.slice(-2000)}`);
      return json;
    },
  };
}

/** Raw bytes to the STOMP port; collects everything until the server closes (or `ms`). */
function raw(bytes: string | Buffer, ms = 5000, target = port): Promise<{ data: string; closed: boolean; elapsed: number }> {
  return new Promise((resolve) => {
    const s = netConnect(target, '127.0.0.1');
    const start = Date.now();
    let data = '';
    let closed = false;
    const t = setTimeout(() => {
      s.destroy();
      resolve({ data, closed, elapsed: Date.now() - start });
    }, ms);
    s.on('connect', () => s.write(bytes));
    s.on('data', (b) => (data += b.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      clearTimeout(t);
      resolve({ data, closed, elapsed: Date.now() - start });
    });
  });
}

const CONNECT12 = 'CONNECT\naccept-version:1.2\nhost:x\nlogin:alice\npasscode:secret\n\n\0';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'stomp-py-'));
  pki = makeTestPki();
  const acl = join(work, 'acl.conf');
  writeFileSync(acl, ['{deny, {user, "alice"}, publish, ["stomp/secret/#"]}.', '{deny, {user, "alice"}, subscribe, ["stomp/secret/#"]}.', '{allow, all, subscribe, ["$SYS/#"]}.', '{allow, all}.', ''].join('\n'));
  const dataDir = mkdtempSync(join(tmpdir(), 'stomp-py-data-'));
  await seedAuth(dataDir, async (users) => {
    await users.add('alice', 'secret');
    await users.add('app', 'app-secret');
    await users.add('mallory', 'pw');
  });
  d = await startDaemon({
    dataDir,
    config: `
[api]
bind = "127.0.0.1"
port = 0
auth = false

[authorization]
no_match = "allow"
sources = ["file"]
[authorization.file]
path = ${JSON.stringify(acl)}

[gateway.stomp]
enable = true
mountpoint = "stomp/"
idle_timeout = 2
session_expiry_interval = 60

[gateway.stomp.clientinfo_override]
clientid = "\${Packet.headers.client-id}"

[gateway.stomp.listeners.tcp.default]
bind = "127.0.0.1"
port = 0

[gateway.stomp.listeners.ssl.default]
bind = "127.0.0.1"
port = 0
[gateway.stomp.listeners.ssl.default.ssl_options]
certfile = ${JSON.stringify(pki.serverCert)}
keyfile = ${JSON.stringify(pki.serverKey)}
`,
  });
  port = d.ports['stomp:tcp:default']!;
  sslPort = d.ports['stomp:ssl:default']!;
  expect(port).toBeGreaterThan(0);
  expect(sslPort).toBeGreaterThan(0);
  api = `http://127.0.0.1:${d.ports['api:http']}`;
  app = await connectClient(d.mqttUrl, { clientId: uid('app'), username: 'app', password: 'app-secret', protocolVersion: 5 });
  await app.sub(['stomp/#', '$SYS/brokers/+/gateway/stomp/clients/+/+'], { qos: 1 });
});

afterAll(async () => {
  await app?.end(true);
  await d?.stop();
  d?.cleanup();
  pki?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('STOMP 1.0 / 1.1 / 1.2 over TCP with stomp.py', () => {
  it('1.0: CONNECT without 1.1 headers, SEND to MQTT, MESSAGE from MQTT', async () => {
    const run = py(`
c, r = connection('Connection10')
c.connect('alice', 'secret', wait=True)
out['connected'] = r.wait('connected')[0]['headers']
c.subscribe('cmd/v10')
c.send('up/v10', 'hello 1.0', receipt='s1')
r.wait('receipt')
ready()
m = r.wait('message')[0]
out['message'] = m
c.disconnect()
done()
`);
    await run.line('READY');
    await sleep(100);
    await app.pub('stomp/cmd/v10', 'down', { qos: 0 });
    const res = await run.result();
    expect((res.connected as Record<string, string>).version).toBe('1.0');
    const m = res.message as { headers: Record<string, string>; body: string };
    expect(m.body).toBe('down');
    expect(m.headers.destination).toBe('cmd/v10');
    expect(m.headers['message-id']).toBe('1');
    const up = await app.waitMessages(1, 3000, (x) => x.topic === 'stomp/up/v10');
    expect(up[0]!.text).toBe('hello 1.0');
    expect(up[0]!.packet.qos).toBe(0);
  });

  it('1.1: ack:client is cumulative; NACK redelivers on the QoS 1 subscription', async () => {
    const run = py(`
c, r = connection('Connection11')
c.connect('alice', 'secret', wait=True)
out['version'] = r.wait('connected')[0]['headers']['version']
c.subscribe('jobs/v11', id='s1', ack='client', receipt='sub')
r.wait('receipt')
ready()
ms = r.wait('message', 3)
# NACK of the third is cumulative in client mode: all three come back, in order.
c.nack(ms[2]['headers']['message-id'], 's1')
again = r.wait('message', 6)[3:]
out['redelivered'] = again
# One cumulative ACK of the last settles all of them: nothing more arrives.
c.ack(again[2]['headers']['message-id'], 's1', receipt='acked')
r.wait('receipt', 2)
time.sleep(0.3)
out['count'] = len(r.of('message'))
c.disconnect()
done()
`);
    await run.line('READY');
    for (const p of ['j1', 'j2', 'j3']) await app.pub('stomp/jobs/v11', p, { qos: 1 });
    const res = await run.result();
    expect(res.version).toBe('1.1');
    const again = res.redelivered as { headers: Record<string, string>; body: string }[];
    expect(again.map((m) => m.body)).toEqual(['j1', 'j2', 'j3']);
    expect(again[0]!.headers.subscription).toBe('s1');
    expect(again[0]!.headers.ack).toBe(again[0]!.headers['message-id']);
    expect(res.count).toBe(6);
  });

  it('1.2: client-individual ACK/NACK, NACKed message redelivered, unacked one survives until ACK', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
out['version'] = r.wait('connected')[0]['headers']['version']
c.subscribe('jobs/v12', id='7', ack='client-individual', receipt='sub')
r.wait('receipt')
ready()
a, b = r.wait('message', 2)[:2]
c.ack(b['headers']['ack'], receipt='ack-b')
c.nack(a['headers']['ack'], receipt='nack-a')
r.wait('receipt', 3)
third = r.wait('message', 3)[2]
out['first'] = a
out['third'] = third
c.ack(third['headers']['ack'])
time.sleep(0.3)
out['count'] = len(r.of('message'))
c.disconnect()
done()
`);
    await run.line('READY');
    await app.pub('stomp/jobs/v12', 'a', { qos: 1 });
    await app.pub('stomp/jobs/v12', 'b', { qos: 1 });
    const res = await run.result();
    expect(res.version).toBe('1.2');
    const first = res.first as { headers: Record<string, string>; body: string };
    const third = res.third as { headers: Record<string, string>; body: string };
    expect(first.headers.ack).toBeDefined();
    expect(third.body).toBe('a');
    expect(third.headers.subscription).toBe('7');
    expect(res.count).toBe(3);
  });

  it('1.2: auto ack, MQTT 5 content type and user properties become headers; STOMP headers become user properties', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
c.subscribe('props/#', id='0', receipt='sub')
r.wait('receipt')
ready()
m = r.wait('message')[0]
out['message'] = m
c.send('up/props', '{"x":1}', content_type='application/json', headers={'x-trace': 'abc'}, receipt='s')
r.wait('receipt', 2)
c.disconnect()
done()
`);
    await run.line('READY');
    await app.pub('stomp/props/a', '{"t":21.5}', { qos: 0, properties: { contentType: 'application/json', userProperties: { site: 'north' } } });
    const res = await run.result();
    const m = res.message as { headers: Record<string, string>; body: string };
    expect(m.headers['content-type']).toBe('application/json');
    expect(m.headers.site).toBe('north');
    expect(m.headers.ack).toBeUndefined();
    const up = await app.waitMessages(1, 3000, (x) => x.topic === 'stomp/up/props');
    expect(up[0]!.text).toBe('{"x":1}');
    expect(up[0]!.packet.properties?.contentType).toBe('application/json');
    expect(up[0]!.packet.properties?.userProperties).toMatchObject({ 'x-trace': 'abc' });
  });

  it('wildcards and $share: a shared group splits the messages, a + filter sees them all', async () => {
    const run = py(`
a, ra = connection('Connection12')
b, rb = connection('Connection12')
w, rw = connection('Connection12')
for c, r in ((a, ra), (b, rb), (w, rw)):
    c.connect('alice', 'secret', wait=True)
a.subscribe('$share/g/shared/jobs', id='s', receipt='ra')
b.subscribe('$share/g/shared/jobs', id='s', receipt='rb')
w.subscribe('shared/+', id='w', receipt='rw')
for r in (ra, rb, rw): r.wait('receipt')
ready()
rw.wait('message', 10)
time.sleep(0.3)
out['a'] = [m['body'] for m in ra.of('message')]
out['b'] = [m['body'] for m in rb.of('message')]
out['w'] = len(rw.of('message'))
out['dest'] = rw.of('message')[0]['headers']['destination']
out['sub'] = (ra.of('message') + rb.of('message'))[0]['headers']['subscription']
for c in (a, b, w): c.disconnect()
done()
`);
    await run.line('READY');
    for (let i = 0; i < 10; i++) await app.pub('stomp/shared/jobs', `j${i}`, { qos: 0 });
    const res = await run.result();
    const got = [...(res.a as string[]), ...(res.b as string[])].sort();
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `j${i}`).sort());
    expect(res.w).toBe(10);
    expect(res.dest).toBe('shared/jobs');
    expect(res.sub).toBe('s');
  });

  it('transactions: SENDs reach MQTT only at COMMIT; ABORT discards; BEGIN twice is an ERROR that keeps the connection', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
c.begin('t1')
c.send('tx/a', 'one', transaction='t1')
c.send('tx/a', 'two', transaction='t1')
ready('SENT')
time.sleep(0.5)
c.commit('t1', receipt='commit')
r.wait('receipt')
c.begin('t2')
c.send('tx/a', 'never', transaction='t2')
c.abort('t2', receipt='abort')
r.wait('receipt', 2)
c.begin('t3')
c.begin('t3')
e = r.wait('error')[0]
out['error'] = e['body']
c.send('tx/a', 'after', receipt='after')
r.wait('receipt', 3)
c.disconnect()
done()
`);
    await run.line('SENT');
    await sleep(300);
    expect(app.msgs.filter((m) => m.topic === 'stomp/tx/a')).toEqual([]);
    const res = await run.result();
    expect(res.error).toBe('Transaction t3 already started');
    await app.waitMessages(3, 3000, (m) => m.topic === 'stomp/tx/a');
    expect(app.msgs.filter((m) => m.topic === 'stomp/tx/a').map((m) => m.text)).toEqual(['one', 'two', 'after']);
  });

  it('heart-beats: CONNECTED answers cy,cx, the server beats on time and a beating client stays', async () => {
    const run = py(`
c, r = connection('Connection12', heartbeats=(300, 300))
c.connect('alice', 'secret', wait=True)
out['hb'] = r.wait('connected')[0]['headers']['heart-beat']
time.sleep(2.0)
out['beats'] = r.heartbeats
out['connected'] = c.is_connected()
c.disconnect(receipt='bye')
done()
`);
    const res = await run.result();
    expect(res.hb).toBe('300,300');
    // 2 s at 300 ms: about 6 beats; allow for a loaded machine.
    expect(res.beats as number).toBeGreaterThanOrEqual(3);
    expect(res.connected).toBe(true);
  });

  it('heart-beats: a client that promised beats and falls silent is dropped after 2 x cx', async () => {
    const r = await raw('CONNECT\naccept-version:1.2\nhost:x\nlogin:alice\npasscode:secret\nheart-beat:400,0\n\n\0', 5000);
    expect(r.data).toMatch(/^CONNECTED\n/);
    expect(r.data).toContain('heart-beat:0,400');
    expect(r.closed).toBe(true);
    expect(r.elapsed).toBeGreaterThanOrEqual(700);
    expect(r.elapsed).toBeLessThan(2500);
  });

  it('receipts: SUBSCRIBE, UNSUBSCRIBE (also of an unknown id) and DISCONNECT, which then closes', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
c.subscribe('r/a', id='s', receipt='r-sub')
c.unsubscribe('s', receipt='r-unsub')
c.unsubscribe('unknown', receipt='r-unknown')
r.wait('receipt', 3)
c.disconnect(receipt='r-bye')
r.wait_disconnected()
out['receipts'] = [e['headers']['receipt-id'] for e in r.of('receipt')]
done()
`);
    const res = await run.result();
    expect(res.receipts).toEqual(['r-sub', 'r-unsub', 'r-unknown', 'r-bye']);
  });
});

describe('STOMP durable subscriber', () => {
  it('unacknowledged and offline QoS 1 messages come back after a reconnect and re-SUBSCRIBE', async () => {
    const first = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True, headers={'client-id': 'durable-1'})
c.subscribe('dur/a', id='d', ack='client-individual', receipt='sub')
r.wait('receipt')
ready()
out['got'] = r.wait('message')[0]['body']
c.disconnect(receipt='bye')
r.wait_disconnected()
done()
`);
    await first.line('READY');
    await app.pub('stomp/dur/a', 'm1', { qos: 1 });
    expect((await first.result()).got).toBe('m1');
    // Published while the subscriber is away: queued in its session.
    await app.pub('stomp/dur/a', 'm2', { qos: 1 });
    const second = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True, headers={'client-id': 'durable-1'})
c.subscribe('dur/a', id='d', ack='client-individual')
ms = r.wait('message', 2)
for m in ms: c.ack(m['headers']['ack'])
c.unsubscribe('d', receipt='gone')
r.wait('receipt')
out['msgs'] = [[m['body'], m['headers'].get('redelivered')] for m in ms]
c.disconnect()
done()
`);
    const res = await second.result();
    expect(res.msgs).toEqual([
      ['m1', 'true'],
      ['m2', null],
    ]);
  });
});

describe('STOMP errors', () => {
  it('auth refused: wrong passcode gets ERROR Login Failed and the connection closes', async () => {
    const run = py(`
c, r = connection('Connection12')
try:
    c.connect('alice', 'wrong', wait=True)
    out['connected'] = True
except stomp.exception.ConnectFailedException:
    out['connected'] = False
e = r.wait('error')[0]
out['error'] = e['body']
out['message'] = e['headers'].get('message')
r.wait_disconnected()
done()
`);
    const res = await run.result();
    expect(res.connected).toBe(false);
    expect(res.error).toMatch(/^Login Failed: /);
    // No credentials at all: anonymous is refused once users exist.
    const anon = await raw('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
    expect(anon.data).toMatch(/^ERROR\n/);
    expect(anon.data).toContain('Login Failed');
    expect(anon.closed).toBe(true);
  });

  it('bans: a banned username is refused at CONNECT; one connected when the ban comes is ended', async () => {
    const live = raw('CONNECT\naccept-version:1.2\nhost:x\nlogin:mallory\npasscode:pw\n\n\0', 8000);
    await sleep(300);
    const ban = await fetch(`${api}/api/v5/banned`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ as: 'username', who: 'mallory' }) });
    expect(ban.status).toBe(200);
    try {
      const r = await live;
      expect(r.data).toMatch(/^CONNECTED\n/);
      expect(r.data).toMatch(/\0ERROR\nmessage:Banned\n/);
      expect(r.closed).toBe(true);
      expect(r.elapsed).toBeLessThan(5000);
      const again = await raw('CONNECT\naccept-version:1.2\nhost:x\nlogin:mallory\npasscode:pw\n\n\0');
      expect(again.data).toContain('Login Failed: banned');
      expect(again.closed).toBe(true);
    } finally {
      await fetch(`${api}/api/v5/banned/username/mallory`, { method: 'DELETE' });
    }
  });

  it('ACL deny on SEND: ERROR Insufficient permissions with receipt-id, then close; nothing published', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
c.send('secret/x', 'leak', receipt='r-secret')
e = r.wait('error')[0]
out['error'] = e
r.wait_disconnected()
done()
`);
    const res = await run.result();
    const e = res.error as { headers: Record<string, string>; body: string };
    expect(e.body).toBe('Insufficient permissions for secret/x');
    expect(e.headers['receipt-id']).toBe('r-secret');
    await sleep(200);
    expect(app.msgs.some((m) => m.topic === 'stomp/secret/x')).toBe(false);
  });

  it('ACL deny on SUBSCRIBE: ERROR and close', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
c.subscribe('secret/#', id='0')
out['error'] = r.wait('error')[0]['body']
r.wait_disconnected()
done()
`);
    expect((await run.result()).error).toBe('Insufficient permissions for secret/#');
  });

  it('frame limits: 11 headers, a 1025-byte header and a 65537-byte body each get ERROR naming the limit, then close', async () => {
    const hs = Array.from({ length: 11 }, (_, i) => `h${i}:v`).join('\n');
    const cases: [string, string][] = [
      [`SEND\ndestination:a\n${hs}\n\nx\0`, 'max_headers'],
      [`SEND\ndestination:a\nbig:${'v'.repeat(1030)}\n\nx\0`, 'max_headers_length'],
      [`SEND\ndestination:a\ncontent-length:65537\n\n${'x'.repeat(65537)}\0`, 'max_body_length'],
    ];
    for (const [frame, limit] of cases) {
      const r = await raw(CONNECT12 + frame);
      expect(r.data).toMatch(/^CONNECTED\n/);
      const err = r.data.slice(r.data.indexOf('ERROR\n'));
      expect(err).toMatch(new RegExp(`^ERROR\\n[\\s\\S]*\\n\\nFrame error: ${limit}: `));
      expect(r.closed).toBe(true);
    }
  });

  it('protocol errors: a frame before CONNECT, an unsupported version, a bad escape', async () => {
    const early = await raw('SEND\ndestination:a\n\nx\0');
    expect(early.data).toContain('Not connected');
    expect(early.closed).toBe(true);
    const v2 = await raw('CONNECT\naccept-version:2.0\nlogin:alice\npasscode:secret\n\n\0');
    expect(v2.data).toContain('Login Failed: Supported protocol versions < 1.2');
    expect(v2.closed).toBe(true);
    const esc = await raw(CONNECT12 + 'SEND\ndestination:a\\tb\n\nx\0');
    expect(esc.data).toContain('undefined escape sequence');
    expect(esc.closed).toBe(true);
  });

  it('1.2 CRLF frames and an escaped destination publish to the decoded topic', async () => {
    const r = await raw('CONNECT\r\naccept-version:1.2\r\nhost:x\r\nlogin:alice\r\npasscode:secret\r\n\r\n\0\r\nSEND\r\ndestination:crlf/a\\cb\r\nreceipt:r\r\ncontent-length:3\r\n\r\na\0b\0\r\nDISCONNECT\r\n\r\n\0', 3000);
    expect(r.data).toContain('RECEIPT\nreceipt-id:r\n');
    const got = await app.waitMessages(1, 3000, (m) => m.topic === 'stomp/crlf/a:b');
    expect(got[0]!.payload.equals(Buffer.from('a\0b'))).toBe(true);
  });

  it('a connection that never sends CONNECT is closed after idle_timeout', async () => {
    const r = await raw('', 6000);
    expect(r.closed).toBe(true);
    expect(r.elapsed).toBeLessThan(5000);
  });
});

describe('STOMP clients in the broker', () => {
  it('show in /api/v5/gateways/stomp/clients with $SYS connected, and a kick sends ERROR Kicked out', async () => {
    const run = py(`
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
out['session'] = r.wait('connected')[0]['headers']['session']
ready('UP ' + out['session'])
e = r.wait('error', 1, 8.0)[0]
out['error'] = e['body']
r.wait_disconnected()
done()
`);
    // CONNECTED's session header carries the (random) client id.
    const id = (await run.lineWith('UP ')).slice(3);
    expect(id).toMatch(/^[A-Za-z0-9]{16}$/);
    const list = (await (await fetch(`${api}/api/v5/gateways/stomp/clients`)).json()) as { data: { clientid: string; proto_name?: string; proto_ver?: string; username?: string }[] };
    expect(list.data.find((x) => x.clientid === id)).toMatchObject({ clientid: id, username: 'alice', proto_ver: '1.2' });
    const sys = await app.waitMessages(1, 3000, (m) => m.topic.endsWith(`/gateway/stomp/clients/${id}/connected`));
    expect(JSON.parse(sys[0]!.text)).toMatchObject({ clientid: id, username: 'alice' });
    const del = await fetch(`${api}/api/v5/gateways/stomp/clients/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    const res = await run.result();
    expect(res.error).toBe('Kicked out');
  });

  it('TLS listener: stomp.py over ssl with the test CA', async () => {
    const file = pki.caFile;
    const run = (() => {
      const saved = port;
      port = sslPort;
      try {
        return py(
          `
c, r = connection('Connection12')
c.connect('alice', 'secret', wait=True)
c.send('tls/a', 'secure', receipt='r')
r.wait('receipt')
c.disconnect()
done()
`,
          [file],
        );
      } finally {
        port = saved;
      }
    })();
    await run.result();
    const got = await app.waitMessages(1, 3000, (m) => m.topic === 'stomp/tls/a');
    expect(got[0]!.text).toBe('secure');
  });
});

describe('STOMP gateway health', () => {
  it('logged no error-level line through all of the above', () => {
    const errors = d
      .logs()
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l));
    expect(errors).toEqual([]);
  });
});
