// A full disk (issue 15): a QoS 1 PUBLISH bound for a persistent session is not acknowledged while the
// store cannot write it; the log and a $SYS alarm say why; once space returns the PUBACK goes out and
// the message reaches the subscriber. The data dir is a real 8 MiB tmpfs filled to ENOSPC (we run as root).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

interface Alarm {
  name: string;
  activated: boolean;
  details: { outOfSpace?: boolean; code?: string };
}

/** Writes zeros until the file system says ENOSPC, big chunks then ever smaller ones; returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  let n = 0;
  try {
    // Bounded: 8 MiB takes ~128 chunks of 64 KiB, then at most 64 writes per smaller size.
    for (let size = 64 * 1024; size >= 1; size = Math.floor(size / 2)) {
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < 1024; i++) {
        try {
          n += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
    return n;
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('full disk', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'outpost-full-'));
  let mounted = false;
  let d: Daemon | undefined;

  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
    mounted = true;
  });

  afterAll(async () => {
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

  it('holds the PUBACK with a log line and an alarm while the disk is full, and delivers once space returns', async () => {
    d = await startDaemon({ dataDir: mnt });
    const sub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'fd-sub', clean: false, reconnectPeriod: 0 });
    await sub.subscribeAsync('fd/t', { qos: 1 });
    await sub.endAsync();

    const mon = await mqtt.connectAsync(d.mqttUrl, { clientId: 'fd-mon', reconnectPeriod: 0 });
    const alarms: Alarm[] = [];
    mon.on('message', (_t, p) => {
      const a = JSON.parse(p.toString()) as Alarm;
      if (a.name === 'store_write_failing') alarms.push(a);
    });
    await mon.subscribeAsync('$SYS/brokers/+/alarms/+');
    const pub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'fd-pub', reconnectPeriod: 0 });

    const filler = join(mnt, 'filler');
    expect(fill(filler)).toBeGreaterThan(1024 * 1024);

    let acked = false;
    pub.publish('fd/t', Buffer.alloc(16 * 1024, 7), { qos: 1 }, (err) => {
      if (!err) acked = true;
    });
    // The store must see the failure (and say so) and the ack must stay held meanwhile.
    const until = Date.now() + 10_000;
    while (!/store_write_failing/.test(d.logs()) && Date.now() < until) await sleep(50);
    expect(d.logs()).toMatch(/store_write_failing: disk full/);
    expect(d.logs()).toMatch(/"code":"SQLITE_FULL"/);
    while (alarms.length === 0 && Date.now() < until) await sleep(50);
    expect(alarms[0]).toMatchObject({ name: 'store_write_failing', activated: true, details: { outOfSpace: true, code: 'SQLITE_FULL' } });
    await sleep(1500);
    expect(acked).toBe(false);

    rmSync(filler);
    const back = Date.now() + 20_000;
    while (!acked && Date.now() < back) await sleep(50);
    expect(acked).toBe(true);
    expect(d.logs()).toMatch(/store_commit_recovered/);
    while (!alarms.some((a) => !a.activated) && Date.now() < back) await sleep(50);
    expect(alarms.find((a) => !a.activated)).toMatchObject({ name: 'store_write_failing', activated: false });
    await pub.endAsync();
    await mon.endAsync();

    // Durable for real: the message survives a restart and reaches the subscriber.
    await d.restart();
    // The listener goes on before CONNACK: the queued message follows it at once.
    const again = mqtt.connect(d.mqttUrl, { clientId: 'fd-sub', clean: false, reconnectPeriod: 0 });
    const got = await new Promise<Buffer>((res, rej) => {
      const t = setTimeout(() => rej(new Error('queued message not delivered')), 10_000);
      again.once('message', (_t, p) => {
        clearTimeout(t);
        res(p);
      });
    });
    expect(got.length).toBe(16 * 1024);
    expect(got[0]).toBe(7);
    await again.endAsync();
  }, 90_000);
});
