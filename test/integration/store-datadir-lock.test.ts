// One store per data dir (issue 15): a second daemon on the same --data-dir refuses to start, naming the
// dir and the first daemon's pid, and leaves the first alone; the lock dies with its process (kill -9).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN, startDaemon, type Daemon } from '../helpers/daemon.js';

async function roundTrip(d: Daemon, tag: string): Promise<void> {
  const sub = await mqtt.connectAsync(d.mqttUrl, { clientId: `lock-sub-${tag}`, reconnectPeriod: 0 });
  await sub.subscribeAsync('lock/t', { qos: 1 });
  const got = new Promise<string>((res) => sub.once('message', (_t, p) => res(p.toString())));
  const pub = await mqtt.connectAsync(d.mqttUrl, { clientId: `lock-pub-${tag}`, reconnectPeriod: 0 });
  await pub.publishAsync('lock/t', tag, { qos: 1 });
  expect(await got).toBe(tag);
  await pub.endAsync();
  await sub.endAsync();
}

/** Runs a second daemon on the dir in the foreground; resolves with its exit code and output. */
function runSecond(d: Daemon): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, '--config', d.configPath, '--data-dir', d.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`second daemon still running after 15 s:\n${out}`));
    }, 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

describe('data dir lock', () => {
  const daemons: Daemon[] = [];
  afterEach(async () => {
    for (const d of daemons) await d.stop();
    daemons[0]?.cleanup();
    daemons.length = 0;
  });

  it('refuses a second daemon on the same data dir, keeps the first serving, and is released by kill -9', async () => {
    const first = await startDaemon();
    daemons.push(first);
    const keyFile = join(first.dataDir, 'api-local.key');
    expect(existsSync(keyFile)).toBe(true);
    const key = readFileSync(keyFile, 'utf8');

    const second = await runSecond(first);
    expect(second.code).not.toBe(0);
    expect(second.code).not.toBeNull();
    const lines = second.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(first.dataDir);
    expect(lines[0]).toContain(`pid ${first.pid}`);

    // The refused daemon touched nothing of the first one's.
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(JSON.parse(readFileSync(join(first.dataDir, 'runtime.json'), 'utf8')).pid).toBe(first.pid);
    await roundTrip(first, 'first');

    // The OS drops the lock with the process: no stale lock after a crash.
    await first.kill();
    const third = await startDaemon({ dataDir: first.dataDir });
    daemons.push(third);
    await roundTrip(third, 'third');
    expect(readFileSync(join(first.dataDir, 'outpost.pid'), 'utf8').trim()).toBe(String(third.pid));
  }, 60_000);
});
