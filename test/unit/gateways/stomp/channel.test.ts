// The STOMP channel state machine against the fake broker and a manual clock: connect and version
// negotiation, authentication, heart-beats both ways, subscriptions and MESSAGE headers, the three
// ack modes with redelivery, transactions, receipts and errors (gateways/stomp/SPEC.md §11).
import { describe, expect, it } from 'vitest';
import { stompConfigSchema } from '../../../../gateways/stomp/config.js';
import { negotiateVersion, parseHeartBeat, renderTemplate, StompChannel, subscriptionKey } from '../../../../gateways/stomp/channel.js';
import { header, HEARTBEAT, type StompFrame } from '../../../../gateways/stomp/frame.js';
import type { StreamLink } from '../../../../gateways/transport/stream-types.js';
import { SessionRefusedError, type AuthOutcome } from '../../../../gateways/gateway.js';
import { createMessage } from '../../../../src/core/message.js';
import { mulberry32 } from '../../../helpers/prng.js';
import { createFakeGatewayContext, FakeClock, type FakeGatewayContext } from '../../../helpers/fake-gateway-context.js';

class FakeLink implements StreamLink<StompFrame> {
  readonly key = '127.0.0.1:5555';
  readonly peer = { address: '127.0.0.1', port: 5555, family: 'IPv4' as const };
  readonly sub = null;
  readonly listener = 'tcp:default';
  readonly kind = 'tcp' as const;
  readonly sockPort = 61613;
  readonly cert = null;
  readonly subprotocol = null;
  sent: StompFrame[] = [];
  closed = false;
  send(f: StompFrame): void {
    if (!this.closed) this.sent.push(f);
  }
  close(final?: StompFrame): void {
    if (this.closed) return;
    if (final) this.sent.push(final);
    this.closed = true;
  }
  take(): StompFrame[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
  frames(cmd: string): StompFrame[] {
    return this.sent.filter((f) => f.command === cmd);
  }
}

function frame(command: string, headers: Record<string, string> = {}, body = ''): StompFrame {
  return { command, headers: Object.entries(headers), body: Buffer.from(body) };
}

interface Harness {
  ctx: FakeGatewayContext;
  clock: FakeClock;
  link: FakeLink;
  ch: StompChannel;
}

function setup(opts: { config?: Record<string, unknown>; authenticate?: (r: { username: string | null; password: Buffer | null }) => AuthOutcome | Promise<AuthOutcome>; authorize?: (c: string, a: 'publish' | 'subscribe', t: string) => boolean; mountpoint?: string; durable?: boolean } = {}): Harness {
  const clock = new FakeClock();
  const ctx = createFakeGatewayContext({ name: 'stomp', clock, mountpoint: opts.mountpoint ?? '', durable: opts.durable ?? false, ...(opts.authenticate ? { authenticate: opts.authenticate } : {}), ...(opts.authorize ? { authorize: opts.authorize } : {}) });
  const link = new FakeLink();
  const config = stompConfigSchema.parse({ mountpoint: opts.mountpoint ?? '', ...opts.config });
  let n = 0;
  const ch = new StompChannel({ ctx, config, link, generateClientId: () => `gen${++n}`, count: (x) => ctx.metrics.inc(x) });
  return { ctx, clock, link, ch };
}

function connect(h: Harness, headers: Record<string, string> = { 'accept-version': '1.2', host: 'x' }): StompFrame {
  h.ch.handleFrame(frame('CONNECT', headers));
  const f = h.link.take();
  expect(f[0]?.command).toBe('CONNECTED');
  return f[0]!;
}

describe('STOMP CONNECT', () => {
  it('negotiates the highest common version; none means 1.0; STOMP works like CONNECT', () => {
    expect(negotiateVersion('1.1,1.2')).toBe('1.2');
    expect(negotiateVersion('1.0, 1.1')).toBe('1.1');
    expect(negotiateVersion(undefined)).toBe('1.0');
    expect(negotiateVersion('2.0')).toBeNull();
    const h = setup();
    h.ch.handleFrame(frame('STOMP', { 'accept-version': '1.1,1.2', host: 'edge', login: 'u' }));
    const c = h.link.take()[0]!;
    expect(c.command).toBe('CONNECTED');
    expect(header(c, 'version')).toBe('1.2');
    expect(header(c, 'server')).toBe('emqx-stomp/1.2');
    expect(header(c, 'session')).toBe('gen1');
    expect(header(c, 'heart-beat')).toBe('0,0');
    const s = h.ctx.sessions.get('gen1')!;
    expect(s.device.protoName).toBe('STOMP');
    expect(s.device.username).toBe('u');
  });

  it('refuses an unsupported version with ERROR and closes', () => {
    const h = setup();
    h.ch.handleFrame(frame('CONNECT', { 'accept-version': '2.0' }));
    const e = h.link.take();
    expect(e[0]!.command).toBe('ERROR');
    expect(e[0]!.body.toString()).toBe('Login Failed: Supported protocol versions < 1.2');
    expect(h.link.closed).toBe(true);
  });

  it('passes login/passcode to authenticate; a refusal is ERROR Login Failed + close', () => {
    const seen: { username: string | null; password: string | null }[] = [];
    const h = setup({
      authenticate: (r) => {
        seen.push({ username: r.username, password: r.password?.toString() ?? null });
        return r.password?.toString() === 'good' ? { ok: true, superuser: false, username: r.username } : { ok: false, reason: 'not_authorized' };
      },
    });
    h.ch.handleFrame(frame('CONNECT', { 'accept-version': '1.2', login: 'alice', passcode: 'bad' }));
    expect(seen).toEqual([{ username: 'alice', password: 'bad' }]);
    const e = h.link.take();
    expect(e.map((f) => f.command)).toEqual(['ERROR']);
    expect(e[0]!.body.toString()).toBe('Login Failed: not_authorized');
    expect(h.link.closed).toBe(true);
    expect(h.ctx.sessions.size).toBe(0);
  });

  it('queues frames sent while an asynchronous authentication is running', async () => {
    let release!: (a: AuthOutcome) => void;
    const h = setup({ authenticate: () => new Promise<AuthOutcome>((r) => (release = r)) });
    h.ch.handleFrame(frame('CONNECT', { 'accept-version': '1.2' }));
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a/b', receipt: 'r1' }));
    expect(h.link.sent).toEqual([]);
    release({ ok: true, superuser: false, username: null });
    await new Promise((r) => setImmediate(r));
    expect(h.link.take().map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT']);
  });

  it('takes the client id from a header template (clientinfo_override)', () => {
    expect(renderTemplate('${Packet.headers.client-id}', frame('CONNECT', { 'client-id': 'dev1' }))).toBe('dev1');
    const h = setup({ config: { clientinfo_override: { clientid: '${Packet.headers.client-id}' } } });
    connect(h, { 'accept-version': '1.2', 'client-id': 'dev1' });
    expect(h.ctx.sessions.has('dev1')).toBe(true);
  });

  it('refuses frames before CONNECT and a second CONNECT', () => {
    const h = setup();
    h.ch.handleFrame(frame('SEND', { destination: 'a' }));
    expect(h.link.take()[0]!.body.toString()).toBe('Not connected');
    expect(h.link.closed).toBe(true);
    const h2 = setup();
    connect(h2);
    h2.ch.handleFrame(frame('CONNECT', { 'accept-version': '1.2' }));
    expect(h2.link.take()[0]!.command).toBe('ERROR');
    expect(h2.link.closed).toBe(true);
  });

  it('drops a connection that never sends CONNECT after idle_timeout', () => {
    const h = setup({ config: { idle_timeout: 5 } });
    expect(h.ch.handleIdle(4000)).toBe(false);
    expect(h.ch.handleIdle(5000)).toBe(true);
    const h2 = setup({ config: { idle_timeout: 5 } });
    connect(h2);
    expect(h2.ch.handleIdle(60_000)).toBe(false);
    h2.clock.advance(60_000);
    expect(h2.link.closed).toBe(false);
  });

  it('a peer that only sends heart-beat EOLs is still closed when CONNECT does not come within idle_timeout', () => {
    const h = setup({ config: { idle_timeout: 5 } });
    for (let i = 0; i < 4; i++) {
      h.clock.advance(1000);
      h.ch.handleFrame(HEARTBEAT);
    }
    expect(h.link.closed).toBe(false);
    h.clock.advance(1000);
    expect(h.link.closed).toBe(true);
  });
});

describe('STOMP heart-beats', () => {
  it('answers cy,cx; beats every cy ms; drops a client silent for grace x cx', () => {
    expect(parseHeartBeat('5000,7000')).toEqual([5000, 7000]);
    expect(parseHeartBeat('x')).toBeNull();
    const h = setup();
    const c = connect(h, { 'accept-version': '1.2', 'heart-beat': '5000,7000' });
    expect(header(c, 'heart-beat')).toBe('7000,5000');
    h.clock.advance(7000);
    expect(h.link.take()).toEqual([HEARTBEAT]);
    h.clock.advance(2000); // t=9000: client silent since 0, limit 2 x 5000
    h.ch.handleFrame(HEARTBEAT); // activity at 9000
    h.clock.advance(9000); // t=18000: silent 9000 < 10000
    expect(h.link.closed).toBe(false);
    expect(h.link.take()).toEqual([HEARTBEAT]); // at 14000
    h.clock.advance(1000); // t=19000: silent 10000
    expect(h.link.closed).toBe(true);
    expect(h.ctx.closes.at(-1)).toMatchObject({ clientId: 'gen1', reason: 'keepalive_timeout' });
    expect(h.ctx.counters.get('clients.heartbeat_timeout')).toBe(1);
  });

  it('0,0 means no beats and no checks; min_interval raises small proposals', () => {
    const h = setup();
    connect(h, { 'accept-version': '1.2', 'heart-beat': '0,0' });
    h.clock.advance(3_600_000);
    expect(h.link.sent).toEqual([]);
    expect(h.link.closed).toBe(false);
    const h2 = setup({ config: { heartbeat: { min_interval: 1000 } } });
    expect(header(connect(h2, { 'accept-version': '1.2', 'heart-beat': '10,0' }), 'heart-beat')).toBe('0,1000');
  });
});

describe('STOMP SEND and SUBSCRIBE', () => {
  it('SEND publishes body bytes to mountpoint + destination with headers as user properties, RECEIPT after', () => {
    const h = setup({ mountpoint: 'stomp/' });
    connect(h);
    h.ch.handleFrame(frame('SEND', { destination: 'cmd/s1', 'content-type': 'application/json', receipt: 'r2', 'x-trace': 't1' }, '{"a":\u00001}'));
    expect(h.ctx.published[0]!.topic).toBe('stomp/cmd/s1');
    expect(h.ctx.published[0]!.payload.toString()).toBe('{"a":\u00001}');
    expect(h.ctx.published[0]!.qos).toBe(0);
    expect(h.ctx.messages[0]!.props).toEqual({ contentType: 'application/json', userProperties: [['x-trace', 't1']] });
    expect(h.link.take().map((f) => [f.command, header(f, 'receipt-id')])).toEqual([['RECEIPT', 'r2']]);
  });

  it('SEND persistent:true publishes at QoS 1 and receipts only after the store commit when durable', () => {
    const h = setup({ durable: true });
    connect(h);
    h.ch.handleFrame(frame('SEND', { destination: 'a', persistent: 'true', receipt: 'r' }, 'x'));
    expect(h.ctx.published[0]!.qos).toBe(1);
    expect(h.link.take()).toEqual([]);
    h.ctx.commit();
    expect(h.link.take().map((f) => header(f, 'receipt-id'))).toEqual(['r']);
  });

  it('decodes 1.1/1.2 escapes in destinations; an undefined escape is fatal', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SEND', { destination: 'a\\cb' }, 'x'));
    expect(h.ctx.published[0]!.topic).toBe('a:b');
    h.ch.handleFrame(frame('SEND', { destination: 'a\\tb' }, 'x'));
    expect(h.link.take()[0]!.command).toBe('ERROR');
    expect(h.link.closed).toBe(true);
  });

  it('publish ACL deny: ERROR Insufficient permissions with receipt-id, then close', () => {
    const h = setup({ authorize: (_c, a, t) => !(a === 'publish' && t === 'secret') });
    connect(h);
    h.ch.handleFrame(frame('SEND', { destination: 'secret', receipt: 'r9' }, 'x'));
    const e = h.link.take()[0]!;
    expect(e.body.toString()).toBe('Insufficient permissions for secret');
    expect(header(e, 'receipt-id')).toBe('r9');
    expect(h.link.closed).toBe(true);
  });

  it('MESSAGE carries subscription, increasing message-id, destination without mountpoint, content-type, user properties', () => {
    const h = setup({ mountpoint: 'stomp/' });
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'sensors/#', receipt: 'r1' }));
    expect(h.link.take().map((f) => f.command)).toEqual(['RECEIPT']);
    h.ctx.mqttPublish('stomp/sensors/s1/temp', '21.5');
    h.ctx.mqttPublish('stomp/sensors/s2/temp', '22');
    const ms = h.link.take();
    expect(ms.map((m) => [header(m, 'subscription'), header(m, 'message-id'), header(m, 'destination'), header(m, 'content-type'), header(m, 'ack')])).toEqual([
      ['0', '1', 'sensors/s1/temp', 'text/plain', undefined],
      ['0', '2', 'sensors/s2/temp', 'text/plain', undefined],
    ]);
    expect(ms[0]!.body.toString()).toBe('21.5');
  });

  it('subscription errors: duplicate id, duplicate topic, ACL deny', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a' }));
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'b' }));
    expect(h.link.take()[0]!.body.toString()).toBe('Subscription id 0 is in used');
    const h2 = setup();
    connect(h2);
    h2.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a' }));
    h2.ch.handleFrame(frame('SUBSCRIBE', { id: '1', destination: 'a' }));
    expect(h2.link.take()[0]!.body.toString()).toBe('Topic a already in subscribed');
    const h3 = setup({ authorize: (_c, a) => a !== 'subscribe' });
    connect(h3);
    h3.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'x/#', receipt: 'q' }));
    const e = h3.link.take()[0]!;
    expect(e.body.toString()).toBe('Insufficient permissions for x/#');
    expect(header(e, 'receipt-id')).toBe('q');
    expect(h3.link.closed).toBe(true);
  });

  it('$share subscriptions match deliveries by their filter without the group', () => {
    expect(subscriptionKey('$share/g/a/+')).toBe('a/+');
    expect(subscriptionKey('$queue/a')).toBe('a');
    expect(subscriptionKey('a/b')).toBe('a/b');
  });

  it('UNSUBSCRIBE stops delivery and receipts; an unknown id still receipts', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: 's', destination: 'a' }));
    h.ch.handleFrame(frame('UNSUBSCRIBE', { id: 's', receipt: 'u1' }));
    h.ch.handleFrame(frame('UNSUBSCRIBE', { id: 'nope', receipt: 'u2' }));
    h.ctx.mqttPublish('a', 'x');
    expect(h.link.take().map((f) => [f.command, header(f, 'receipt-id')])).toEqual([
      ['RECEIPT', 'u1'],
      ['RECEIPT', 'u2'],
    ]);
  });

  it('1.0 SUBSCRIBE without id is named by its destination', () => {
    const h = setup();
    connect(h, {});
    h.ch.handleFrame(frame('SUBSCRIBE', { destination: 'a' }));
    h.ctx.mqttPublish('a', 'x');
    expect(header(h.link.take()[0]!, 'subscription')).toBe('a');
    // 1.0 UNSUBSCRIBE by destination finds a subscription made with an explicit id too.
    h.ch.handleFrame(frame('SUBSCRIBE', { destination: 'b', id: 'named' }));
    h.ch.handleFrame(frame('UNSUBSCRIBE', { destination: 'b', receipt: 'u' }));
    h.ctx.mqttPublish('b', 'x');
    expect(h.link.take().map((f) => f.command)).toEqual(['RECEIPT']);
    expect(h.ctx.sessions.get('gen1')!.subs.has('b')).toBe(false);
  });
});

describe('STOMP ack modes', () => {
  it('auto: QoS 0 subscription, no ack header', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a' }));
    expect(h.ctx.sessions.get('gen1')!.subs.get('a')!.qos).toBe(0);
  });

  it('client-individual: QoS 1, ACK acks one message, NACK redelivers it', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a', ack: 'client-individual' }));
    const rec = h.ctx.sessions.get('gen1')!;
    expect(rec.subs.get('a')!.qos).toBe(1);
    h.ctx.mqttPublish('a', 'm1', 1);
    h.ctx.mqttPublish('a', 'm2', 1);
    const [m1, m2] = h.link.take();
    expect(header(m1!, 'ack')).toBe('1');
    expect(rec.inflight.size).toBe(2);
    h.ch.handleFrame(frame('ACK', { id: header(m2!, 'ack')!, receipt: 'a1' }));
    expect(rec.acked).toEqual([2]);
    expect(h.link.take().map((f) => f.command)).toEqual(['RECEIPT']);
    h.ch.handleFrame(frame('NACK', { id: header(m1!, 'ack')! }));
    expect(h.ctx.rejected).toEqual([1]);
    const again = h.link.take();
    expect(again.map((m) => m.body.toString())).toEqual(['m1']);
    h.ch.handleFrame(frame('ACK', { id: header(again[0]!, 'ack')! }));
    expect(rec.inflight.size).toBe(0);
  });

  it('client: ACK is cumulative over the subscription', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a', ack: 'client' }));
    for (const p of ['m1', 'm2', 'm3']) h.ctx.mqttPublish('a', p, 1);
    const ms = h.link.take();
    h.ch.handleFrame(frame('ACK', { id: header(ms[1]!, 'ack')! }));
    expect(h.ctx.sessions.get('gen1')!.acked).toEqual([1, 2]);
    h.ch.handleFrame(frame('NACK', { id: header(ms[2]!, 'ack')! }));
    expect(h.ctx.rejected).toEqual([3]);
  });

  it('1.1 ACK by message-id; client_ack_qos = 0 keeps EMQX behaviour', () => {
    const h = setup();
    connect(h, { 'accept-version': '1.1' });
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a', ack: 'client' }));
    h.ctx.mqttPublish('a', 'm1', 1);
    const m = h.link.take()[0]!;
    h.ch.handleFrame(frame('ACK', { 'message-id': header(m, 'message-id')!, subscription: '0' }));
    expect(h.ctx.sessions.get('gen1')!.acked).toEqual([1]);
    const h2 = setup({ config: { client_ack_qos: 0 } });
    connect(h2);
    h2.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a', ack: 'client' }));
    expect(h2.ctx.sessions.get('gen1')!.subs.get('a')!.qos).toBe(0);
  });
});

describe('STOMP transactions and DISCONNECT', () => {
  it('BEGIN/SEND/COMMIT publishes only at COMMIT, receipts in order; ABORT discards', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('BEGIN', { transaction: 't1', receipt: 'b' }));
    h.ch.handleFrame(frame('SEND', { destination: 'a', transaction: 't1', receipt: 's1' }, 'one'));
    h.ch.handleFrame(frame('SEND', { destination: 'a', transaction: 't1' }, 'two'));
    expect(h.ctx.published.length).toBe(0);
    h.ch.handleFrame(frame('COMMIT', { transaction: 't1', receipt: 'c' }));
    expect(h.ctx.published.map((m) => m.payload.toString())).toEqual(['one', 'two']);
    expect(h.link.take().map((f) => header(f, 'receipt-id'))).toEqual(['b', 's1', 'c']);
    h.ch.handleFrame(frame('BEGIN', { transaction: 't2' }));
    h.ch.handleFrame(frame('SEND', { destination: 'a', transaction: 't2' }, 'three'));
    h.ch.handleFrame(frame('ABORT', { transaction: 't2', receipt: 'ab' }));
    expect(h.ctx.published.length).toBe(2);
    expect(h.link.take().map((f) => header(f, 'receipt-id'))).toEqual(['ab']);
  });

  it('BEGIN twice and unknown transactions are errors that keep the connection', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('BEGIN', { transaction: 't' }));
    h.ch.handleFrame(frame('BEGIN', { transaction: 't' }));
    h.ch.handleFrame(frame('COMMIT', { transaction: 'zz' }));
    h.ch.handleFrame(frame('SEND', { destination: 'a', transaction: 'zz' }));
    expect(h.link.take().map((f) => f.body.toString())).toEqual(['Transaction t already started', 'Transaction zz not found', 'Transaction zz not found']);
    expect(h.link.closed).toBe(false);
  });

  it('transactions older than transaction_timeout are dropped', () => {
    const h = setup({ config: { transaction_timeout: 10 } });
    connect(h);
    h.ch.handleFrame(frame('BEGIN', { transaction: 't' }));
    h.clock.advance(10_000);
    h.ch.handleFrame(frame('COMMIT', { transaction: 't' }));
    expect(h.link.take()[0]!.body.toString()).toBe('Transaction t not found');
  });

  it('ACK inside a transaction applies at COMMIT', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a', ack: 'client-individual' }));
    h.ctx.mqttPublish('a', 'm1', 1);
    const m = h.link.take()[0]!;
    h.ch.handleFrame(frame('BEGIN', { transaction: 't' }));
    h.ch.handleFrame(frame('ACK', { id: header(m, 'ack')!, transaction: 't' }));
    expect(h.ctx.sessions.get('gen1')!.acked).toEqual([]);
    h.ch.handleFrame(frame('COMMIT', { transaction: 't' }));
    expect(h.ctx.sessions.get('gen1')!.acked).toEqual([1]);
  });

  it('DISCONNECT with receipt: RECEIPT then close; the session ends normally', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrame(frame('DISCONNECT', { receipt: 'bye' }));
    expect(h.link.take().map((f) => [f.command, header(f, 'receipt-id')])).toEqual([['RECEIPT', 'bye']]);
    expect(h.link.closed).toBe(true);
    expect(h.ctx.closes.at(-1)).toMatchObject({ clientId: 'gen1', reason: 'normal' });
  });

  it('a frame error answers ERROR naming the limit and closes', () => {
    const h = setup();
    connect(h);
    h.ch.handleFrameError('max_body_length', 'max_body_length: body of 70000 bytes exceeds 65536');
    const e = h.link.take()[0]!;
    expect(e.command).toBe('ERROR');
    expect(e.body.toString()).toBe('Frame error: max_body_length: body of 70000 bytes exceeds 65536');
    expect(h.link.closed).toBe(true);
    expect(h.ctx.closes.at(-1)).toMatchObject({ clientId: 'gen1', reason: 'frame_too_large' });
  });

  it('kick: ERROR Kicked out, then close', () => {
    const h = setup();
    connect(h);
    h.ch.kick('kicked');
    expect(h.link.take()[0]!.body.toString()).toBe('Kicked out');
    expect(h.link.closed).toBe(true);
  });
});

describe('STOMP durable subscriber', () => {
  it('a named client keeps its session; deliveries before its re-SUBSCRIBE wait, then arrive marked redelivered', () => {
    const h = setup({ config: { clientinfo_override: { clientid: '${Packet.headers.client-id}' }, session_expiry_interval: 120 } });
    connect(h, { 'accept-version': '1.2', 'client-id': 'dur' });
    const rec = h.ctx.sessions.get('dur')!;
    expect(rec.opts).toMatchObject({ cleanStart: false, expiryInterval: 120 });
    // What the broker resends on resume (inflight, DUP) before the client subscribed again.
    const message = createMessage({ topic: 'a', payload: Buffer.from('kept'), qos: 1, retain: false, from: 'x', now: h.clock.now() });
    h.ch.deliver({ message, qos: 1, pid: 5, dup: true, retain: false, subIds: null, filter: 'a' });
    expect(h.link.take()).toEqual([]);
    h.ch.handleFrame(frame('SUBSCRIBE', { id: '0', destination: 'a', ack: 'client-individual', receipt: 'r' }));
    const out = h.link.take();
    expect(out.map((f) => f.command)).toEqual(['RECEIPT', 'MESSAGE']);
    expect(header(out[1]!, 'redelivered')).toBe('true');
    expect(out[1]!.body.toString()).toBe('kept');
  });

  it('a durable session the broker refuses (store failing) ends the connection with an ERROR that says so', () => {
    const h = setup({ config: { clientinfo_override: { clientid: '${Packet.headers.client-id}' }, session_expiry_interval: 120 } });
    h.ctx.openSession = () => {
      throw new SessionRefusedError('the store is failing: persistent sessions are refused until it recovers');
    };
    h.ch.handleFrame(frame('CONNECT', { 'accept-version': '1.2', 'client-id': 'dur' }));
    const out = h.link.take();
    expect(out.map((f) => f.command)).toEqual(['CONNECTED', 'ERROR']);
    expect(header(out[1]!, 'message')).toMatch(/^Server unavailable: the store is failing/);
    expect(h.link.closed).toBe(true);
  });

  it('an anonymous (random id) client stays clean even with session_expiry_interval', () => {
    const h = setup({ config: { session_expiry_interval: 120 } });
    connect(h);
    expect(h.ctx.sessions.get('gen1')!.opts).toMatchObject({ cleanStart: true, expiryInterval: 0 });
  });
});

describe('STOMP channel fuzz (seeded)', () => {
  it('random frame sequences never throw, and every ERROR comes with a close unless it is a transaction error', () => {
    const rnd = mulberry32(99);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const commands = ['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT', 'BOGUS', ''];
    const names = ['destination', 'id', 'ack', 'receipt', 'transaction', 'message-id', 'subscription', 'accept-version', 'heart-beat', 'persistent', 'content-type', 'x'];
    const values = ['a', 'a/+', '#', '$share/g/a', '1', '2', 'client', 'client-individual', 'auto', 'bad', 't1', '1.0', '1.1', '1.2,1.1', '2.0', '100,100', 'x,y', 'true', 'a\\cb', 'a\\tb', ''];
    for (let run = 0; run < 200; run++) {
      const h = setup({ config: { heartbeat: { min_interval: 0 } } });
      for (let i = 0; i < 40 && !h.link.closed; i++) {
        const headers: [string, string][] = [];
        for (let k = Math.floor(rnd() * 4); k > 0; k--) headers.push([pick(names), pick(values)]);
        const f: StompFrame = { command: pick(commands), headers, body: Buffer.from(pick(values)) };
        if (rnd() < 0.3 && h.ch.state === 'idle') f.command = 'CONNECT';
        expect(() => h.ch.handleFrame(f)).not.toThrow();
        if (rnd() < 0.2) h.ctx.mqttPublish(pick(['a', 'a/b', 'x']), 'm', rnd() < 0.5 ? 0 : 1);
        if (rnd() < 0.1) h.clock.advance(Math.floor(rnd() * 500));
      }
      for (const e of h.link.frames('ERROR')) {
        const text = e.body.toString();
        if (!text.startsWith('Transaction ')) expect(h.link.closed, text).toBe(true);
      }
    }
  });
});
