// While the store cannot write (issue 15; a real tmpfs filled to ENOSPC, we run as root): a new
// persistent session is refused with CONNACK 0x89 Server busy (v3.1.1: return code 3 Server
// unavailable) instead of being accepted with state it could not keep; clean sessions and QoS 0
// keep working. When the store_write_failing alarm clears, the retained activate message goes with
// it, so monitoring that subscribes later sees no stale active alarm.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectFrame, props, u32, Wires } from '../conformance/wire.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes zeros until ENOSPC (bounded: big chunks, then ever smaller ones). */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (let size = 64 * 1024; size >= 1; size = Math.floor(size / 2)) {
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < 1024; i++) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function retainedOn(url: string, topic: string, ms = 600): Promise<string[]> {
  const c = await mqtt.connectAsync(url, { clientId: `late-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 0 });
  const got: string[] = [];
  c.on('message', (_t, p, pk) => {
    if (pk.retain) got.push(p.toString());
  });
  await c.subscribeAsync(topic, { qos: 0 });
  await sleep(ms);
  await c.endAsync();
  return got;
}

describe('store not writable', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'outpost-sf-'));
  let mounted = false;
  let d: Daemon | undefined;
  let wires: Wires | undefined;

  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
    mounted = true;
  });

  afterAll(async () => {
    wires?.closeAll();
    await d?.stop();
    if (mounted) {
      try {
        execFileSync('umount', [mnt]);
      } catch {
        execFileSync('umount', ['-l', mnt]);
      }
    }
    rmdirSync(mnt);
  });

  it('refuses new persistent sessions (0x89 / rc 3), serves clean ones, and clears the retained alarm on recovery', async () => {
    d = await startDaemon({ dataDir: mnt });
    const daemon = d;
    wires = new Wires(() => daemon.mqttPort);
    const keeper = await mqtt.connectAsync(d.mqttUrl, { clientId: 'sf-keeper', clean: false, reconnectPeriod: 0 });
    await keeper.subscribeAsync('sf/t', { qos: 1 });
    await keeper.endAsync();

    const filler = join(mnt, 'filler');
    fill(filler);
    const pub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'sf-pub', reconnectPeriod: 0 });
    let acked = false;
    pub.publish('sf/t', Buffer.alloc(16 * 1024, 1), { qos: 1 }, (err) => {
      if (!err) acked = true;
    });
    const until = Date.now() + 10_000;
    while (!/store_write_failing/.test(d.logs()) && Date.now() < until) await sleep(50);
    expect(d.logs()).toMatch(/store_write_failing/);
    expect((await retainedOn(d.mqttUrl, '$SYS/brokers/+/alarms/activate')).map((p) => (JSON.parse(p) as { name: string }).name)).toEqual(['store_write_failing']);

    // v5, Clean Start 0 and Session Expiry Interval 300: CONNACK 0x89 Server busy, then closed.
    const v5 = wires.open();
    await v5.send(connectFrame({ clientId: 'sf-new-5', flags: 0x00, properties: props([0x11], u32(300)) }));
    const ack5 = await v5.next();
    expect(ack5?.[0]).toBe(0x20);
    expect(ack5?.[3]).toBe(0x89);
    expect(await v5.closedWithin()).toBe(true);
    // v5, Clean Start 1 but Session Expiry Interval > 0: the session would outlive the connection too.
    const v5e = wires.open();
    await v5e.send(connectFrame({ clientId: 'sf-new-5e', flags: 0x02, properties: props([0x11], u32(60)) }));
    expect((await v5e.next())?.[3]).toBe(0x89);
    // v3.1.1, Clean Session 0: return code 3 Server unavailable.
    const v4 = wires.open();
    await v4.send(connectFrame({ level: 4, clientId: 'sf-new-4', flags: 0x00 }));
    expect((await v4.next())?.toString('hex')).toBe('20020003');
    expect(await v4.closedWithin()).toBe(true);
    // A resumed persistent session is refused too: its state could not be kept either.
    const resume = wires.open();
    await resume.send(connectFrame({ level: 4, clientId: 'sf-keeper', flags: 0x00 }));
    expect((await resume.next())?.toString('hex')).toBe('20020003');
    expect(d.logs()).toMatch(/persistent session refused/);

    // Clean sessions and QoS 0 keep working.
    const a = await mqtt.connectAsync(d.mqttUrl, { clientId: 'sf-clean-a', clean: true, protocolVersion: 5, reconnectPeriod: 0 });
    await a.subscribeAsync('sf/live', { qos: 0 });
    const got = new Promise<string>((res) => a.once('message', (_t, p) => res(p.toString())));
    await pub.publishAsync('sf/live', 'qos0 still flows', { qos: 0 });
    expect(await got).toBe('qos0 still flows');
    await a.endAsync();
    expect(acked).toBe(false);

    rmSync(filler);
    const back = Date.now() + 20_000;
    while (!acked && Date.now() < back) await sleep(50);
    expect(acked).toBe(true);
    while (!/store_commit_recovered/.test(d.logs()) && Date.now() < back) await sleep(50);
    expect(d.logs()).toMatch(/store_commit_recovered/);
    await sleep(200);
    // No stale active alarm for a late subscriber; the deactivation is what stays retained.
    expect(await retainedOn(d.mqttUrl, '$SYS/brokers/+/alarms/activate')).toEqual([]);
    expect((await retainedOn(d.mqttUrl, '$SYS/brokers/+/alarms/deactivate')).map((p) => JSON.parse(p) as { name: string; activated: boolean })).toMatchObject([
      { name: 'store_write_failing', activated: false },
    ]);
    // And persistent sessions are accepted again.
    const again = wires.open();
    await again.send(connectFrame({ level: 4, clientId: 'sf-keeper', flags: 0x00 }));
    expect((await again.next())?.toString('hex')).toBe('20020100');
    await pub.endAsync();
  }, 90_000);
});
