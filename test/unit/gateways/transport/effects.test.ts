// The shared effect runner: timers, authentication, durability and crash fencing behave the same
// for every gateway channel.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuthOutcome } from '../../../../gateways/gateway.js';
import { ChannelRunner, type CoreEffect } from '../../../../gateways/transport/effects.js';
import { FakeGatewayContext } from '../../../helpers/fake-gateway-context.js';

type Eff = CoreEffect<'a' | 'b'> | { type: 'send'; text: string };

function rig(opts: { localAuth?: 'same-turn' | 'next-turn'; authenticate?: () => AuthOutcome | Promise<AuthOutcome> } = {}) {
  const ctx = new FakeGatewayContext({ authenticate: opts.authenticate });
  const sent: string[] = [];
  const crashes: unknown[] = [];
  let settled = 0;
  const inputs: string[] = [];
  const fx = new ChannelRunner<'a' | 'b', Eff>({
    clock: ctx.clock,
    ctx,
    log: pino({ level: 'silent' }),
    apply: (e) => {
      if (e.type === 'send') sent.push(e.text);
    },
    settled: () => void settled++,
    crashed: (err) => void crashes.push(err),
    localAuth: opts.localAuth,
  });
  fx.bind({
    handleTimer: (name) => {
      inputs.push(`timer:${name}`);
      return [{ type: 'send', text: `fired ${name}` }];
    },
    handleAuthResult: (o) => {
      inputs.push(`auth:${o.ok}`);
      return [];
    },
    handleDurable: (id) => {
      inputs.push(`durable:${id}`);
      return [{ type: 'send', text: `ack ${id}` }];
    },
  });
  return { ctx, fx, sent, crashes, inputs, settled: () => settled };
}

describe('ChannelRunner', () => {
  it('runs core and gateway effects in order; a named timer set twice fires once, at the later time', () => {
    const r = rig();
    r.fx.input(() => [{ type: 'send', text: 'one' }, { type: 'set-timer', name: 'a', ms: 100 }, { type: 'set-timer', name: 'a', ms: 300 }, { type: 'send', text: 'two' }]);
    expect(r.sent).toEqual(['one', 'two']);
    expect(r.settled()).toBe(1);
    r.ctx.clock.advance(299);
    expect(r.inputs).toEqual([]);
    r.ctx.clock.advance(1);
    expect(r.inputs).toEqual(['timer:a']);
    expect(r.sent).toEqual(['one', 'two', 'fired a']);
    expect(r.fx.hasTimer('a')).toBe(false);
  });

  it('cancels a timer by name and leaves the others', () => {
    const r = rig();
    r.fx.setTimer('a', 10);
    r.fx.setTimer('b', 10);
    r.fx.cancelTimer('a');
    r.ctx.clock.advance(10);
    expect(r.inputs).toEqual(['timer:b']);
  });

  it('feeds a local authentication answer in the same turn, or the next one when asked', async () => {
    const same = rig();
    same.fx.authenticate({ clientId: 'c', username: null, password: null, peerHost: '127.0.0.1', peerPort: 1, listener: 'udp:default' });
    expect(same.inputs).toEqual(['auth:true']);
    const next = rig({ localAuth: 'next-turn' });
    next.fx.authenticate({ clientId: 'c', username: null, password: null, peerHost: '127.0.0.1', peerPort: 1, listener: 'udp:default' });
    expect(next.inputs).toEqual([]);
    await Promise.resolve();
    expect(next.inputs).toEqual(['auth:true']);
  });

  it('turns a failing authentication backend into server_unavailable', async () => {
    const r = rig({ authenticate: () => Promise.reject(new Error('backend down')) });
    const outcomes: AuthOutcome[] = [];
    r.fx.bind({ handleTimer: () => [], handleDurable: () => [], handleAuthResult: (o) => void outcomes.push(o) });
    r.fx.authenticate({ clientId: 'c', username: null, password: null, peerHost: '127.0.0.1', peerPort: 1, listener: 'udp:default' });
    await new Promise((res) => setImmediate(res));
    expect(outcomes).toEqual([{ ok: false, reason: 'server_unavailable' }]);
  });

  it('answers await-durable after the group commit, not before', () => {
    const r = rig();
    r.fx.input(() => [{ type: 'await-durable', id: 7 }]);
    expect(r.sent).toEqual([]);
    r.ctx.commit();
    expect(r.sent).toEqual(['ack 7']);
  });

  it('fences a crashing input: the owner hears of it, timers stop, later inputs are dropped', () => {
    const r = rig();
    r.fx.setTimer('a', 10);
    r.fx.input(() => {
      throw new Error('defect');
    });
    expect(r.crashes).toHaveLength(1);
    expect(r.fx.disposed).toBe(true);
    expect(r.ctx.clock.pending).toBe(0);
    r.ctx.clock.advance(100);
    r.fx.input(() => [{ type: 'send', text: 'late' }]);
    expect(r.sent).toEqual([]);
  });

  it('drops a durability answer that arrives after dispose()', () => {
    const r = rig();
    r.fx.awaitDurable(1);
    r.fx.dispose();
    r.ctx.commit();
    expect(r.inputs).toEqual([]);
  });
});
