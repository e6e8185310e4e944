// The ExProto channel without sockets or gRPC: a fake broker context, a fake clock and a handler
// whose calls the test resolves or fails by hand (gateways/exproto/SPEC.md §3, §4, §6).
import { describe, expect, it } from 'vitest';
import { ExprotoChannel, messageId, type DeviceSocket, type HandlerCaller } from '../../../../gateways/exproto/channel.js';
import type { HandlerMethod, HandlerRequests } from '../../../../gateways/exproto/proto.js';
import { CLOSE_FLUSH_MS } from '../../../../gateways/exproto/params.js';
import { createFakeGatewayContext, FakeClock, type FakeContextOptions } from '../../../helpers/fake-gateway-context.js';

interface Call {
  method: HandlerMethod;
  req: HandlerRequests[HandlerMethod];
  resolve(): void;
  reject(e: Error): void;
}

class FakeHandler implements HandlerCaller {
  readonly calls: Call[] = [];
  call<M extends HandlerMethod>(method: M, req: HandlerRequests[M]): Promise<void> {
    return new Promise((resolve, reject) => this.calls.push({ method, req, resolve, reject }));
  }
  get methods(): string[] {
    return this.calls.map((c) => c.method);
  }
  /** Resolve the newest pending call and let the channel dispatch the next one. */
  async ok(): Promise<void> {
    this.calls[this.calls.length - 1]!.resolve();
    await flush();
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(o: { stream?: boolean; ctx?: FakeContextOptions; maxQueued?: number } = {}) {
  const clock = new FakeClock();
  const ctx = createFakeGatewayContext({ name: 'exproto', clock, ...o.ctx });
  const handler = new FakeHandler();
  const sent: Buffer[] = [];
  let socketClosed = 0;
  const socket: DeviceSocket = {
    socktype: o.stream === false ? 'UDP' : 'TCP',
    peerHost: '10.0.0.9',
    peerPort: 5555,
    sockHost: '0.0.0.0',
    sockPort: 7993,
    cert: null,
    listener: 'tcp:default',
    stream: o.stream ?? true,
    send: (b) => sent.push(b),
    close: () => socketClosed++,
    keepaliveStarted: () => {},
  };
  const gone: string[] = [];
  const ch = new ExprotoChannel({ conn: 'AAAAAAAAAAAAAAAA', ctx, socket, handler, log: ctx.log, maxQueued: o.maxQueued ?? 100, placeholderId: 'exproto-x', count: (n) => ctx.metrics.inc(n), gone: (c) => gone.push(c) });
  ch.start();
  return { clock, ctx, handler, ch, sent, gone, socketClosed: () => socketClosed };
}

const ci = (clientid: string) => ({ proto_name: 'line', proto_ver: '1', clientid, username: '', mountpoint: '' });

describe('ExprotoChannel event queue', () => {
  it('sends OnSocketCreated first and one call at a time; stream chunks that waited travel together', async () => {
    const { handler, ch } = setup();
    ch.input(Buffer.from('a'));
    ch.input(Buffer.from('b'));
    expect(handler.methods).toEqual(['OnSocketCreated']);
    expect((handler.calls[0]!.req as HandlerRequests['OnSocketCreated']).conninfo).toEqual({ socktype: 'TCP', peername: { host: '10.0.0.9', port: 5555 }, sockname: { host: '0.0.0.0', port: 7993 }, peercert: null });
    await handler.ok();
    expect(handler.methods).toEqual(['OnSocketCreated', 'OnReceivedBytes']);
    expect((handler.calls[1]!.req as HandlerRequests['OnReceivedBytes']).bytes.toString()).toBe('ab');
  });

  it('keeps datagrams apart (one OnReceivedBytes per datagram)', async () => {
    const { handler, ch } = setup({ stream: false });
    ch.input(Buffer.from('a'));
    ch.input(Buffer.from('b'));
    await handler.ok();
    await handler.ok();
    expect(handler.calls.slice(1).map((c) => (c.req as HandlerRequests['OnReceivedBytes']).bytes.toString())).toEqual(['a', 'b']);
  });

  it('a failed call closes the socket, drops what was queued and sends OnSocketClosed naming the call', async () => {
    const { handler, ch, gone, socketClosed } = setup();
    await handler.ok();
    ch.input(Buffer.from('x'));
    ch.input(Buffer.from('y'));
    handler.calls[1]!.reject(new Error('UNAVAILABLE: down'));
    await flush();
    expect(socketClosed()).toBe(1);
    expect(handler.methods).toEqual(['OnSocketCreated', 'OnReceivedBytes', 'OnSocketClosed']);
    expect((handler.calls[2]!.req as HandlerRequests['OnSocketClosed']).reason).toBe('{error,{on_received_bytes,"UNAVAILABLE: down"}}');
    expect(ch.send(Buffer.from('z')).code).toBe('CONN_PROCESS_NOT_ALIVE');
    handler.calls[2]!.reject(new Error('UNAVAILABLE: down'));
    await flush();
    expect(gone).toEqual(['AAAAAAAAAAAAAAAA']);
  });

  it('queued events get CLOSE_FLUSH_MS after the socket closed, then OnSocketClosed goes anyway', async () => {
    const { handler, ch, clock, gone } = setup();
    ch.input(Buffer.from('x'));
    ch.socketClosed('tcp_closed', 'tcp_closed');
    expect(handler.methods).toEqual(['OnSocketCreated']);
    clock.advance(CLOSE_FLUSH_MS - 1);
    expect(gone).toEqual([]);
    clock.advance(1);
    expect(gone).toEqual(['AAAAAAAAAAAAAAAA']);
    expect(handler.methods).toEqual(['OnSocketCreated', 'OnSocketClosed']);
    expect((handler.calls[1]!.req as HandlerRequests['OnSocketClosed']).reason).toBe('tcp_closed');
  });

  it('merges stream chunks only up to 64 KiB per event, and closes a device whose queued bytes pass 4 MiB', async () => {
    const { handler, ch, socketClosed } = setup({ maxQueued: 1000 });
    const chunk = Buffer.alloc(40 * 1024, 1);
    ch.input(chunk);
    ch.input(chunk);
    await handler.ok();
    expect((handler.calls[1]!.req as HandlerRequests['OnReceivedBytes']).bytes.length).toBe(chunk.length);
    for (let i = 0; i < 110 && socketClosed() === 0; i++) ch.input(chunk);
    expect(socketClosed()).toBe(1);
  });

  it('too many queued events close the connection (handler too slow)', async () => {
    const { handler, ch, socketClosed } = setup({ stream: false, maxQueued: 3 });
    for (let i = 0; i < 4; i++) ch.input(Buffer.from([i]));
    expect(socketClosed()).toBe(1);
    await handler.ok();
    expect(handler.methods).toEqual(['OnSocketCreated', 'OnSocketClosed']);
    expect((handler.calls[1]!.req as HandlerRequests['OnSocketClosed']).reason).toBe('handler_backlog');
  });
});

describe('ExprotoChannel adapter operations', () => {
  it('Authenticate opens a clean session with proto_name/proto_ver; a second one is refused', async () => {
    const { ch, ctx } = setup();
    expect(await ch.authenticate(ci('dev1'), 'pw')).toEqual({ code: 'SUCCESS', message: '' });
    const s = ctx.sessions.get('dev1')!;
    expect(s.device).toMatchObject({ clientId: 'dev1', protoName: 'line', protoVer: '1', peerHost: '10.0.0.9', listener: 'tcp:default' });
    expect(s.opts).toMatchObject({ cleanStart: true, expiryInterval: 0 });
    expect(await ch.authenticate(ci('dev1'), 'pw')).toEqual({ code: 'PERMISSION_DENY', message: 'Duplicated authenticate command' });
  });

  it('a socket that closes while authentication is pending gets no session', async () => {
    let release: (v: { ok: true; superuser: false; username: null }) => void = () => {};
    const { ch, ctx } = setup({ ctx: { authenticate: () => new Promise((r) => (release = r)) } });
    const p = ch.authenticate(ci('dev2'), '');
    ch.socketClosed('tcp_closed', 'tcp_closed');
    release({ ok: true, superuser: false, username: null });
    expect(await p).toEqual({ code: 'PERMISSION_DENY', message: 'Client socket disconnected' });
    expect(ctx.sessions.has('dev2')).toBe(false);
  });

  it('a refused login leaves the connection anonymous: Publish is UNKNOWN and nothing is published', async () => {
    const { ch, ctx } = setup({ ctx: { authenticate: () => ({ ok: false, reason: 'not_authorized' }) } });
    expect(await ch.authenticate(ci('dev3'), 'x')).toEqual({ code: 'PERMISSION_DENY', message: 'not_authorized' });
    expect((await ch.publish('t', 0, Buffer.from('p'))).code).toBe('UNKNOWN');
    expect(ctx.published).toHaveLength(0);
    expect(ch.send(Buffer.from('still open')).code).toBe('SUCCESS');
  });

  it('a durable QoS 1 Publish answers only after the group commit', async () => {
    const { ch, ctx } = setup({ ctx: { durable: true } });
    await ch.authenticate(ci('dev4'), '');
    let answered = false;
    const p = ch.publish('t/1', 1, Buffer.from('v')).then((r) => {
      answered = true;
      return r;
    });
    await flush();
    expect(answered).toBe(false);
    expect(ctx.durableWaiting).toBe(1);
    ctx.commit();
    expect((await p).code).toBe('SUCCESS');
  });

  it('deliveries become one OnReceivedMessages batch while a call is in flight; QoS 1 is acknowledged at once', async () => {
    const { ch, ctx, handler } = setup();
    await handler.ok();
    await ch.authenticate(ci('dev5'), '');
    expect(ch.subscribe('cmd/#', 1).code).toBe('SUCCESS');
    ch.input(Buffer.from('busy'));
    ctx.mqttPublish('cmd/a', 'one', 1);
    ctx.mqttPublish('cmd/b', 'two', 0);
    expect(ctx.sessions.get('dev5')!.inflight.size).toBe(0);
    await handler.ok();
    const req = handler.calls[2]!.req as HandlerRequests['OnReceivedMessages'];
    expect(handler.calls[2]!.method).toBe('OnReceivedMessages');
    expect(req.messages.map((m) => [m.topic, m.payload.toString(), m.qos, m.from, m.node])).toEqual([
      ['cmd/a', 'one', 1, 'mqtt-client', 'outpost@127.0.0.1'],
      ['cmd/b', 'two', 0, 'mqtt-client', 'outpost@127.0.0.1'],
    ]);
    expect(req.messages[0]!.id).toMatch(/^[0-9A-F]{32}$/);
  });

  it('keepalive: silence for 1.5 x interval gives OnTimerTimeout, then OnSocketClosed{keepalive_timeout}', async () => {
    const { ch, clock, handler, socketClosed } = setup();
    await handler.ok();
    expect(ch.startTimer('KEEPALIVE', 2).code).toBe('SUCCESS');
    clock.advance(2000);
    ch.checkKeepalive(clock.now());
    ch.input(Buffer.from('ping'));
    clock.advance(2999);
    ch.checkKeepalive(clock.now());
    expect(socketClosed()).toBe(0);
    clock.advance(1);
    ch.checkKeepalive(clock.now());
    expect(socketClosed()).toBe(1);
    await handler.ok();
    await handler.ok();
    expect(handler.methods).toEqual(['OnSocketCreated', 'OnReceivedBytes', 'OnTimerTimeout', 'OnSocketClosed']);
    expect((handler.calls[3]!.req as HandlerRequests['OnSocketClosed']).reason).toBe('keepalive_timeout');
  });

  it('StartTimer refuses a zero interval and unknown timer types', () => {
    const { ch } = setup();
    expect(ch.startTimer('KEEPALIVE', 0).code).toBe('PARAMS_TYPE_ERROR');
    expect(ch.startTimer(7, 10).code).toBe('PARAMS_TYPE_ERROR');
  });

  it('UDP idle: goes without a keepalive, stays with one', () => {
    const a = setup({ stream: false });
    expect(a.ch.idle()).toBe(true);
    const b = setup({ stream: false });
    b.ch.startTimer('KEEPALIVE', 30);
    expect(b.ch.idle()).toBe(false);
  });

  it('a takeover by another connection of the same client id closes this one as discarded', async () => {
    const a = setup();
    await a.ch.authenticate(ci('same'), '');
    a.ch.kick('takenover');
    expect(a.socketClosed()).toBe(1);
    await a.handler.ok();
    expect(a.handler.methods).toEqual(['OnSocketCreated', 'OnSocketClosed']);
    expect((a.handler.calls[1]!.req as HandlerRequests['OnSocketClosed']).reason).toBe('discarded');
  });

  it('message ids are 32 upper-case hex digits', () => {
    expect(messageId(255)).toBe('000000000000000000000000000000FF');
  });
});
