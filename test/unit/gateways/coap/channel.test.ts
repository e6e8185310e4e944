// Behaviour of one device's channel, driven through the endpoint with an in-memory socket, a fake
// clock and the fake broker. Test names cite gateways/coap/SPEC.md §10 items and RFC clauses.
import { describe, expect, it } from 'vitest';
import { Code, Opt, decodeBlock, decodeUint, encodeBlock, encodeUint, emptyFrame, encode, getOption, type CoapFrame } from '../../../../gateways/codecs/coap/frame.js';
import { DEV, harness, request } from './harness.js';

const obsOf = (f: CoapFrame): number | null => {
  const v = getOption(f, Opt.OBSERVE);
  return v === undefined ? null : decodeUint(v);
};
const text = (f: CoapFrame): string => f.payload.toString();

describe('connectionless publish (§4.1)', () => {
  it('answers CON POST /ps/a/b with a piggybacked 2.04, same id and token, empty payload [§10.1]', () => {
    const h = harness({ mountpoint: 'coap/' }, { mountpoint: 'coap/' });
    const [r] = h.send(request({ code: Code.POST, mid: 0x1234, token: Buffer.from([0xa1, 0xb2]), path: 'ps/a/b', payload: Buffer.from([0, 1, 255]) }));
    expect(r).toMatchObject({ type: 'ACK', code: Code.CHANGED, messageId: 0x1234 });
    expect(r!.token).toEqual(Buffer.from([0xa1, 0xb2]));
    expect(r!.payload.length).toBe(0);
    const m = h.ctx.messages[0]!;
    expect(m.topic).toBe('coap/a/b');
    expect(m.payload).toEqual(Buffer.from([0, 1, 255]));
    expect(m.qos).toBe(1);
    expect(m.retain).toBe(false);
  });

  it('maps NON to QoS 0 and answers with a NON response [§10.2]', () => {
    const h = harness();
    const [r] = h.send(request({ type: 'NON', code: Code.POST, path: 'ps/a/b', payload: 'x' }));
    expect(r).toMatchObject({ type: 'NON', code: Code.CHANGED });
    expect(h.ctx.messages[0]!.qos).toBe(0);
  });

  it('lets ?qos= override the message type; only retain=true retains; short names work [§10.3]', () => {
    const h = harness();
    h.send(request({ type: 'NON', code: Code.POST, path: 'ps/a/b', query: ['qos=2', 'retain=true'], payload: 'x' }));
    h.send(request({ code: Code.POST, path: 'ps/a/b', query: ['q=0', 'r=1'], payload: 'y' }));
    h.send(request({ code: Code.POST, path: 'ps/a/b', query: ['r=true'], payload: 'z' }));
    expect(h.ctx.messages.map((m) => [m.qos, m.retain])).toEqual([
      [2, true],
      [0, false],
      [1, true],
    ]);
  });

  it('honours publish_qos from config', () => {
    const h = harness({ publish_qos: 'qos2' });
    h.send(request({ type: 'NON', code: Code.POST, path: 'ps/t', payload: 'x' }));
    expect(h.ctx.messages[0]!.qos).toBe(2);
  });

  it('rejects a non-integer qos with 4.00', () => {
    const h = harness();
    const [r] = h.send(request({ code: Code.POST, path: 'ps/t', query: ['qos=x'], payload: 'x' }));
    expect(r!.code).toBe(Code.BAD_REQUEST);
    expect(h.ctx.messages).toHaveLength(0);
  });

  it('uses one random 16-character client id per UDP peer (§3.1)', () => {
    const h = harness();
    h.send(request({ code: Code.POST, path: 'ps/t', payload: '1' }));
    h.send(request({ code: Code.POST, path: 'ps/t', payload: '2' }));
    h.send(request({ code: Code.POST, path: 'ps/t', payload: '3' }), { address: '127.0.0.1', port: 40002 });
    const ids = h.ctx.messages.map((m) => m.from);
    expect(ids[0]).toMatch(/^[A-Za-z][A-Za-z0-9]{15}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
    // Publishing alone opens no session, so no connected event (EMQX lists no connectionless clients).
    expect(h.ctx.events).toHaveLength(0);
  });

  it('answers a duplicate CON with the identical cached reply and publishes once [§10.11, RFC 7252 §4.5]', () => {
    const h = harness({ heartbeat: 600 });
    const f = request({ code: Code.POST, mid: 77, path: 'ps/a', payload: 'once' });
    const [a] = h.send(f);
    h.clock.advance(100_000);
    const [b] = h.send(f);
    expect(encode(b!)).toEqual(encode(a!));
    expect(h.ctx.messages).toHaveLength(1);
    expect(h.ctx.counters.get('coap.requests.duplicate')).toBe(1);
  });

  it('ignores a duplicate NON', () => {
    const h = harness();
    const f = request({ type: 'NON', code: Code.POST, mid: 78, path: 'ps/a', payload: 'once' });
    h.send(f);
    expect(h.send(f)).toEqual([]);
    expect(h.ctx.messages).toHaveLength(1);
  });

  it('acknowledges a durable QoS 1 publish only after the group commit', () => {
    const h = harness({}, { durable: true });
    expect(h.send(request({ code: Code.POST, path: 'ps/a', payload: 'x' }))).toEqual([]);
    expect(h.ctx.durableWaiting).toBe(1);
    h.ctx.commit();
    const out = h.drain();
    expect(out[0]!.frame).toMatchObject({ type: 'ACK', code: Code.CHANGED });
  });

  it('answers 4.01 when the broker denies the publish [§10.16]', () => {
    const h = harness({}, { authorize: (_c, action, topic) => !(action === 'publish' && topic === 'secret') });
    const [r] = h.send(request({ code: Code.POST, path: 'ps/secret', payload: 'x' }));
    expect(r!.code).toBe(Code.UNAUTHORIZED);
    expect(h.ctx.messages).toHaveLength(0);
  });
});

describe('routing and errors (§2, §6)', () => {
  it('answers 4.05 to PUT/DELETE on /ps and 4.00 to unknown roots and /mqtt/other [§10.8]', () => {
    const h = harness();
    expect(h.send(request({ code: Code.PUT, path: 'ps/x' }))[0]!.code).toBe(Code.METHOD_NOT_ALLOWED);
    expect(h.send(request({ code: Code.DELETE, path: 'ps/x' }))[0]!.code).toBe(Code.METHOD_NOT_ALLOWED);
    expect(h.send(request({ code: Code.POST, path: 'foo/x' }))[0]!.code).toBe(Code.BAD_REQUEST);
    expect(h.send(request({ code: Code.POST, path: 'mqtt/other' }))[0]!.code).toBe(Code.BAD_REQUEST);
    expect(h.send(request({ code: Code.GET, path: 'mqtt/connection' }))[0]!.code).toBe(Code.METHOD_NOT_ALLOWED);
  });

  it('answers an empty topic with 4.00 "invalid topic"', () => {
    const h = harness();
    const [r] = h.send(request({ code: Code.POST, path: 'ps', payload: 'x' }));
    expect([r!.code, text(r!)]).toEqual([Code.BAD_REQUEST, 'invalid topic']);
  });

  it('answers a CoAP ping (empty CON) with RST (RFC 7252 §4.3)', () => {
    const h = harness();
    h.send(request({ code: Code.POST, path: 'ps/a', payload: 'x' }));
    const [r] = h.send({ ...emptyFrame('ACK', 5), type: 'CON' });
    expect(r).toMatchObject({ type: 'RST', messageId: 5 });
  });

  it('RSTs a malformed CON and keeps serving the device (RFC 7252 §4.2)', () => {
    const h = harness();
    h.send(request({ code: Code.POST, path: 'ps/a', payload: 'x' }));
    const [r] = h.sendRaw(Buffer.from('4001beefb561', 'hex'));
    expect(r).toMatchObject({ type: 'RST', messageId: 0xbeef });
    expect(h.send(request({ code: Code.POST, path: 'ps/a', payload: 'y' }))[0]!.code).toBe(Code.CHANGED);
  });

  it('answers an unknown critical option with 4.02 (RFC 7252 §5.4.1)', () => {
    const h = harness();
    const [r] = h.send(request({ code: Code.POST, path: 'ps/a', options: [{ number: 9, value: Buffer.from('x') }], payload: 'x' }));
    expect(r!.code).toBe(Code.BAD_OPTION);
  });

  it('ignores stray ACKs from unknown peers and RSTs stray CON responses', () => {
    const h = harness();
    expect(h.send(emptyFrame('ACK', 9))).toEqual([]);
    const [r] = h.send({ type: 'CON', code: Code.CONTENT, messageId: 10, token: Buffer.from('x'), options: [], payload: Buffer.alloc(0) });
    expect(r).toMatchObject({ type: 'RST', messageId: 10 });
    expect(h.ep.channelCount).toBe(0);
  });
});

describe('observe (§4.2–§4.4, RFC 7641)', () => {
  it('registers with 2.05 Observe 0 and the same token, then notifies with 1, 2, 3 [§10.4]', () => {
    const h = harness({ mountpoint: 'coap/' }, { mountpoint: 'coap/' });
    const [r] = h.send(request({ code: Code.GET, token: 'obs1', path: 'ps/a/b', observe: 0 }));
    expect(r).toMatchObject({ type: 'ACK', code: Code.CONTENT });
    expect(r!.token.toString()).toBe('obs1');
    expect(obsOf(r!)).toBe(0);
    expect(r!.payload.length).toBe(0);
    for (const p of ['one', 'two', 'three']) h.ctx.mqttPublish('coap/a/b', p);
    const n = h.drain();
    expect(n.map((x) => [x.frame.type, x.frame.code, x.frame.token.toString(), obsOf(x.frame), text(x.frame)])).toEqual([
      ['NON', Code.CONTENT, 'obs1', 1, 'one'],
      ['NON', Code.CONTENT, 'obs1', 2, 'two'],
      ['NON', Code.CONTENT, 'obs1', 3, 'three'],
    ]);
    expect(n[0]!.to).toEqual(DEV);
    expect(getOption(n[0]!.frame, Opt.CONTENT_FORMAT)).toBeUndefined();
  });

  it('rejects observe without token and GET without a valid Observe [§10.5]', () => {
    const h = harness();
    const [a] = h.send(request({ code: Code.GET, token: Buffer.alloc(0), path: 'ps/a', observe: 0 }));
    expect([a!.code, text(a!)]).toEqual([Code.BAD_REQUEST, 'observe without token']);
    const [b] = h.send(request({ code: Code.GET, path: 'ps/a' }));
    expect([b!.code, text(b!)]).toEqual([Code.BAD_REQUEST, 'invalid observe value']);
    const [c] = h.send(request({ code: Code.GET, path: 'ps/a', observe: 2 }));
    expect(text(c!)).toBe('invalid observe value');
  });

  it('unsubscribes with Observe 1 -> 2.07, and no notifications follow [§10.6]', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
    const [r] = h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 1 }));
    expect(r!.code).toBe(Code.NO_CONTENT);
    h.ctx.mqttPublish('a', 'x');
    expect(h.drain()).toEqual([]);
    // Unsubscribing what is not observed is still 2.07.
    expect(h.send(request({ code: Code.GET, path: 'ps/zz', observe: 1 }))[0]!.code).toBe(Code.NO_CONTENT);
  });

  it('subscribes to wildcards given as + or %2B in the path [§10.7]', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'w', path: 'ps/a/%2B', observe: 0 }));
    h.ctx.mqttPublish('a/x', 'hit');
    expect(text(h.drain()[0]!.frame)).toBe('hit');
    expect(h.ctx.sessions.values().next().value!.subs.has('a/+')).toBe(true);
  });

  it('keeps one observation per topic; a re-registration returns the current sequence and moves to the new token', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 't1', path: 'ps/a', observe: 0 }));
    h.ctx.mqttPublish('a', '1');
    h.drain();
    const [r] = h.send(request({ code: Code.GET, token: 't2', path: 'ps/a', observe: 0 }));
    expect(obsOf(r!)).toBe(1);
    h.ctx.mqttPublish('a', '2');
    const [n] = h.drain();
    expect([n!.frame.token.toString(), obsOf(n!.frame)]).toEqual(['t2', 2]);
  });

  it('uses subscribe_qos: a CON registration subscribes at QoS 1, a NON one at QoS 0, ?qos wins', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'a', path: 'ps/a', observe: 0 }));
    h.send(request({ type: 'NON', code: Code.GET, token: 'b', path: 'ps/b', observe: 0 }));
    h.send(request({ type: 'NON', code: Code.GET, token: 'c', path: 'ps/c', observe: 0, query: ['qos=2'] }));
    const subs = h.ctx.sessions.values().next().value!.subs;
    expect([subs.get('a')!.qos, subs.get('b')!.qos, subs.get('c')!.qos]).toEqual([1, 0, 2]);
  });

  it('answers 4.01 when the broker denies the subscription [§10.16]', () => {
    const h = harness({}, { authorize: (_c, action) => action !== 'subscribe' });
    const [r] = h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
    expect(r!.code).toBe(Code.UNAUTHORIZED);
  });

  it('sends retained messages to a new observation after its 2.05 (spec-correct default) [§10.19]', () => {
    const h = harness();
    h.ctx.mqttPublish('a/b', 'kept', 0, true);
    const out = h.send(request({ code: Code.GET, token: 'o', path: 'ps/a/b', observe: 0 }));
    expect(out.map((f) => [f.type, obsOf(f), text(f)])).toEqual([
      ['ACK', 0, ''],
      ['NON', 1, 'kept'],
    ]);
  });

  it('with emqx_compat.retained_only_with_rh0 sends retained messages only for ?rh=0 [§10.19]', () => {
    const h = harness({ emqx_compat: { retained_only_with_rh0: true } });
    h.ctx.mqttPublish('a/b', 'kept', 0, true);
    expect(h.send(request({ code: Code.GET, token: 'o', path: 'ps/a/b', observe: 0 }))).toHaveLength(1);
    const out = h.send(request({ code: Code.GET, token: 'p', path: 'ps/a/%2B', observe: 0, query: ['rh=0'] }));
    expect(out.map(text)).toEqual(['', 'kept']);
  });

  it('does not deliver own publishes with ?nl=1', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0, query: ['nl=1'] }));
    const out = h.send(request({ type: 'NON', code: Code.POST, path: 'ps/a', payload: 'me' }));
    expect(out).toHaveLength(1);
  });
});

describe('notification types and reliability (§4.3, RFC 7252 §4.2)', () => {
  it('notify_type=qos: QoS 0 deliveries are NON, QoS 1/2 are CON [§10.9]', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0, query: ['qos=2'] }));
    h.ctx.mqttPublish('a', 'q0', 0);
    const [n0] = h.drain();
    expect(n0!.frame.type).toBe('NON');
    h.ctx.mqttPublish('a', 'q1', 1);
    const [n1] = h.drain();
    expect(n1!.frame.type).toBe('CON');
    h.send(emptyFrame('ACK', n1!.frame.messageId));
    h.ctx.mqttPublish('a', 'q2', 2);
    expect(h.drain()[0]!.frame.type).toBe('CON');
  });

  it('notify_type con/non fixes the type; emqx_compat.always_non_notify forces NON [§10.9]', () => {
    for (const [cfg, qos, want] of [
      [{ notify_type: 'con' }, 0, 'CON'],
      [{ notify_type: 'non' }, 1, 'NON'],
      [{ notify_type: 'con', emqx_compat: { always_non_notify: true } }, 1, 'NON'],
    ] as const) {
      const h = harness(cfg);
      h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
      h.ctx.mqttPublish('a', 'x', qos);
      expect(h.drain()[0]!.frame.type).toBe(want);
    }
  });

  it('acks a QoS 1 delivery to the broker only when the device ACKs the CON notification', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
    const s = h.ctx.sessions.values().next().value!;
    h.ctx.mqttPublish('a', 'x', 1);
    const [n] = h.drain();
    expect(s.inflight.size).toBe(1);
    h.send(emptyFrame('ACK', n!.frame.messageId));
    expect(s.inflight.size).toBe(0);
    expect(s.acked).toEqual([1]);
  });

  it('retransmits an unacked CON notification 4 times with doubling timeouts from 2–3 s, then drops the observer [§10.10, RFC 7641 §4.5]', () => {
    const h = harness({ heartbeat: 600 });
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
    h.ctx.mqttPublish('a', 'x', 1);
    const [first] = h.drain();
    const times: number[] = [];
    const t0 = h.clock.now();
    for (let i = 0; i < 10_000; i++) {
      h.clock.advance(10);
      for (const s of h.drain()) {
        expect(s.frame.messageId).toBe(first!.frame.messageId);
        times.push(h.clock.now() - t0);
      }
    }
    expect(times).toHaveLength(4);
    const t1 = times[0]!;
    expect(t1).toBeGreaterThanOrEqual(2000);
    expect(t1).toBeLessThanOrEqual(3010);
    // Each gap doubles (to the 10 ms resolution of this loop).
    expect(Math.abs(times[1]! - times[0]! - 2 * t1)).toBeLessThanOrEqual(100);
    expect(Math.abs(times[2]! - times[1]! - 4 * t1)).toBeLessThanOrEqual(100);
    expect(Math.abs(times[3]! - times[2]! - 8 * t1)).toBeLessThanOrEqual(100);
    expect(h.ctx.counters.get('coap.notify.timeout')).toBe(1);
    h.ctx.mqttPublish('a', 'y', 1);
    expect(h.drain()).toEqual([]);
  });

  it('keeps one CON notification outstanding and queues the rest, dropping the oldest when full', () => {
    const h = harness({ notify_queue_len: 2 });
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
    for (const p of ['1', '2', '3', '4']) h.ctx.mqttPublish('a', p, 1);
    const sent = h.drain();
    expect(sent.map((s) => text(s.frame))).toEqual(['1']);
    expect(h.ctx.counters.get('delivery.dropped.queue_full')).toBe(1);
    // After the ACK the next queued one (3, since 2 was dropped) is sent.
    expect(h.send(emptyFrame('ACK', sent[0]!.frame.messageId)).map(text)).toEqual(['3']);
    const s = h.ctx.sessions.values().next().value!;
    expect(s.acked).toContain(2); // the dropped one is settled too, so the broker does not hold it forever
    expect(h.ep.channel([...h.ctx.sessions.keys()][0]!)!.queuedNotifications).toBe(1);
  });

  it('cancels the observation on RST to a notification (RFC 7641 §3.6); emqx_compat keeps it', () => {
    for (const keep of [false, true]) {
      const h = harness({ emqx_compat: { rst_keeps_observation: keep } });
      h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
      h.ctx.mqttPublish('a', 'x', 1);
      const [n] = h.drain();
      h.send(emptyFrame('RST', n!.frame.messageId));
      h.ctx.mqttPublish('a', 'y', 0);
      expect(h.drain().length).toBe(keep ? 1 : 0);
    }
  });
});

describe('connection mode (§3.2)', () => {
  const cm = { connection_required: true, heartbeat: 30 };
  const login = async (h: ReturnType<typeof harness>, q = ['clientid=dev1', 'username=admin', 'password=public'], from = DEV) => {
    const now = h.send(request({ code: Code.POST, path: 'mqtt/connection', query: q }), from);
    await h.settle();
    return [...now, ...h.drain().map((x) => x.frame)];
  };

  it('creates a connection: 2.01 with a decimal token; session opened with the clientid [§10.12]', async () => {
    const h = harness(cm);
    const [r] = await login(h);
    expect(r).toMatchObject({ type: 'ACK', code: Code.CREATED });
    expect(text(r!)).toMatch(/^[1-9][0-9]*$/);
    expect(Number(text(r!))).toBeLessThanOrEqual(4294967295);
    expect(h.ctx.events).toEqual([{ kind: 'connected', clientId: 'dev1' }]);
    expect(h.ctx.sessions.get('dev1')!.device).toMatchObject({ username: 'admin', protoVer: '1', keepalive: 30, listener: 'udp:default', sockPort: 5683 });
  });

  it('rejects create without clientid, and a second create while connected [§10.12]', async () => {
    const h = harness(cm);
    const [a] = await login(h, ['username=admin']);
    expect([a!.code, text(a!)]).toEqual([Code.BAD_REQUEST, 'Login Failed: clientid is required']);
    await login(h);
    const [b] = await login(h);
    expect([b!.code, text(b!)]).toEqual([Code.BAD_REQUEST, 'Bad Request: client has connected']);
  });

  it('answers a failed login with 4.01 "Login Failed: <reason>", 4.00 with emqx_compat [§10.12]', async () => {
    const deny = { authenticate: () => ({ ok: false as const, reason: 'not_authorized' as const }) };
    const [a] = await login(harness(cm, deny));
    expect([a!.code, text(a!)]).toEqual([Code.UNAUTHORIZED, 'Login Failed: not_authorized']);
    const [b] = await login(harness({ ...cm, emqx_compat: { login_failure_bad_request: true } }, deny));
    expect([b!.code, text(b!)]).toEqual([Code.BAD_REQUEST, 'Login Failed: not_authorized']);
  });

  it('checks clientid and token on every request [§10.13]', async () => {
    const h = harness(cm);
    const token = text((await login(h))[0]!);
    const [bad] = h.send(request({ code: Code.POST, path: 'ps/a', query: ['c=dev1', 't=1'], payload: 'x' }));
    expect([bad!.code, text(bad!)]).toEqual([Code.BAD_REQUEST, 'Missing token or clientid in connection mode']);
    const [none] = h.send(request({ code: Code.POST, path: 'ps/a', payload: 'x' }));
    expect(text(none!)).toBe('Missing token or clientid in connection mode');
    const [notoken] = h.send(request({ code: Code.POST, path: 'ps/a', query: ['c=dev1'], payload: 'x' }));
    expect(text(notoken!)).toBe('Missing token or clientid in connection mode');
    const [unknown] = h.send(request({ code: Code.POST, path: 'ps/a', query: ['c=other', `t=${token}`], payload: 'x' }));
    expect(text(unknown!)).toBe('Missing token or clientid in connection mode');
    const [ok] = h.send(request({ code: Code.POST, path: 'ps/a', query: ['c=dev1', `t=${token}`], payload: 'x' }));
    expect(ok!.code).toBe(Code.CHANGED);
    expect(h.ctx.messages.map((m) => m.from)).toEqual(['dev1']);
  });

  it('follows a device whose source port changes (NAT rebinding): replies and notifications go to the new address [§10.13]', async () => {
    const h = harness(cm);
    const token = text((await login(h))[0]!);
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/cmd', observe: 0, query: ['c=dev1', `t=${token}`] }));
    const moved = { address: '127.0.0.1', port: 50999 };
    h.drain();
    h.sock.inject(encode(request({ code: Code.PUT, path: 'mqtt/connection', query: ['c=dev1', `t=${token}`] })), moved);
    const [hb] = h.drain();
    expect(hb!.to).toEqual(moved);
    expect(hb!.frame.code).toBe(Code.CHANGED);
    h.ctx.mqttPublish('cmd', 'reboot', 1);
    const [n] = h.drain();
    expect(n!.to).toEqual(moved);
    expect(n!.frame.type).toBe('CON');
    // The ACK from the new address settles the notification.
    h.sock.inject(encode(emptyFrame('ACK', n!.frame.messageId)), moved);
    expect(h.ctx.sessions.get('dev1')!.acked).toEqual([1]);
  });

  it('heartbeat PUT -> 2.04; DELETE -> 2.02, session closed with reason normal [§10.14]', async () => {
    const h = harness(cm);
    const token = text((await login(h))[0]!);
    expect(h.send(request({ code: Code.PUT, path: 'mqtt/connection', query: ['c=dev1', `t=${token}`] }))[0]!.code).toBe(Code.CHANGED);
    expect(h.send(request({ code: Code.DELETE, path: 'mqtt/connection', query: ['c=dev1', `t=${token}`] }))[0]!.code).toBe(Code.DELETED);
    expect(h.ctx.events.at(-1)).toEqual({ kind: 'disconnected', clientId: 'dev1', reason: 'normal' });
    expect(h.ep.channelCount).toBe(0);
    // DELETE with no channel still answers 2.02.
    expect(h.send(request({ code: Code.DELETE, path: 'mqtt/connection', query: ['c=dev1', `t=${token}`] }))[0]!.code).toBe(Code.DELETED);
  });

  it('closes after heartbeat x 1.5 of silence with keepalive_timeout, dropping observations [§10.15, §5]', async () => {
    const h = harness(cm);
    const token = text((await login(h))[0]!);
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0, query: ['c=dev1', `t=${token}`] }));
    h.clock.advance(40_000);
    h.send(request({ code: Code.PUT, path: 'mqtt/connection', query: ['c=dev1', `t=${token}`] }));
    h.clock.advance(44_000);
    expect(h.ctx.sessions.get('dev1')!.closed).toBeNull();
    h.clock.advance(1_500);
    expect(h.ctx.events.at(-1)).toEqual({ kind: 'disconnected', clientId: 'dev1', reason: 'keepalive_timeout' });
    expect(h.ep.channelCount).toBe(0);
    expect(h.clock.pending).toBe(0);
    const [r] = h.send(request({ code: Code.POST, path: 'ps/a', query: ['c=dev1', `t=${token}`], payload: 'x' }));
    expect(text(r!)).toBe('Missing token or clientid in connection mode');
  });

  it('passes the login clientid to the broker so ${clientid} mountpoints expand per device [§10.20]', async () => {
    const h = harness({ ...cm, mountpoint: 'dev/${clientid}/' }, { mountpoint: 'dev/${clientid}/' });
    const token = text((await login(h))[0]!);
    h.send(request({ code: Code.POST, path: 'ps/up', query: ['c=dev1', `t=${token}`], payload: 'x' }));
    expect(h.ctx.messages[0]!.topic).toBe('dev/dev1/up');
  });

  it('drops a channel whose login never completes within idle_timeout', async () => {
    let release: (() => void) | null = null;
    const h = harness({ ...cm, idle_timeout: 5 }, { authenticate: () => new Promise((r) => (release = () => r({ ok: true, superuser: false, username: null }))) });
    h.send(request({ code: Code.POST, path: 'mqtt/connection', query: ['clientid=slow'] }));
    await h.settle();
    expect(h.ep.channelCount).toBe(1);
    h.clock.advance(5_000);
    expect(h.ep.channelCount).toBe(0);
    release!();
    await h.settle();
    expect(h.ctx.sessions.size).toBe(0);
  });

  it('ends the channel when the broker kicks the session (takeover)', async () => {
    const h = harness(cm);
    await login(h);
    h.ctx.sessions.get('dev1')!.sink.kick('kicked');
    expect(h.ep.channelCount).toBe(0);
    // On a DTLS socket the device's session ends with it (close_notify), as a TCP connection would.
    expect(h.sock.closedPeers).toEqual([`${DEV.address}:${DEV.port}`]);
  });
});

describe('defects stay local', () => {
  it('ends only the channel whose broker call threw, and serves the device again afterwards', () => {
    let boom = true;
    const h = harness({}, {
      authorize: () => {
        if (boom) throw new Error('backend bug');
        return true;
      },
    });
    expect(h.send(request({ code: Code.POST, path: 'ps/a', payload: 'x' }))).toEqual([]);
    expect(h.ep.channelCount).toBe(0);
    boom = false;
    expect(h.send(request({ code: Code.POST, path: 'ps/a', payload: 'y' }))[0]!.code).toBe(Code.CHANGED);
  });

  it('treats an authenticator that throws as server_unavailable', async () => {
    const h = harness({ connection_required: true }, {
      authenticate: () => {
        throw new Error('db down');
      },
    });
    h.send(request({ code: Code.POST, path: 'mqtt/connection', query: ['clientid=d'] }));
    await h.settle();
    const [r] = h.drain();
    expect([r!.frame.code, text(r!.frame)]).toEqual([Code.UNAUTHORIZED, 'Login Failed: server_unavailable']);
  });
});

describe('connectionless keepalive (§5)', () => {
  it('drops a silent observer after heartbeat x 1.5', () => {
    const h = harness({ heartbeat: 10 });
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/a', observe: 0 }));
    const rec = h.ctx.sessions.values().next().value!;
    h.clock.advance(14_999);
    expect(h.ep.channelCount).toBe(1);
    h.clock.advance(2);
    expect(h.ep.channelCount).toBe(0);
    expect(rec.closed?.reason).toBe('keepalive_timeout');
  });
});

describe('block-wise transfers (RFC 7959)', () => {
  const big = Buffer.from(Array.from({ length: 10 * 1024 }, (_, i) => (i * 7) % 251));

  it('reassembles a 10 KB Block1 upload: 2.31 Continue for each block, then 2.04 and one publish', () => {
    const h = harness();
    const bs = 1024;
    let last: CoapFrame | undefined;
    for (let num = 0; num * bs < big.length; num++) {
      const more = (num + 1) * bs < big.length;
      const [r] = h.send(request({ code: Code.POST, path: 'ps/up', options: [{ number: Opt.BLOCK1, value: encodeBlock({ num, more, szx: 6 }) }], payload: big.subarray(num * bs, (num + 1) * bs) }));
      expect(r!.code).toBe(more ? Code.CONTINUE : Code.CHANGED);
      expect(decodeBlock(getOption(r!, Opt.BLOCK1)!)).toEqual({ num, more, szx: 6 });
      last = r;
    }
    expect(last!.code).toBe(Code.CHANGED);
    expect(h.ctx.messages).toHaveLength(1);
    expect(h.ctx.messages[0]!.payload.equals(big)).toBe(true);
  });

  it('answers a block out of order with 4.08 and an oversized body with 4.13 + Size1', () => {
    const h = harness({ blockwise: { max_body_size: 2048 } });
    const [r] = h.send(request({ code: Code.POST, path: 'ps/up', options: [{ number: Opt.BLOCK1, value: encodeBlock({ num: 3, more: true, szx: 6 }) }], payload: big.subarray(0, 1024) }));
    expect(r!.code).toBe(Code.REQUEST_ENTITY_INCOMPLETE);
    const [s] = h.send(request({ code: Code.POST, path: 'ps/up', options: [{ number: Opt.BLOCK1, value: encodeBlock({ num: 0, more: true, szx: 6 }) }, { number: Opt.SIZE1, value: encodeUint(10240) }], payload: big.subarray(0, 1024) }));
    expect(s!.code).toBe(Code.REQUEST_ENTITY_TOO_LARGE);
    expect(decodeUint(getOption(s!, Opt.SIZE1)!)).toBe(2048);
    expect(h.ctx.messages).toHaveLength(0);
  });

  it('sends a 10 KB notification as Block2: block 0 with Observe, Size2 and ETag, the rest by GET (RFC 7959 §3.4)', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/down', observe: 0 }));
    h.ctx.mqttPublish('down', big, 0);
    const [n] = h.drain();
    const b0 = decodeBlock(getOption(n!.frame, Opt.BLOCK2)!)!;
    expect(b0).toEqual({ num: 0, more: true, szx: 6 });
    expect(obsOf(n!.frame)).toBe(1);
    expect(decodeUint(getOption(n!.frame, Opt.SIZE2)!)).toBe(big.length);
    const etag = getOption(n!.frame, Opt.ETAG)!;
    const parts = [n!.frame.payload];
    for (let num = 1; ; num++) {
      const [r] = h.send(request({ code: Code.GET, token: 'f', path: 'ps/down', options: [{ number: Opt.BLOCK2, value: encodeBlock({ num, more: false, szx: 6 }) }] }));
      expect(r!.code).toBe(Code.CONTENT);
      expect(getOption(r!, Opt.ETAG)).toEqual(etag);
      parts.push(r!.payload);
      if (!decodeBlock(getOption(r!, Opt.BLOCK2)!)!.more) break;
    }
    expect(Buffer.concat(parts).equals(big)).toBe(true);
    // Beyond the end is 4.02.
    const [x] = h.send(request({ code: Code.GET, path: 'ps/down', options: [{ number: Opt.BLOCK2, value: encodeBlock({ num: 99, more: false, szx: 6 }) }] }));
    expect(x!.code).toBe(Code.BAD_OPTION);
  });

  it('honours a smaller block size asked for in the registration', () => {
    const h = harness();
    h.send(request({ code: Code.GET, token: 'o', path: 'ps/down', observe: 0, options: [{ number: Opt.BLOCK2, value: encodeBlock({ num: 0, more: false, szx: 2 }) }] }));
    h.ctx.mqttPublish('down', big.subarray(0, 200), 0);
    const [n] = h.drain();
    expect(n!.frame.payload.length).toBe(64);
  });
});

describe('device-request API (§7)', () => {
  it('sends a CON request to the device and resolves with its piggybacked response', async () => {
    const h = harness({ connection_required: true });
    h.send(request({ code: Code.POST, path: 'mqtt/connection', query: ['clientid=dev1'] }));
    await h.settle();
    h.drain();
    const p = h.ep.request('dev1', { method: Code.GET, payload: Buffer.from('q'), contentFormat: 0, timeoutMs: 10_000, token: 'tk' });
    const [req] = h.drain();
    expect(req!.frame).toMatchObject({ type: 'CON', code: Code.GET });
    expect(req!.frame.token.toString()).toBe('tk');
    h.send({ type: 'ACK', code: Code.CONTENT, messageId: req!.frame.messageId, token: req!.frame.token, options: [{ number: Opt.CONTENT_FORMAT, value: encodeUint(50) }], payload: Buffer.from('{"v":1}') });
    await expect(p).resolves.toEqual({ ok: true, code: Code.CONTENT, payload: Buffer.from('{"v":1}'), contentFormat: 50 });
  });

  it('matches a separate response by token and ACKs it (RFC 7252 §5.2.2)', async () => {
    const h = harness({ connection_required: true });
    h.send(request({ code: Code.POST, path: 'mqtt/connection', query: ['clientid=dev1'] }));
    await h.settle();
    h.drain();
    const p = h.ep.request('dev1', { method: Code.PUT, payload: Buffer.alloc(0), timeoutMs: 10_000 });
    const [req] = h.drain();
    h.send(emptyFrame('ACK', req!.frame.messageId));
    const [ack] = h.send({ type: 'CON', code: Code.CHANGED, messageId: 999, token: req!.frame.token, options: [], payload: Buffer.alloc(0) });
    expect(ack).toMatchObject({ type: 'ACK', code: 0, messageId: 999 });
    await expect(p).resolves.toMatchObject({ ok: true, code: Code.CHANGED });
  });

  it('reports not_found for unknown clients and timeout when the device stays silent', async () => {
    const h = harness({ connection_required: true, heartbeat: 600 });
    await expect(h.ep.request('nobody', { method: Code.GET, payload: Buffer.alloc(0), timeoutMs: 1000 })).resolves.toEqual({ ok: false, reason: 'not_found' });
    h.send(request({ code: Code.POST, path: 'mqtt/connection', query: ['clientid=dev1'] }));
    await h.settle();
    const p = h.ep.request('dev1', { method: Code.GET, payload: Buffer.alloc(0), timeoutMs: 10_000 });
    h.clock.advance(10_000);
    await expect(p).resolves.toEqual({ ok: false, reason: 'timeout' });
  });
});
