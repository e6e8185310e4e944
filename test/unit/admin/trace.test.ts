// Trace service: matching by client, topic filter and address; time boxes; idle cost.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { MAX_TRACE_BYTES, TraceService } from '../../../src/admin/trace.js';
import { client, FakeBroker } from './fake-broker.js';

let dir: string;
let broker: FakeBroker;
let svc: TraceService;
let now: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-trace-'));
  broker = new FakeBroker();
  now = Date.now();
  svc = new TraceService({ dir, log: pino({ level: 'silent' }), now: () => now });
  svc.attach(broker);
});
afterEach(async () => {
  await svc.close();
  broker.store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Timers here are real (the service's clock is the fake one), so poll with a bound. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pub = (topic: string, from: string) => broker.publish(createMessage({ topic, payload: Buffer.from('p'), qos: 0, retain: false, from, now }));

describe('TraceService', () => {
  it('hooks the publish path only while a trace runs', async () => {
    expect(broker.interceptors).toHaveLength(0);
    svc.start({ name: 'a', type: 'topic', filter: 'x/#' });
    expect(broker.interceptors).toHaveLength(1);
    expect(svc.active).toBe(true);
    svc.stop('a');
    expect(broker.interceptors).toHaveLength(0);
    expect(svc.active).toBe(false);
  });

  it('writes matching events per topic filter and per peer address', async () => {
    svc.start({ name: 'topic', type: 'topic', filter: 'x/+' });
    svc.start({ name: 'ip', type: 'ip_address', filter: '10.0.0.9' });
    broker.addClient(client('far', { peerHost: '10.0.0.9' }));
    pub('x/1', 'far');
    pub('y/1', 'far');
    pub('x/2', 'other');
    svc.record({ clientId: 'other', topic: 'x/3' }, 'custom_event', { reason: 'why' });
    await svc.close();
    const topicLog = readFileSync(join(dir, 'topic.log'), 'utf8');
    expect(topicLog.match(/topic: x\/\d/g)).toEqual(['topic: x/1', 'topic: x/2', 'topic: x/3']);
    expect(topicLog).toMatch(/other msg: custom_event, topic: x\/3, reason: why/);
    const ipLog = readFileSync(join(dir, 'ip.log'), 'utf8');
    expect(ipLog).toMatch(/far@10\.0\.0\.9 msg: client_connected/);
    expect(ipLog.match(/topic: \S+/g)).toEqual(['topic: x/1,', 'topic: y/1,']);
  });

  it('stops by itself at end_at and waits for start_at', async () => {
    svc.start({ name: 'soon', type: 'clientid', filter: 'c', startAt: now + 100, endAt: now + 150 });
    expect(svc.get('soon')!.status).toBe('waiting');
    expect(svc.active).toBe(false);
    now += 100;
    await until(() => svc.get('soon')!.status === 'running', 'running');
    now += 60;
    await until(() => svc.get('soon')!.status === 'stopped', 'stopped');
    expect(broker.interceptors).toHaveLength(0);
  });

  it('stops itself at the size cap so a busy trace cannot fill the disk', async () => {
    svc.start({ name: 'big', type: 'topic', filter: '#' });
    const fields = { blob: 'x'.repeat(4000) };
    // Bounded loop; pauses let the file stream drain so lines are written, not dropped as backlog.
    for (let i = 0; i < (2 * MAX_TRACE_BYTES) / 4000 && svc.active; i++) {
      svc.record({ topic: 'a/b' }, 'bulk', fields);
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(svc.get('big')!.status).toBe('stopped');
    await svc.close();
    const text = readFileSync(join(dir, 'big.log'), 'utf8');
    expect(text.length).toBeLessThanOrEqual(MAX_TRACE_BYTES + 200);
    expect(text).toMatch(/msg: trace_stopped, reason: max_size_reached/);
  });
});
