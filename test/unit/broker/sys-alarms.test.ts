// $SYS alarms: the retained activate message shows only an alarm that is still active (issue 15).
import { describe, expect, it } from 'vitest';
import { SysPublisher, type SysSink } from '../../../src/broker/sys.js';

function sink() {
  const retained = new Map<string, string>();
  const sent: { topic: string; name: string; activated: boolean }[] = [];
  const s: SysSink = {
    node: 'n1',
    version: 'v',
    startedAt: 0,
    now: () => 1,
    publishSys(topic, payload, retain) {
      const b = JSON.parse(payload.startsWith('{') ? payload : '{}') as { name?: string; activated?: boolean };
      if (b.name !== undefined) sent.push({ topic, name: b.name, activated: b.activated! });
      if (retain) retained.set(topic, payload);
    },
    setRetainedSys(topic, payload) {
      if (payload === null) retained.delete(topic);
      else retained.set(topic, payload);
    },
    statsForSys: () => ({}),
    metricsForSys: () => ({}),
  };
  const named = (topic: string): string | undefined => {
    const p = retained.get(topic);
    return p === undefined ? undefined : (JSON.parse(p) as { name: string }).name;
  };
  return { s, retained, sent, named };
}

const SETTINGS = { sys_msg_interval: 0, sys_heartbeat_interval: 0, client_connected: false, client_disconnected: false, client_subscribed: false, client_unsubscribed: false };
const ACT = '$SYS/brokers/n1/alarms/activate';
const DEACT = '$SYS/brokers/n1/alarms/deactivate';

describe('$SYS alarm retained messages', () => {
  it('clears the retained activate message when its alarm clears, without a new message to subscribers', () => {
    const k = sink();
    const sys = new SysPublisher(k.s, SETTINGS);
    sys.alarm('store_write_failing', true, { message: 'disk full' });
    expect(k.named(ACT)).toBe('store_write_failing');
    sys.alarm('store_write_failing', false, { message: 'ok again' });
    expect(k.retained.has(ACT)).toBe(false);
    expect(k.named(DEACT)).toBe('store_write_failing');
    expect(k.sent.map((m) => `${m.topic.split('/').at(-1)}:${m.name}`)).toEqual(['activate:store_write_failing', 'deactivate:store_write_failing']);
    expect(sys.active()).toEqual([]);
  });

  it('with two alarms, clearing the latest leaves the other one retained as active', () => {
    const k = sink();
    const sys = new SysPublisher(k.s, SETTINGS);
    sys.alarm('store_quarantined', true, {});
    sys.alarm('store_write_failing', true, {});
    sys.alarm('store_write_failing', false, {});
    expect(k.named(ACT)).toBe('store_quarantined');
    expect(sys.active()).toEqual(['store_quarantined']);
    // Re-raising an alarm clears its retained deactivation.
    sys.alarm('store_write_failing', true, {});
    expect(k.retained.has(DEACT)).toBe(false);
    expect(k.named(ACT)).toBe('store_write_failing');
  });

  it('a deactivation of an alarm that was not active leaves the retained activate message alone', () => {
    const k = sink();
    const sys = new SysPublisher(k.s, SETTINGS);
    sys.alarm('a', true, {});
    sys.alarm('b', false, {});
    expect(k.named(ACT)).toBe('a');
  });

  it('start() drops the previous run\'s retained alarms', () => {
    const k = sink();
    k.retained.set(ACT, JSON.stringify({ name: 'old' }));
    k.retained.set(DEACT, JSON.stringify({ name: 'old' }));
    new SysPublisher(k.s, SETTINGS).start();
    expect(k.retained.has(ACT)).toBe(false);
    expect(k.retained.has(DEACT)).toBe(false);
  });
});
