// The LwM2M gateway in the real daemon (specs/lwm2m-gateway.md): a small LwM2M client written here
// over node:dgram with the shared CoAP codec on the device side, MQTT.js on the application side.
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, decode, decodeUint, encode, encodeUint, getOption, optionStrings, type CoapFrame, type CoapOption } from '../../gateways/codecs/coap/frame.js';
import Database from 'better-sqlite3';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { decodeTlv } from '../../gateways/lwm2m/tlv.js';
import { loadObjectRegistry } from '../../gateways/lwm2m/object-registry.js';
import { builtinXmlDir } from '../../gateways/lwm2m/index.js';
import { connectClient, sleep, uid, until, withTimeout, type Received, type TestClient } from '../helpers/mqtt-clients.js';
import { mulberry32 } from '../helpers/prng.js';
import { outpostctl, type CtlRun } from '../helpers/outpostctl.js';

const LOCATION_PATH = 8;

/** What the test device answers to a request from the gateway. */
interface Answer {
  code: number;
  cf?: number;
  payload?: Buffer | string;
  observe?: number;
  /** Send an empty ACK first and the answer as a separate CON response. */
  separate?: boolean;
  /** Answer with RST. */
  reset?: boolean;
  /** Do not answer at all. */
  silent?: boolean;
}

/** A minimal LwM2M client: registration interface plus a scripted device-management responder. */
class TestDevice {
  sock!: dgram.Socket;
  private mid = Math.floor(Math.random() * 60000);
  /** Requests the gateway sent (dups included). */
  readonly requests: CoapFrame[] = [];
  private readonly waiting = new Map<number, (f: CoapFrame) => void>();
  /** Decides the answer to each gateway request; by default a small /3/0 device. */
  serve: (f: CoapFrame) => Answer = (f) => defaultServe(f);
  location = '';

  constructor(public port: number) {}

  async open(): Promise<this> {
    this.sock = dgram.createSocket('udp4');
    this.sock.on('message', (m) => this.onMessage(m));
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    return this;
  }

  /** Move to a new source port (a NAT rebinding). */
  async rebind(): Promise<void> {
    const old = this.sock;
    await this.open();
    old.close();
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      /* closed */
    }
  }

  private onMessage(m: Buffer): void {
    const r = decode(m);
    if (r.kind !== 'frame') return;
    const f = r.frame;
    if (f.code >= 1 && f.code <= 31) {
      this.requests.push(f);
      const a = this.serve(f);
      if (a.silent) return;
      if (a.reset) return this.raw({ type: 'RST', code: 0, messageId: f.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
      const opts: CoapOption[] = [];
      if (a.observe !== undefined) opts.push({ number: Opt.OBSERVE, value: encodeUint(a.observe) });
      if (a.cf !== undefined) opts.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(a.cf) });
      const payload = typeof a.payload === 'string' ? Buffer.from(a.payload) : (a.payload ?? Buffer.alloc(0));
      if (a.separate) {
        this.raw({ type: 'ACK', code: 0, messageId: f.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
        setTimeout(() => this.raw({ type: 'CON', code: a.code, messageId: this.nextMid(), token: f.token, options: opts, payload }), 50);
        return;
      }
      this.raw({ type: 'ACK', code: a.code, messageId: f.messageId, token: f.token, options: opts, payload });
      return;
    }
    const w = this.waiting.get(f.messageId);
    if (w && (f.type === 'ACK' || f.type === 'RST')) {
      this.waiting.delete(f.messageId);
      w(f);
    }
  }

  nextMid(): number {
    this.mid = (this.mid + 1) & 0xffff;
    return this.mid;
  }

  raw(f: CoapFrame): void {
    this.sock.send(encode(f), this.port, '127.0.0.1');
  }

  /** CON request; resolves with the piggybacked answer. */
  request(code: number, path: string[], query: string[] = [], payload: Buffer | string = '', cf?: number, extra: CoapOption[] = []): Promise<CoapFrame> {
    const options: CoapOption[] = [...path.map((p) => ({ number: Opt.URI_PATH, value: Buffer.from(p) })), ...query.map((q) => ({ number: Opt.URI_QUERY, value: Buffer.from(q) })), ...extra];
    if (cf !== undefined) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(cf) });
    const messageId = this.nextMid();
    const frame: CoapFrame = { type: 'CON', code, messageId, token: Buffer.from([1, 2, 3, messageId & 0xff]), options, payload: typeof payload === 'string' ? Buffer.from(payload) : payload };
    const p = new Promise<CoapFrame>((r) => this.waiting.set(messageId, r));
    this.raw(frame);
    return withTimeout(p, 5000, `answer to ${path.join('/')}`);
  }

  async register(ep: string, query: string[] = ['lt=300', 'lwm2m=1.0', 'b=U'], links = '</1/0>,</3/0>,</4/0>'): Promise<CoapFrame> {
    const r = await this.request(Code.POST, ['rd'], [`ep=${ep}`, ...query], links, 40);
    const loc = r.options.filter((o) => o.number === LOCATION_PATH).map((o) => o.value.toString());
    if (loc.length === 2) this.location = loc[1]!;
    return r;
  }

  update(query: string[] = [], links = ''): Promise<CoapFrame> {
    return this.request(Code.POST, ['rd', this.location], query, links, links ? 40 : undefined);
  }

  deregister(): Promise<CoapFrame> {
    return this.request(Code.DELETE, ['rd', this.location]);
  }

  /** A notification for an observation (CON, waits for the gateway's ACK). */
  notify(token: Buffer, seq: number, payload: string, cf = 0): Promise<CoapFrame> {
    const messageId = this.nextMid();
    const p = new Promise<CoapFrame>((r) => this.waiting.set(messageId, r));
    this.raw({ type: 'CON', code: Code.CONTENT, messageId, token, options: [{ number: Opt.OBSERVE, value: encodeUint(seq) }, { number: Opt.CONTENT_FORMAT, value: encodeUint(cf) }], payload: Buffer.from(payload) });
    return withTimeout(p, 5000, 'ACK to a notification');
  }

  async nextRequest(pred: (f: CoapFrame) => boolean = () => true, ms = 5000): Promise<CoapFrame> {
    const start = this.requests.length;
    let found: CoapFrame | undefined;
    await until(() => (found = this.requests.slice(start).find(pred)) !== undefined, ms, 'a request from the gateway');
    return found!;
  }
}

const path = (f: CoapFrame): string => '/' + optionStrings(f, Opt.URI_PATH).join('/');
const cfOf = (f: CoapFrame): number | null => {
  const o = getOption(f, Opt.CONTENT_FORMAT);
  return o === undefined ? null : decodeUint(o);
};

/** /3/0: Manufacturer "ACME" (0), Battery 95 (9); the rest of the scripted behaviour by path and method. */
function defaultServe(f: CoapFrame): Answer {
  const p = path(f);
  const obs = getOption(f, Opt.OBSERVE);
  if (f.code === Code.GET) {
    if (getOption(f, Opt.ACCEPT) !== undefined) return { code: Code.CONTENT, cf: 40, payload: '</3/0>,</3/0/0>,</3/0/9>;pmin=10' };
    if (p === '/3/0') return { code: Code.CONTENT, cf: 11542, payload: Buffer.from('C40041434D45C1095F', 'hex') };
    if (p === '/3/0/9') return { code: Code.CONTENT, cf: 0, payload: '95', observe: obs !== undefined && decodeUint(obs) === 0 ? 0 : undefined };
    if (p === '/3/0/0') return { code: Code.CONTENT, cf: 0, payload: 'ACME' };
    return { code: Code.NOT_FOUND };
  }
  if (f.code === Code.PUT) return { code: Code.CHANGED };
  if (f.code === Code.POST) {
    if (p === '/3/0/4') return { code: Code.CHANGED };
    if (p === '/3/0/0') return { code: Code.METHOD_NOT_ALLOWED };
    if (p === '/31024') return { code: Code.CREATED };
    return { code: Code.CHANGED };
  }
  if (f.code === Code.DELETE) return { code: Code.DELETED };
  return { code: Code.BAD_REQUEST };
}

const CONFIG = `
[authorization]
no_match = "allow"
[authorization.file]
path = "acl.conf"

[gateway.lwm2m]
enable = true
qmode_time_window = 1
lifetime_max = 86400

[gateway.lwm2m.bootstrap]
enable = true

[[gateway.lwm2m.bootstrap.devices]]
endpoint = "cfg-dev"
lifetime = 120

[gateway.lwm2m.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`;

const ACL = ['{deny, {clientid, "acl-up"}, publish, ["lwm2m/acl-up/up/#"]}.', '{deny, {clientid, "acl-dn"}, subscribe, ["lwm2m/acl-dn/dn/#"]}.', '{allow, {ipaddr, "127.0.0.1"}, subscribe, ["$SYS/#"]}.', '{allow, all}.', ''].join('\n');

let d: Daemon;
let port: number;
let app: TestClient;
const devices: TestDevice[] = [];

async function device(): Promise<TestDevice> {
  const t = await new TestDevice(port).open();
  devices.push(t);
  return t;
}

/** Publish a command and wait for its answer on up/resp (the reqID's event other than a transport "ack"). */
async function command(ep: string, cmd: Record<string, unknown>, ms = 5000): Promise<Record<string, unknown>> {
  const reqID = cmd.reqID;
  const before = app.msgs.length;
  await app.pub(`lwm2m/${ep}/dn/cmd`, JSON.stringify(cmd));
  const got = await app.waitMessages(1, ms, (m) => app.msgs.indexOf(m) >= before && m.topic === `lwm2m/${ep}/up/resp` && isAnswer(m, reqID));
  return JSON.parse(got[0]!.text) as Record<string, unknown>;
}

function isAnswer(m: Received, reqID: unknown): boolean {
  const j = JSON.parse(m.text) as { reqID?: unknown; msgType?: unknown };
  return j.reqID === reqID && j.msgType !== 'ack';
}

function events(ep: string, sub: string): Received[] {
  return app.msgs.filter((m) => m.topic === `lwm2m/${ep}/${sub}`);
}

const ctl = (...args: string[]): Promise<CtlRun> => outpostctl(['--data-dir', d.dataDir, ...args]);

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-lwm2m-'));
  writeFileSync(join(dataDir, 'acl.conf'), ACL);
  d = await startDaemon({ dataDir, config: CONFIG });
  port = d.ports['lwm2m:udp:default']!;
  expect(port).toBeGreaterThan(0);
  app = await connectClient(d.mqttUrl, { clientId: uid('app') });
  await app.sub(['lwm2m/#', '$SYS/brokers/+/gateway/lwm2m/clients/#']);
});

afterAll(async () => {
  for (const t of devices) t.close();
  await app?.end(true);
  await d?.stop();
  d?.cleanup();
});

describe('LwM2M registration interface', () => {
  it('Register -> 2.01 Location-Path rd/{ep}, the register event and the $SYS connected event (1, 4)', async () => {
    const t = await device();
    const r = await t.register('dev42');
    expect(r.code).toBe(Code.CREATED);
    expect(t.location).toBe('dev42');
    const [ev] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/dev42/up/register');
    expect(JSON.parse(ev!.text)).toEqual({ msgType: 'register', data: { ep: 'dev42', lt: 300, lwm2m: '1.0', b: 'U', alternatePath: '/', objectList: ['/1/0', '/3/0', '/4/0'] } });
    await app.waitMessages(1, 5000, (m) => m.topic.endsWith('/gateway/lwm2m/clients/dev42/connected'));
    const res = await fetch(`http://127.0.0.1:${d.ports['api:http']}/api/v5/gateways/lwm2m/clients`, { headers: localAuth() });
    expect(res.status).toBe(200);
    const body = JSON.stringify(await res.json());
    expect(body).toContain('"dev42"');
    expect(body).toContain('LwM2M');
  });

  it('refuses a Register without ep, and one with an unknown lwm2m version; serves lwm2m=1.2 (2, 3)', async () => {
    const t = await device();
    const noEp = await t.request(Code.POST, ['rd'], ['lt=60'], '</3/0>', 40);
    expect(noEp.code).toBe(Code.BAD_REQUEST);
    expect(noEp.payload.toString()).toBe('Login Failed: invalid queries');
    const v9 = await t.register('v9', ['lt=60', 'lwm2m=9.9']);
    expect(v9.code).toBe(Code.BAD_REQUEST);
    expect(v9.payload.toString()).toBe('Login Failed: invalid lwm2m version');
    const v12 = await t.register('v12', ['lt=60', 'lwm2m=1.2']);
    expect(v12.code).toBe(Code.CREATED);
  });

  it('Update merges into the update event; a wrong location is 4.04 (6)', async () => {
    const t = await device();
    await t.register('upd1');
    const r = await t.update(['lt=600']);
    expect(r.code).toBe(Code.CHANGED);
    const [ev] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/upd1/up/update');
    expect(JSON.parse(ev!.text)).toEqual({ msgType: 'update', data: { ep: 'upd1', lt: 600, lwm2m: '1.0', b: 'U', alternatePath: '/', objectList: ['/1/0', '/3/0', '/4/0'] } });
    const wrong = await t.request(Code.POST, ['rd', 'nobody']);
    expect(wrong.code).toBe(Code.NOT_FOUND);
  });

  it('De-register -> 2.02 and the $SYS disconnected event; a later Update is 4.04 (8)', async () => {
    const t = await device();
    await t.register('bye1');
    const r = await t.deregister();
    expect(r.code).toBe(Code.DELETED);
    await app.waitMessages(1, 5000, (m) => m.topic.endsWith('/gateway/lwm2m/clients/bye1/disconnected'));
    expect((await t.update()).code).toBe(Code.NOT_FOUND);
  });

  it('a registration whose lifetime passes without an Update ends (9)', async () => {
    const t = await device();
    await t.register('short1', ['lt=1', 'lwm2m=1.0', 'b=U']);
    await app.waitMessages(1, 5000, (m) => m.topic.endsWith('/gateway/lwm2m/clients/short1/disconnected'));
    expect((await t.update()).code).toBe(Code.NOT_FOUND);
  });

  it('an Update from a new address (NAT rebinding) is accepted and requests follow the device there', async () => {
    const t = await device();
    await t.register('nat1');
    await t.rebind();
    expect((await t.update(['lt=300'])).code).toBe(Code.CHANGED);
    const ans = await command('nat1', { reqID: 'n1', msgType: 'read', data: { path: '/3/0/0' } });
    expect(ans.data).toEqual({ reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }] });
  });

  it('a Register whose object list comes block-wise (Block1, 32-byte blocks) is reassembled', async () => {
    const t = await device();
    const links = Buffer.from('</1/0>,</3/0>,</4/0>,</5/0>,</6/0>,</7/0>,</3303/0>,</3303/1>');
    const q = ['ep=blk1', 'lt=300'];
    let last: CoapFrame | undefined;
    for (let num = 0; num * 32 < links.length; num++) {
      const chunk = links.subarray(num * 32, (num + 1) * 32);
      const more = (num + 1) * 32 < links.length;
      last = await t.request(Code.POST, ['rd'], q, chunk, 40, [{ number: 27, value: encodeUint(num * 16 + (more ? 8 : 0) + 1) }]);
      if (more) expect(last.code).toBe(Code.CONTINUE);
    }
    expect(last!.code).toBe(Code.CREATED);
    const [ev] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/blk1/up/register');
    expect((JSON.parse(ev!.text) as { data: { objectList: string[] } }).data.objectList).toEqual(['/1/0', '/3/0', '/4/0', '/5/0', '/6/0', '/7/0', '/3303/0', '/3303/1']);
  });

  it('the 1.1 Send operation (POST /dp, SenML JSON) is published on the notify topic', async () => {
    const t = await device();
    await t.register('send1', ['lt=300', 'lwm2m=1.1', 'b=U']);
    const r = await t.request(Code.POST, ['dp'], [], JSON.stringify([{ bn: '/3/0/', n: '0', vs: 'ACME' }, { n: '9', v: 95 }]), 110);
    expect(r.code).toBe(Code.CHANGED);
    const [ev] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/send1/up/notify');
    expect(JSON.parse(ev!.text)).toEqual({ msgType: 'send', data: { reqPath: '/dp', content: [{ path: '/3/0/0', value: 'ACME' }, { path: '/3/0/9', value: 95 }] } });
  });
});

describe('LwM2M commands over MQTT (B.5, C.3-C.12)', () => {
  let t: TestDevice;
  beforeAll(async () => {
    t = await device();
    await t.register('cmd1');
  });

  it('read /3/0 (TLV) answers with the decoded content', async () => {
    const ans = await command('cmd1', { reqID: 1, msgType: 'read', data: { path: '/3/0' } });
    expect(ans).toEqual({ reqID: 1, msgType: 'read', data: { reqPath: '/3/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }, { path: '/3/0/9', value: 95 }] } });
    const req = t.requests.at(-1)!;
    expect([req.type, req.code, path(req)]).toEqual(['CON', Code.GET, '/3/0']);
  });

  it('discover sends Accept 40 and answers the links', async () => {
    const ans = await command('cmd1', { reqID: 2, msgType: 'discover', data: { path: '/3/0' } });
    expect(ans.data).toEqual({ reqPath: '/3/0', code: '2.05', codeMsg: 'content', content: ['</3/0>', '</3/0/0>', '</3/0/9>;pmin=10'] });
    expect(decodeUint(getOption(t.requests.at(-1)!, Opt.ACCEPT)!)).toBe(40);
  });

  it('write sends PUT with TLV C2 01 01 2C; keeps custom top-level keys', async () => {
    const ans = await command('cmd1', { reqID: 3, cacheID: 'x', msgType: 'write', data: { path: '/1/0/1', type: 'Integer', value: 300 } });
    expect(ans).toEqual({ reqID: 3, cacheID: 'x', msgType: 'write', data: { reqPath: '/1/0/1', code: '2.04', codeMsg: 'changed' } });
    const req = t.requests.at(-1)!;
    expect([req.code, path(req), cfOf(req), req.payload.toString('hex')]).toEqual([Code.PUT, '/1/0/1', 11542, 'c201012c']);
  });

  it('batch write on an instance is a POST (partial update)', async () => {
    const ans = await command('cmd1', { reqID: 31, msgType: 'write', data: { basePath: '/3/0', content: [{ path: '13', type: 'Time', value: 1700000000 }, { path: '14', type: 'String', value: '+02' }] } });
    expect(ans.data).toEqual({ reqPath: '/3/0', code: '2.04', codeMsg: 'changed' });
    expect(t.requests.at(-1)!.code).toBe(Code.POST);
  });

  it('write-attr sends the attributes as Uri-Query', async () => {
    const ans = await command('cmd1', { reqID: 4, msgType: 'write-attr', data: { path: '/3/0/9', pmin: '10', pmax: '60' } });
    expect(ans.data).toEqual({ reqPath: '/3/0/9', code: '2.04', codeMsg: 'changed' });
    const req = t.requests.at(-1)!;
    expect([req.code, optionStrings(req, Opt.URI_QUERY), req.payload.length]).toEqual([Code.PUT, ['pmin=10', 'pmax=60'], 0]);
  });

  it('execute answers changed, and 4.05 from the device as method_not_allowed', async () => {
    expect((await command('cmd1', { reqID: 5, msgType: 'execute', data: { path: '/3/0/4', args: "0='x'" } })).data).toEqual({ reqPath: '/3/0/4', code: '2.04', codeMsg: 'changed' });
    const req = t.requests.at(-1)!;
    expect([req.code, req.payload.toString(), cfOf(req)]).toEqual([Code.POST, "0='x'", 0]);
    expect((await command('cmd1', { reqID: 51, msgType: 'execute', data: { path: '/3/0/0' } })).data).toEqual({ reqPath: '/3/0/0', code: '4.05', codeMsg: 'method_not_allowed' });
  });

  it('create sends TLV 04 00 C2 01 68 69 to the object; delete answers deleted', async () => {
    const ans = await command('cmd1', { reqID: 6, msgType: 'create', data: { basePath: '/31024', content: [{ path: '0/1', type: 'String', value: 'hi' }] } });
    expect(ans.data).toEqual({ reqPath: '/31024', code: '2.01', codeMsg: 'created' });
    const req = t.requests.at(-1)!;
    expect([req.code, path(req), req.payload.toString('hex')]).toEqual([Code.POST, '/31024', '0400c2016869']);
    expect((await command('cmd1', { reqID: 7, msgType: 'delete', data: { path: '/31024/0' } })).data).toEqual({ reqPath: '/31024/0', code: '2.02', codeMsg: 'deleted' });
  });

  it('observe: first answer on up/resp, notifications (ACKed) on up/notify, cancel with the same token (10, 11, 21)', async () => {
    const ans = await command('cmd1', { reqID: 8, msgType: 'observe', data: { path: '/3/0/9' } });
    expect(ans).toEqual({ reqID: 8, msgType: 'observe', data: { reqPath: '/3/0/9', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/9', value: 95 }] } });
    const obsReq = t.requests.at(-1)!;
    expect(decodeUint(getOption(obsReq, Opt.OBSERVE)!)).toBe(0);
    const ack = await t.notify(obsReq.token, 12, '94');
    expect(ack.type).toBe('ACK');
    const [n] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/cmd1/up/notify');
    expect(JSON.parse(n!.text)).toEqual({ reqID: 8, msgType: 'notify', seqNum: 12, data: { reqPath: '/3/0/9', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/9', value: 94 }] } });
    const c = await command('cmd1', { reqID: 9, msgType: 'cancel-observe', data: { path: '/3/0/9' } });
    expect(c.data).toMatchObject({ reqPath: '/3/0/9', code: '2.05', codeMsg: 'content' });
    const cancel = t.requests.at(-1)!;
    expect([decodeUint(getOption(cancel, Opt.OBSERVE)!), cancel.token.equals(obsReq.token)]).toEqual([1, true]);
  });

  it('empty ACK -> "ack" event, then the separate response answers (14)', async () => {
    t.serve = (f) => ({ ...defaultServe(f), separate: true });
    const ans = await command('cmd1', { reqID: 'sep', msgType: 'read', data: { path: '/3/0/0' } });
    t.serve = defaultServe;
    const acks = app.msgs.filter((m) => m.topic === 'lwm2m/cmd1/up/resp' && JSON.parse(m.text).msgType === 'ack');
    expect(acks.map((m) => JSON.parse(m.text))).toContainEqual({ reqID: 'sep', msgType: 'ack', data: { path: '/3/0/0' } });
    expect(ans.data).toEqual({ reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }] });
  });

  it('RST -> "coap_reset"; one command outstanding at a time (12, 14)', async () => {
    t.serve = (f) => (path(f) === '/3/0/1' ? { code: 0, reset: true } : defaultServe(f));
    const before = t.requests.length;
    await app.pub('lwm2m/cmd1/dn/cmd', JSON.stringify({ reqID: 'r1', msgType: 'read', data: { path: '/3/0/1' } }));
    await app.pub('lwm2m/cmd1/dn/cmd', JSON.stringify({ reqID: 'r2', msgType: 'read', data: { path: '/3/0/0' } }));
    const [r1] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/cmd1/up/resp' && JSON.parse(m.text).reqID === 'r1');
    expect(JSON.parse(r1!.text)).toEqual({ reqID: 'r1', msgType: 'coap_reset', data: { path: '/3/0/1' } });
    await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/cmd1/up/resp' && JSON.parse(m.text).reqID === 'r2');
    expect(t.requests.slice(before).map(path)).toEqual(['/3/0/1', '/3/0/0']);
    t.serve = defaultServe;
  });

  it('invalid JSON and unknown msgType are dropped; the next command still goes', async () => {
    await app.pub('lwm2m/cmd1/dn/cmd', 'not json');
    await app.pub('lwm2m/cmd1/dn/cmd', JSON.stringify({ reqID: 'u', msgType: 'frobnicate', data: {} }));
    const ans = await command('cmd1', { reqID: 'after', msgType: 'read', data: { path: '/3/0/0' } });
    expect(ans.data).toMatchObject({ code: '2.05' });
    expect(app.msgs.some((m) => m.topic === 'lwm2m/cmd1/up/resp' && JSON.parse(m.text).reqID === 'u')).toBe(false);
  });
});

describe('LwM2M over the HTTP API', () => {
  const api = (path: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${d.ports['api:http']}${path}`, { ...init, headers: { ...localAuth(), 'content-type': 'application/json' } });

  it('POST .../clients/{id}/request runs a command and answers with its event; 404 for an unknown client, 400 for a bad command', async () => {
    const t = await device();
    await t.register('http1');
    const r = await api('/api/v5/gateways/lwm2m/clients/http1/request', { method: 'POST', body: JSON.stringify({ reqID: 'h', msgType: 'read', data: { path: '/3/0/0' } }) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ reqID: 'h', msgType: 'read', data: { reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }] } });
    expect((await api('/api/v5/gateways/lwm2m/clients/http1/request', { method: 'POST', body: JSON.stringify({ msgType: 'nope', data: {} }) })).status).toBe(400);
    expect((await api('/api/v5/gateways/lwm2m/clients/nobody/request', { method: 'POST', body: JSON.stringify({ msgType: 'read', data: { path: '/3/0' } }) })).status).toBe(404);
  });

  it('DELETE .../clients/{id} kicks the device: its registration ends and an Update gets 4.04', async () => {
    const t = await device();
    await t.register('kick1');
    expect((await api('/api/v5/gateways/lwm2m/clients/kick1', { method: 'DELETE' })).status).toBe(204);
    await app.waitMessages(1, 5000, (m) => m.topic.endsWith('/gateway/lwm2m/clients/kick1/disconnected'));
    expect((await t.update()).code).toBe(Code.NOT_FOUND);
  });
});

describe('LwM2M bad input', () => {
  it('3000 seeded random and mutated datagrams leave the gateway answering; a registered device keeps working', async () => {
    const t = await device();
    await t.register('fuzz-ok');
    const rnd = mulberry32(1717);
    const valid = encode({ type: 'CON', code: Code.POST, messageId: 1, token: Buffer.from([9, 9]), options: [{ number: Opt.URI_PATH, value: Buffer.from('rd') }, { number: Opt.URI_QUERY, value: Buffer.from('ep=fz') }, { number: Opt.URI_QUERY, value: Buffer.from('lt=60') }], payload: Buffer.from('</3/0>,</1/0>') });
    const f = await device();
    for (let i = 0; i < 3000; i++) {
      let b: Buffer;
      if (i % 3 === 0) {
        b = Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
      } else {
        b = Buffer.from(valid);
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        if (i % 3 === 2) b = b.subarray(0, Math.floor(rnd() * b.length));
      }
      f.sock.send(b, port, '127.0.0.1');
      if (i % 200 === 0) await sleep(10);
    }
    await sleep(300);
    const ans = await command('fuzz-ok', { reqID: 'alive', msgType: 'read', data: { path: '/3/0/0' } });
    expect(ans.data).toMatchObject({ code: '2.05' });
    const fresh = await device();
    expect((await fresh.register('after-fuzz')).code).toBe(Code.CREATED);
    expect(d.logs()).not.toMatch(/"level":(50|60)|uncaught|unhandled/i);
  });
});

describe('LwM2M access control', () => {
  it('ACL deny on the up topic drops the events; the device still registers (20)', async () => {
    const t = await device();
    expect((await t.register('acl-up')).code).toBe(Code.CREATED);
    await sleep(300);
    expect(events('acl-up', 'up/register')).toHaveLength(0);
  });

  it('ACL deny on the dn topic: commands never reach the device (20)', async () => {
    const t = await device();
    await t.register('acl-dn');
    await app.pub('lwm2m/acl-dn/dn/cmd', JSON.stringify({ reqID: 1, msgType: 'read', data: { path: '/3/0' } }));
    await sleep(400);
    expect(t.requests).toHaveLength(0);
  });

  it('a banned client id cannot register (4.00 Login Failed: banned)', async () => {
    const ban = await ctl('banned', 'add', 'clientid', 'evil1', '--reason', 'test', '--duration', '10m');
    expect(ban.code, ban.stderr).toBe(0);
    const t = await device();
    const r = await t.register('evil1');
    expect(r.code).toBe(Code.BAD_REQUEST);
    expect(r.payload.toString()).toBe('Login Failed: banned');
  });
});

/** The daemon writes a local API key into its data dir (outpostctl uses it too). */
function localAuth(): Record<string, string> {
  return { authorization: 'Basic ' + Buffer.from(readFileSync(join(d.dataDir, 'api-local.key'), 'utf8').trim()).toString('base64') };
}

describe('LwM2M bootstrap server', () => {
  it('refuses an endpoint the registry does not know (4.00)', async () => {
    const t = await device();
    expect((await t.request(Code.POST, ['bs'], ['ep=stranger'])).code).toBe(Code.BAD_REQUEST);
  });

  it('bootstraps a fresh device from the store registry: delete, Security and Server writes, finish; then it registers', async () => {
    const db = new Database(join(d.dataDir, 'outpost.db'));
    db.pragma('busy_timeout = 5000');
    db.prepare('INSERT OR REPLACE INTO lwm2m_bootstrap (endpoint, data) VALUES (?, ?)').run('fresh1', JSON.stringify({ securityMode: 'psk', pskIdentity: 'fresh1-id', pskKey: 'c0ffee0042' }));
    db.close();
    const t = await device();
    const r = await t.request(Code.POST, ['bs'], ['ep=fresh1']);
    expect(r.code).toBe(Code.CHANGED);
    await until(() => t.requests.length >= 4, 5000, 'the bootstrap sequence');
    expect(t.requests.map((f) => `${f.code} ${path(f)}`)).toEqual([`${Code.DELETE} /`, `${Code.PUT} /0/1`, `${Code.PUT} /1/0`, `${Code.POST} /bs`]);
    const types = loadObjectRegistry(builtinXmlDir()).registry.typeOf;
    const sec = decodeTlv(t.requests[1]!.payload, '/0/1', types);
    const srv = decodeTlv(t.requests[2]!.payload, '/1/0', types);
    if (sec.kind !== 'ok' || srv.kind !== 'ok') throw new Error('TLV');
    const val = (rs: typeof sec.value, p: string) => rs.find((x) => x.path === p)?.value;
    expect(val(sec.value, '/0/1/0')).toEqual({ kind: 'string', value: `coap://127.0.0.1:${port}` });
    expect(val(sec.value, '/0/1/2')).toEqual({ kind: 'integer', value: 0n });
    expect(val(sec.value, '/0/1/3')).toEqual({ kind: 'opaque', value: Buffer.from('fresh1-id') });
    expect(val(sec.value, '/0/1/5')).toEqual({ kind: 'opaque', value: Buffer.from('c0ffee0042', 'hex') });
    expect(val(srv.value, '/1/0/1')).toEqual({ kind: 'integer', value: 300n });
    await until(() => d.logs().includes('bootstrap_finished'), 5000, 'bootstrap_finished in the log');
    expect(d.logs()).not.toContain('c0ffee0042');
    expect((await t.register('fresh1')).code).toBe(Code.CREATED);
  });
});

describe('LwM2M bootstrap devices from the config', () => {
  it('a [[gateway.lwm2m.bootstrap.devices]] entry is in the registry: NoSec account, its own lifetime', async () => {
    const t = await device();
    expect((await t.request(Code.POST, ['bs'], ['ep=cfg-dev'])).code).toBe(Code.CHANGED);
    await until(() => t.requests.length >= 4, 5000, 'the bootstrap sequence');
    const types = loadObjectRegistry(builtinXmlDir()).registry.typeOf;
    const sec = decodeTlv(t.requests[1]!.payload, '/0/1', types);
    const srv = decodeTlv(t.requests[2]!.payload, '/1/0', types);
    if (sec.kind !== 'ok' || srv.kind !== 'ok') throw new Error('TLV');
    expect(sec.value.find((x) => x.path === '/0/1/2')?.value).toEqual({ kind: 'integer', value: 3n });
    expect(srv.value.find((x) => x.path === '/1/0/1')?.value).toEqual({ kind: 'integer', value: 120n });
  });
});

describe('LwM2M bootstrap and bans', () => {
  it('a banned endpoint gets 4.03 to its Bootstrap-Request and no account', async () => {
    const ban = await ctl('banned', 'add', 'clientid', 'cfg-dev', '--reason', 'test', '--duration', '10m');
    expect(ban.code).toBe(0);
    try {
      const t = await device();
      expect((await t.request(Code.POST, ['bs'], ['ep=cfg-dev'])).code).toBe(Code.FORBIDDEN);
      await sleep(300);
      expect(t.requests).toHaveLength(0);
    } finally {
      expect((await ctl('banned', 'remove', 'clientid', 'cfg-dev')).code).toBe(0);
    }
  });
});

describe('LwM2M queue mode', () => {
  it('holds commands while the device sleeps and sends them when it talks, from a new address; they survive a daemon restart (13)', async () => {
    const t = await device();
    await t.register('q1', ['lt=300', 'lwm2m=1.0', 'b=UQ']);
    const awake = await device();
    await awake.register('nq1', ['lt=300', 'lwm2m=1.1', 'b=U']);
    await command('nq1', { reqID: 'obs-before', msgType: 'observe', data: { path: '/3/0/9' } });
    // qmode_time_window = 1 s in this config.
    await sleep(1500);
    await app.pub('lwm2m/q1/dn/cmd', JSON.stringify({ reqID: 'held', msgType: 'read', data: { path: '/3/0/0' } }), { qos: 1 });
    await sleep(300);
    expect(t.requests).toHaveLength(0);
    // nq1 gets a command it does not answer before the daemon stops.
    awake.serve = (f) => (path(f) === '/3/0/3' ? { code: 0, silent: true } : defaultServe(f));
    const seen = awake.requests.length;
    await app.pub('lwm2m/nq1/dn/cmd', JSON.stringify({ reqID: 'unanswered', msgType: 'read', data: { path: '/3/0/3' } }), { qos: 1 });
    await until(() => awake.requests.slice(seen).some((f) => path(f) === '/3/0/3'), 5000, 'the unanswered command');
    await app.end(true);
    await d.restart();
    port = d.ports['lwm2m:udp:default']!;
    // The restarted gateway listens on a new ephemeral port, and the device wakes from a new source port.
    t.port = port;
    awake.port = port;
    await t.rebind();
    app = await connectClient(d.mqttUrl, { clientId: uid('app') });
    await app.sub(['lwm2m/#']);
    // nq1 answers the command resent after the restart only now that the app listens: an answer
    // published before the app's subscription would be lost to the test, not to the device.
    awake.serve = (f) => (path(f) === '/3/0/3' ? { code: Code.CONTENT, cf: 0, payload: '1.0' } : defaultServe(f));
    expect((await t.update()).code).toBe(Code.CHANGED);
    await until(() => t.requests.length > 0, 5000, 'the held command');
    expect(path(t.requests[0]!)).toBe('/3/0/0');
    const [ans] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/q1/up/resp');
    expect(JSON.parse(ans!.text)).toEqual({ reqID: 'held', msgType: 'read', data: { reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }] } });
  });

  it('a non-queue-mode registration is back after the restart: commands reach the device without it re-registering', async () => {
    const t = devices.find((x) => x.location === 'nq1')!;
    t.port = port;
    // The command left unanswered when the daemon stopped is sent again (CON, retransmitted at 2-3 s,
    // then doubling) and answered now.
    const [u] = await app.waitMessages(1, 25_000, (m) => m.topic === 'lwm2m/nq1/up/resp' && JSON.parse(m.text).reqID === 'unanswered');
    expect(JSON.parse(u!.text)).toEqual({ reqID: 'unanswered', msgType: 'read', data: { reqPath: '/3/0/3', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/3', value: '1.0' }] } });
    // The observation made before the restart still maps: its notification is ACKed and published.
    const obsToken = t.requests.find((f) => getOption(f, Opt.OBSERVE) !== undefined)!.token;
    expect((await t.notify(obsToken, 7, '77')).type).toBe('ACK');
    const [n] = await app.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/nq1/up/notify');
    expect(JSON.parse(n!.text)).toEqual({ reqID: 'obs-before', msgType: 'notify', seqNum: 7, data: { reqPath: '/3/0/9', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/9', value: 77 }] } });
    const ans = await command('nq1', { reqID: 'after-restart', msgType: 'read', data: { path: '/3/0/9' } });
    expect(ans.data).toEqual({ reqPath: '/3/0/9', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/9', value: 95 }] });
    expect((await t.update()).code).toBe(Code.CHANGED);
  }, 45_000);
});

describe('LwM2M object definitions, auto-observe and the alternate path (own daemon)', () => {
  let d2: Daemon;
  let xmlDir: string;
  let app2: TestClient;
  const TEST_OBJECT = `<?xml version="1.0" encoding="utf-8"?>
<LWM2M><Object ObjectType="MODefinition"><Name>Test</Name><ObjectID>31024</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
<Resources><Item ID="1"><Name>Counter</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Integer</Type><RangeEnumeration></RangeEnumeration><Units></Units></Item></Resources>
</Object></LWM2M>`;

  beforeAll(async () => {
    xmlDir = mkdtempSync(join(tmpdir(), 'outpost-lwm2m-xml-'));
    writeFileSync(join(xmlDir, '3-device.xml'), readFileSync(join(builtinXmlDir(), '3-device.xml')));
    d2 = await startDaemon({ config: `[gateway.lwm2m]\nenable = true\nauto_observe = true\nxml_dir = ${JSON.stringify(xmlDir)}\n[gateway.lwm2m.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n` });
    app2 = await connectClient(d2.mqttUrl, { clientId: uid('app2') });
    await app2.sub('lwm2m/#');
  });

  afterAll(async () => {
    await app2?.end(true);
    await d2?.stop();
    d2?.cleanup();
  });

  it('auto_observe observes the defined objects of the list under the alternate path; answers carry is_auto_observe (5, 18)', async () => {
    const t = new TestDevice(d2.ports['lwm2m:udp:default']!);
    await t.open();
    devices.push(t);
    t.serve = (f) => (path(f) === '/lwm2m/3/0' ? { code: Code.CONTENT, cf: 11542, payload: Buffer.from('C40041434D45C1095F', 'hex'), observe: 0 } : defaultServe(f));
    expect((await t.register('auto1', ['lt=300'], '</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>,</lwm2m/31024/0>')).code).toBe(Code.CREATED);
    const [reg] = await app2.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/auto1/up/register');
    expect(JSON.parse(reg!.text).data).toMatchObject({ alternatePath: '/lwm2m', objectList: ['/1/0', '/3/0', '/31024/0'] });
    const [ev] = await app2.waitMessages(1, 5000, (m) => m.topic === 'lwm2m/auto1/up/resp');
    expect(JSON.parse(ev!.text)).toEqual({ msgType: 'observe', is_auto_observe: true, data: { reqPath: '/3/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }, { path: '/3/0/9', value: 95 }] } });
    // Object 1 is never auto-observed; 31024 has no definition here.
    await sleep(200);
    expect(t.requests.map(path)).toEqual(['/lwm2m/3/0']);
  });

  it('an unknown object passes through as raw bytes; after SIGHUP with a new XML file it is typed', async () => {
    const t = new TestDevice(d2.ports['lwm2m:udp:default']!);
    await t.open();
    devices.push(t);
    t.serve = (f) => (path(f) === '/31024/0' ? { code: Code.CONTENT, cf: 11542, payload: Buffer.from('C10105', 'hex') } : defaultServe(f));
    expect((await t.register('obj1', ['lt=300'], '</3/0>,</31024/0>')).code).toBe(Code.CREATED);
    const ask = async (reqID: string) => {
      await app2.pub('lwm2m/obj1/dn/cmd', JSON.stringify({ reqID, msgType: 'read', data: { path: '/31024/0' } }));
      const [m] = await app2.waitMessages(1, 5000, (x) => x.topic === 'lwm2m/obj1/up/resp' && JSON.parse(x.text).reqID === reqID);
      return (JSON.parse(m!.text) as { data: unknown }).data;
    };
    expect(await ask('before')).toEqual({ reqPath: '/31024/0', code: '2.05', codeMsg: 'content', content: [{ path: '/31024/0/1', value: 'BQ==' }] });
    writeFileSync(join(xmlDir, '31024-test.xml'), TEST_OBJECT);
    process.kill(d2.pid, 'SIGHUP');
    await until(() => d2.logs().includes('config_reloaded'), 5000, 'the reload');
    await sleep(200);
    expect(await ask('after')).toEqual({ reqPath: '/31024/0', code: '2.05', codeMsg: 'content', content: [{ path: '/31024/0/1', value: 5 }] });
  });
});
