// The harness end to end on small numbers: real brokers (mosquitto from Debian, aedes), forked load workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mosquittoConf, outpostToml, startBroker } from '../../../scripts/bench/brokers.mjs';
import { WorkerPool } from '../../../scripts/bench/lib/pool.mjs';
import { findScenario, SCENARIOS, type Scenario } from '../../../scripts/bench/scenarios.mjs';
import { parse } from 'smol-toml';

function scenario(name: string): Scenario {
  const s = findScenario(name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
}

const opts = { warmupMs: 200, durationMs: 500, window: 64, payload: 64, rate: 500, idleConns: 60, backlog: 600, backlogTimeoutMs: 20_000 };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('broker configs', () => {
  it('gives Outpost a loopback listener on an OS-chosen port, no HTTP API, with overrides replacing defaults', () => {
    const cfg = parse(outpostToml({ max_mqueue_len: 0 })) as { mqtt: Record<string, unknown>; api: Record<string, unknown> };
    expect(cfg.mqtt).toEqual({ port: 0, bind: '127.0.0.1', max_mqueue_len: 0 });
    expect(cfg.api).toEqual({ enable: false });
  });
  it('gives mosquitto a loopback listener, anonymous access and a 100,000-message queue', () => {
    const text = mosquittoConf(18831);
    expect(text).toContain('listener 18831 127.0.0.1');
    expect(text).toContain('allow_anonymous true');
    expect(text).toContain('max_queued_messages 100000');
  });
});

describe('scenario catalogue', () => {
  it('has unique names and marks what a broker cannot do as n/a', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(scenario('durable-full').supports('mosquitto')).toMatch(/durable/);
    expect(scenario('durable-full').supports('outpost')).toBeNull();
    expect(scenario('one2one-qos1-v5').supports('aedes')).toMatch(/MQTT 5/);
    expect(scenario('durable-full').brokerOptions?.('outpost').env).toEqual({ OUTPOST_STORE__SYNCHRONOUS: 'FULL' });
    expect(findScenario('nope')).toBeUndefined();
  });
});

describe.each(['mosquitto', 'aedes'])('scenarios against %s', (name) => {
  let pool: InstanceType<typeof WorkerPool>;
  beforeAll(() => {
    pool = new WorkerPool(2);
  });
  afterAll(() => pool.close());

  async function run(name_: string) {
    const broker = await startBroker(name);
    try {
      expect(broker.readyMs).toBeGreaterThan(0);
      expect(alive(broker.pid)).toBe(true);
      return await scenario(name_).run({ broker, pool, opts });
    } finally {
      await pool.reset();
      await broker.stop();
      expect(alive(broker.pid)).toBe(false);
    }
  }

  it('measures a QoS 1 flow: delivered rate and broker CPU per million', async () => {
    const r = await run('one2one-qos1');
    expect(r.rate).toBeGreaterThan(100);
    expect(r.publishRate).toBeGreaterThan(100);
    expect(r.cpuPerM).toBeGreaterThan(0);
    expect(r.droppedClients).toBe(0);
    expect(r.rssEndMiB).toBeGreaterThan(1);
  });

  it('measures latency percentiles at the offered rate', async () => {
    const r = await run('latency-qos1');
    expect(r.samples).toBeGreaterThan(100);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p99).toBeGreaterThanOrEqual(r.p50);
    // Pacing never runs ahead of the offered rate; catch-up at either edge of the window is at most one inflight window.
    expect(r.delivered).toBeLessThan(opts.rate + (2 * opts.window) / (opts.durationMs / 1000));
  });

  it('opens idle connections and reads RSS before and after', async () => {
    const r = await run('idle-conns');
    expect(r.connected).toBe(opts.idleConns);
    expect(r.connRate).toBeGreaterThan(0);
    expect(r.rssAfterKiB).toBeGreaterThan(0);
  });

  it('drains a persistent-session backlog completely after reconnect', async () => {
    const r = await run('backlog-qos1');
    expect(r.messages).toBe(opts.backlog);
    expect(r.fillRate).toBeGreaterThan(0);
    expect(r.drainSecs).toBeGreaterThan(0);
  });
});
