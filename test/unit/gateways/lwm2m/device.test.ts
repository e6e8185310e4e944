// The per-registration state machine with a manual clock: CON retransmission and coap_timeout, one
// command outstanding, queue mode (detach while asleep, attach when the device talks), auto-observe
// and the lifetime.
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { Code, Opt, decodeUint, getOption, optionStrings, type CoapFrame } from '../../../../gateways/codecs/coap/frame.js';
import type { Delivery, DeliverySink, DisconnectReason, GatewayContext, GatewaySession, QoS } from '../../../../gateways/gateway.js';
import { lwm2mConfigSchema } from '../../../../gateways/lwm2m/config.js';
import { Lwm2mDevice, type DeviceDeps } from '../../../../gateways/lwm2m/device.js';
import { builtinXmlDir } from '../../../../gateways/lwm2m/index.js';
import { loadObjectRegistry } from '../../../../gateways/lwm2m/object-registry.js';
import { checkRegister } from '../../../../gateways/lwm2m/registration.js';
import { createMessage } from '../../../../src/core/message.js';
import { FakeClock } from '../../../helpers/fake-gateway-context.js';

const registry = loadObjectRegistry(builtinXmlDir()).registry;

class FakeSession {
  published: { topic: string; json: Record<string, unknown>; qos: QoS }[] = [];
  subs: string[] = [];
  acked: number[] = [];
  detached = 0;
  attached = 0;
  closed: DisconnectReason | null = null;
  asSession(): GatewaySession {
    return {
      clientId: 'ep1',
      username: null,
      resumed: false,
      publish: (topic, payload, o) => {
        this.published.push({ topic, json: JSON.parse(payload.toString()) as Record<string, unknown>, qos: o.qos });
        return { ok: true, durable: false, matched: 1 };
      },
      subscribe: (f, o) => {
        this.subs.push(f);
        return { ok: true, qos: o.qos };
      },
      unsubscribe: () => true,
      subscriptions: () => [],
      ack: (pid) => this.acked.push(pid),
      received: () => undefined,
      complete: (pid) => this.acked.push(pid),
      reject: () => undefined,
      setWill: () => undefined,
      setInflightWindow: () => undefined,
      queuedCount: () => 0,
      inflightCount: () => 0,
      touch: () => undefined,
      detach: () => void this.detached++,
      attach: (_s: DeliverySink) => void this.attached++,
      close: (r) => void (this.closed = r),
    };
  }
}

let clock: FakeClock;
let sent: CoapFrame[];
let ended: DisconnectReason[];
let session: FakeSession;

function makeDevice(query: string[], links = '</1/0>,</3/0>,</3303/0>,</5/0>,</31024/0>', cfg: Record<string, unknown> = {}): Lwm2mDevice {
  const config = lwm2mConfigSchema.parse({ enable: true, qmode_time_window: 10, ...cfg });
  const ctx = { clock, log: pino({ level: 'silent' }) } as unknown as GatewayContext;
  let r = 0.5;
  const deps: DeviceDeps = {
    ctx,
    config: () => config,
    decode: () => ({ types: registry.typeOf, isKnownObject: (o) => registry.object(o) !== undefined, unknownObjectBadRequest: false }),
    objectKnown: (o) => registry.object(o) !== undefined,
    random: () => (r = (r * 9301 + 49297) % 233280 / 233280),
    send: (_a, f) => sent.push(f),
    ended: (_d, reason) => ended.push(reason),
    changed: () => undefined,
    count: () => undefined,
  };
  const c = checkRegister(['ep=ep1', ...query], Buffer.from(links), { lifetimeMax: 86400, requireLt: false, refuse12: false });
  if (!c.ok) throw new Error(c.message);
  const dev = new Lwm2mDevice(deps, c.reg, { listener: 'udp:default', peer: { address: '127.0.0.1', port: 5000, family: 'IPv4' } });
  dev.bind(session.asSession());
  dev.refreshLifetime();
  return dev;
}

let pidSeq = 0;
function command(dev: Lwm2mDevice, json: unknown, qos: QoS = 1): number {
  const pid = qos === 0 ? 0 : ++pidSeq;
  const d: Delivery = { message: createMessage({ topic: 'dn/cmd', payload: Buffer.from(JSON.stringify(json)), qos }), qos, pid, dup: false, retain: false, subIds: null, filter: 'dn/#' };
  dev.deliver(d);
  return pid;
}

const ack = (f: CoapFrame, code: number, payload = '', cf = 0): CoapFrame => ({ type: 'ACK', code, messageId: f.messageId, token: f.token, options: [{ number: Opt.CONTENT_FORMAT, value: Buffer.from([cf]) }], payload: Buffer.from(payload) });
const uriPath = (f: CoapFrame) => '/' + optionStrings(f, Opt.URI_PATH).join('/');

beforeEach(() => {
  clock = new FakeClock();
  sent = [];
  ended = [];
  session = new FakeSession();
});

describe('Lwm2mDevice', () => {
  it('subscribes the command topic when bound', () => {
    makeDevice(['lt=300']);
    expect(session.subs).toEqual(['dn/#']);
  });

  it('retransmits a CON request 4 times with doubling timeouts, then publishes coap_timeout and acks the delivery', () => {
    const dev = makeDevice(['lt=3000']);
    const pid = command(dev, { reqID: 10, msgType: 'read', data: { path: '/3/0/1' } });
    expect(sent).toHaveLength(1);
    for (let i = 0; i < 200 && session.published.length === 0; i++) clock.advance(1000);
    expect(sent).toHaveLength(5);
    expect(new Set(sent.map((f) => f.messageId)).size).toBe(1);
    expect(session.published).toEqual([{ topic: 'up/resp', qos: 0, json: { reqID: 10, msgType: 'coap_timeout', data: { path: '/3/0/1' } } }]);
    expect(session.acked).toEqual([pid]);
  });

  it('sends one command at a time; the next goes after the answer', () => {
    const dev = makeDevice(['lt=300']);
    command(dev, { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } });
    command(dev, { reqID: 2, msgType: 'read', data: { path: '/3/0/9' } });
    expect(sent.map(uriPath)).toEqual(['/3/0/0']);
    expect(dev.handleResponse(ack(sent[0]!, Code.CONTENT, 'ACME'), () => undefined)).toBe(true);
    expect(sent.map(uriPath)).toEqual(['/3/0/0', '/3/0/9']);
    expect(session.published[0]!.json).toEqual({ reqID: 1, msgType: 'read', data: { reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }] } });
  });

  it('a block-wise answer (Block2) is fetched block by block and decoded whole', () => {
    const dev = makeDevice(['lt=300']);
    command(dev, { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } });
    const text = 'Open Mobile Alliance, a long manufacturer name';
    const blockAck = (req: CoapFrame, num: number): CoapFrame => {
      const more = (num + 1) * 16 < text.length;
      return { ...ack(req, Code.CONTENT, text.slice(num * 16, (num + 1) * 16)), options: [{ number: Opt.CONTENT_FORMAT, value: Buffer.alloc(0) }, { number: Opt.BLOCK2, value: Buffer.from([num * 16 + (more ? 8 : 0)]) }] };
    };
    for (let num = 0; num * 16 < text.length; num++) {
      const req = sent.at(-1)!;
      if (num > 0) expect(decodeUint(getOption(req, Opt.BLOCK2)!)! >> 4).toBe(num);
      expect(dev.handleResponse(blockAck(req, num), () => undefined)).toBe(true);
    }
    expect(sent).toHaveLength(3);
    expect(session.published).toEqual([{ topic: 'up/resp', qos: 0, json: { reqID: 1, msgType: 'read', data: { reqPath: '/3/0/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: text }] } } }]);
  });

  it('a write bigger than a block goes block-wise (Block1), smaller blocks after a 4.13', () => {
    const dev = makeDevice(['lt=300']);
    const long = 'x'.repeat(2500);
    command(dev, { reqID: 'big', msgType: 'write', data: { path: '/3/0/14', type: 'String', value: long } });
    const block1 = (f: CoapFrame) => decodeUint(getOption(f, Opt.BLOCK1)!)!;
    const cont = (f: CoapFrame, szx: number): CoapFrame => ({ ...ack(f, Code.CONTINUE), options: [{ number: Opt.BLOCK1, value: Buffer.from([((block1(f) >> 4) << 4) | 8 | szx]) }] });
    // First block 1024 bytes; the device asks for 256-byte blocks.
    expect([sent[0]!.payload.length, block1(sent[0]!) & 7, (block1(sent[0]!) >> 3) & 1]).toEqual([1024, 6, 1]);
    dev.handleResponse(cont(sent[0]!, 4), () => undefined);
    expect([sent[1]!.payload.length, block1(sent[1]!) >> 4, block1(sent[1]!) & 7]).toEqual([256, 1, 4]);
    const body: Buffer[] = [sent[0]!.payload.subarray(0, 256), sent[1]!.payload];
    for (let i = 1; i < 40 && (block1(sent.at(-1)!) & 8) !== 0; i++) {
      dev.handleResponse(cont(sent.at(-1)!, 4), () => undefined);
      body.push(sent.at(-1)!.payload);
    }
    expect(Buffer.concat(body).toString()).toContain(long);
    dev.handleResponse(ack(sent.at(-1)!, Code.CHANGED), () => undefined);
    expect(session.published.at(-1)!.json).toEqual({ reqID: 'big', msgType: 'write', data: { reqPath: '/3/0/14', code: '2.04', codeMsg: 'changed' } });

    // 4.13 with Block1 SZX 0: the same write again in 16-byte blocks.
    command(dev, { reqID: 'mid', msgType: 'write', data: { path: '/3/0/14', type: 'String', value: 'y'.repeat(40) } });
    const first = sent.at(-1)!;
    expect(getOption(first, Opt.BLOCK1)).toBeUndefined();
    dev.handleResponse({ ...ack(first, Code.REQUEST_ENTITY_TOO_LARGE), options: [{ number: Opt.BLOCK1, value: Buffer.from([0]) }] }, () => undefined);
    expect([sent.at(-1)!.payload.length, block1(sent.at(-1)!) & 7]).toEqual([16, 0]);
  });

  it('prefixes the alternate path to every request', () => {
    const dev = makeDevice(['lt=300'], '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>');
    command(dev, { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } });
    expect(uriPath(sent[0]!)).toBe('/lwm2m/3/0/0');
  });

  it('queue mode: asleep after the window, commands held (session detached) until the device talks', () => {
    const dev = makeDevice(['lt=300', 'b=UQ']);
    clock.advance(10_000);
    expect(dev.isAsleep).toBe(true);
    expect(session.detached).toBe(1);
    command(dev, { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } });
    expect(sent).toHaveLength(0);
    dev.heard();
    expect(session.attached).toBe(1);
    expect(sent.map(uriPath)).toEqual(['/3/0/0']);
  });

  it('a QoS 1 command redelivered after attach (dup) is not sent twice', () => {
    const dev = makeDevice(['lt=300']);
    const json = { reqID: 1, msgType: 'read', data: { path: '/3/0/0' } };
    const d: Delivery = { message: createMessage({ topic: 'dn/cmd', payload: Buffer.from(JSON.stringify(json)), qos: 1 }), qos: 1, pid: 77, dup: false, retain: false, subIds: null, filter: 'dn/#' };
    dev.deliver(d);
    dev.deliver({ ...d, dup: true });
    expect(sent).toHaveLength(1);
  });

  it('auto-observe: Observe GETs for defined objects outside 0,1,2,4,5,6,7,9,15, marked is_auto_observe', () => {
    const dev = makeDevice(['lt=300']);
    dev.autoObserve();
    expect(sent.map(uriPath)).toEqual(['/3/0']);
    expect(decodeUint(getOption(sent[0]!, Opt.OBSERVE)!)).toBe(0);
    dev.handleResponse({ ...ack(sent[0]!, Code.CONTENT, '', 0), options: [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }] }, () => undefined);
    expect(sent.map(uriPath)).toEqual(['/3/0', '/3303/0']);
    expect(session.published[0]!.json).toMatchObject({ msgType: 'observe', is_auto_observe: true });
    expect(session.published[0]!.json.reqID).toBeUndefined();
  });

  it('a CON notification is ACKed and published on up/notify; object 5 goes to /v1/up/dm', () => {
    const dev = makeDevice(['lt=300']);
    command(dev, { reqID: 5, msgType: 'observe', data: { path: '/5/0/3' } });
    dev.handleResponse(ack(sent[0]!, Code.CONTENT, '1'), () => undefined);
    const replies: CoapFrame[] = [];
    const n: CoapFrame = { type: 'CON', code: Code.CONTENT, messageId: 999, token: sent[0]!.token, options: [{ number: Opt.OBSERVE, value: Buffer.from([3]) }, { number: Opt.CONTENT_FORMAT, value: Buffer.alloc(0) }], payload: Buffer.from('2') };
    expect(dev.handleResponse(n, (f) => replies.push(f))).toBe(true);
    expect(replies).toEqual([{ type: 'ACK', code: 0, messageId: 999, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }]);
    expect(session.published.at(-1)).toEqual({ topic: '/v1/up/dm', qos: 0, json: { reqID: 5, msgType: 'notify', seqNum: 3, data: { reqPath: '/5/0/3', code: '2.05', codeMsg: 'content', content: [{ path: '/5/0/3', value: 2 }] } } });
  });

  it('ends with keepalive_timeout when the lifetime passes', () => {
    makeDevice(['lt=5']);
    clock.advance(4999);
    expect(ended).toEqual([]);
    clock.advance(1);
    expect(ended).toEqual(['keepalive_timeout']);
    expect(session.closed).toBe('keepalive_timeout');
  });
});
