// A store that never bricks the box: a damaged database is moved aside, the daemon starts with a
// fresh one, serves clients, and says so (log line, quarantined file kept, $SYS alarm).
import { openSync, readdirSync, readFileSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

async function seed(d: Daemon): Promise<void> {
  const c = await mqtt.connectAsync(d.mqttUrl, { clientId: 'seed', clean: false, reconnectPeriod: 0 });
  await c.subscribeAsync('seed/#', { qos: 1 });
  for (let i = 0; i < 60; i++) await c.publishAsync(`seed/r${i}`, Buffer.alloc(512, i), { qos: 1, retain: true });
  await c.endAsync();
}

async function servesPubSub(d: Daemon): Promise<void> {
  const sub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'after-sub', reconnectPeriod: 0 });
  await sub.subscribeAsync('ok/t', { qos: 1 });
  const got = new Promise<string>((res) => sub.once('message', (_t, p) => res(p.toString())));
  const pub = await mqtt.connectAsync(d.mqttUrl, { clientId: 'after-pub', reconnectPeriod: 0 });
  await pub.publishAsync('ok/t', 'alive', { qos: 1 });
  expect(await got).toBe('alive');
  await pub.endAsync();
  await sub.endAsync();
}

describe('corrupt database on start', () => {
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d?.cleanup();
    d = undefined;
  });

  for (const damage of ['truncate', 'truncate mid-page', 'bitflip'] as const) {
    it(`quarantines a database damaged by ${damage} and keeps serving`, async () => {
      d = await startDaemon({ config: '[sys_topics]\nsys_msg_interval = 0\n' });
      await seed(d);
      expect(await d.stop()).toBe(0);
      const db = join(d.dataDir, 'outpost.db');
      const size = statSync(db).size;
      expect(size).toBeGreaterThan(8192);
      if (damage === 'truncate') truncateSync(db, Math.floor(size / 3));
      else if (damage === 'truncate mid-page') {
        // A write torn inside a page: the file ends halfway through the middle page (page size from
        // the header, bytes 16-17, big-endian; 1 means 65536).
        const header = readFileSync(db).subarray(16, 18);
        const pageSize = header.readUInt16BE(0) === 1 ? 65536 : header.readUInt16BE(0);
        const pages = size / pageSize;
        expect(Number.isInteger(pages) && pages >= 3).toBe(true);
        const cut = Math.floor(pages / 2) * pageSize + pageSize / 2;
        truncateSync(db, cut);
        expect(statSync(db).size % pageSize).toBe(pageSize / 2);
      } else {
        // Flip bits in the header and across the first pages.
        const fd = openSync(db, 'r+');
        const junk = Buffer.alloc(64, 0xa5);
        for (const off of [0, 100, 1024, 4096, 8192]) writeSync(fd, junk, 0, junk.length, off);
        closeSync(fd);
      }
      await d.restart();
      const logs = d.logs();
      expect(logs).toMatch(/store_quarantined/);
      const moved = readdirSync(d.dataDir).filter((f) => f.startsWith('outpost.db.corrupt-') && !f.endsWith('-wal') && !f.endsWith('-shm'));
      expect(moved).toHaveLength(1);
      // The quarantined bytes are kept for inspection.
      expect(readFileSync(join(d.dataDir, moved[0]!)).length).toBeGreaterThan(0);
      await servesPubSub(d);
    }, 30_000);
  }

  it('raises a $SYS alarm for the quarantined store', async () => {
    d = await startDaemon();
    await seed(d);
    await d.stop();
    truncateSync(join(d.dataDir, 'outpost.db'), 100);
    await d.restart();
    expect(d.logs()).toMatch(/"movedTo":"[^"]*outpost\.db\.corrupt-/);
    const mon = await mqtt.connectAsync(d.mqttUrl, { clientId: 'monitor', reconnectPeriod: 0 });
    const alarm = new Promise<{ name: string; details: { movedTo: string } }>((res) => mon.once('message', (_t, p) => res(JSON.parse(p.toString()))));
    await mon.subscribeAsync('$SYS/brokers/+/alarms/activate');
    const a = await alarm;
    expect(a.name).toBe('store_quarantined');
    expect(a.details.movedTo).toMatch(/outpost\.db\.corrupt-/);
    await mon.endAsync();
    await servesPubSub(d);
  }, 30_000);
});
