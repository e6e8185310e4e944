import { describe, expect, it } from 'vitest';
import { emptyCounters, RateMeter, toEmqxMetrics, type BridgeStatus } from '../../../src/bridge/status.js';

describe('bridge status', () => {
  it('RateMeter: per-second rate, 5-minute average and maximum from a counter', () => {
    const r = new RateMeter();
    r.sample(0, 1_000);
    r.sample(100, 2_000);
    expect(r.current).toBe(100);
    r.sample(150, 3_000);
    expect(r.current).toBe(50);
    expect(r.max).toBe(100);
    expect(r.last5m).toBeGreaterThan(0);
    expect(r.last5m).toBeLessThan(2);
    r.sample(150, 3_500);
    expect(r.current).toBe(50);
  });

  it('maps to the EMQX action metrics shape', () => {
    const s: BridgeStatus = {
      name: 'up',
      enable: true,
      status: 'connected',
      healthy: true,
      server: 'h:1',
      clientId: 'c',
      lastError: null,
      lastErrorCode: null,
      connectedAt: 1,
      lastAckAt: 1,
      queued: 3,
      queuedBytes: 300,
      inflight: 2,
      replayLagMs: 0,
      oldestQueuedAgeMs: 0,
      counters: { ...emptyCounters(), matched: 10, success: 5, dropped: 3, droppedBy: { queue_full: 1, expired: 1, too_large: 1 } },
      rates: { current: 1.234, last5m: 0.5, max: 9 },
    };
    const m = toEmqxMetrics(s, 'outpost@127.0.0.1');
    expect(m.metrics).toMatchObject({ matched: 10, success: 5, dropped: 3, 'dropped.queue_full': 1, 'dropped.expired': 1, 'dropped.other': 1, queuing: 3, inflight: 2, rate: 1.23, rate_max: 9 });
    expect(m.node_metrics).toEqual([{ node: 'outpost@127.0.0.1', metrics: m.metrics }]);
  });
});
