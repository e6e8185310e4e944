// SIGHUP reload: validate first, keep the old config on error, apply ACL rules and bridges live
// without dropping connected clients.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const until = async (cond: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

function config(aclPath: string, upstream: number, egressFilter: string): string {
  return `
[authorization]
no_match = "deny"
[authorization.file]
path = "${aclPath}"

[bridges.up]
servers = ["127.0.0.1:${upstream}"]
proto_ver = "v4"
[[bridges.up.egress]]
filter = "${egressFilter}"
`;
}

describe('reload on SIGHUP', () => {
  let d: Daemon;
  let up: Mosquitto;
  let acl: string;
  beforeAll(async () => {
    up = await startMosquitto();
    d = await startDaemon({ config: '' });
    // Restart with the real config now that the data dir (for the ACL file) exists.
    acl = join(d.dataDir, 'acl.conf');
    writeFileSync(acl, '{allow, all, subscribe, ["#"]}.\n{allow, all, publish, ["a/#", "one/#"]}.\n');
    writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8') + config(acl, up.port, 'one/#'));
    await d.restart();
  });
  afterAll(async () => {
    await d?.stop();
    d?.cleanup();
    await up?.cleanup();
  });

  it('applies a changed ACL and bridge while clients stay connected, and keeps the old config when the new one is bad', async () => {
    const c = await mqtt.connectAsync(d.mqttUrl, { clientId: 'stays', protocolVersion: 5, reconnectPeriod: 0 });
    let closed = false;
    c.on('close', () => (closed = true));
    // MQTT.js also emits 'error' for a refused publish; the reason codes are checked below.
    c.on('error', () => {});
    const upSub = await mqtt.connectAsync(`mqtt://127.0.0.1:${up.port}`, { clientId: 'upstream-sub', reconnectPeriod: 0 });
    const upstream: string[] = [];
    upSub.on('message', (t) => upstream.push(t));
    await upSub.subscribeAsync('#', { qos: 1 });

    // Before: b/# is denied (v5 PUBACK 0x87), one/# goes upstream.
    const denied = await c.publishAsync('b/x', 'no', { qos: 1 }).then(
      () => 0,
      (err: { code?: number }) => err.code,
    );
    expect(denied).toBe(0x87);
    await c.publishAsync('one/x', '1', { qos: 1 });
    await until(() => upstream.includes('one/x'), 10_000, 'one/x upstream');

    // Change both, reload.
    writeFileSync(acl, '{allow, all, subscribe, ["#"]}.\n{allow, all, publish, ["a/#", "b/#", "one/#", "two/#"]}.\n');
    writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8').replace('filter = "one/#"', 'filter = "two/#"'));
    const before = d.logs().split('config_reloaded').length;
    process.kill(d.pid, 'SIGHUP');
    await until(() => d.logs().split('config_reloaded').length > before, 10_000, 'config_reloaded');

    const allowed = await c.publishAsync('b/x', 'yes', { qos: 1 });
    expect(allowed?.reasonCode ?? 0).toBeLessThan(0x80);
    await c.publishAsync('two/x', '2', { qos: 1 });
    await until(() => upstream.includes('two/x'), 10_000, 'two/x upstream after the bridge reload');
    await c.publishAsync('one/y', 'no longer bridged', { qos: 1 });

    // A bad config is refused and the running one stays.
    writeFileSync(d.configPath, readFileSync(d.configPath, 'utf8') + '\n[mqtt_typo]\nx = 1\n');
    process.kill(d.pid, 'SIGHUP');
    await until(() => /config_reload_rejected/.test(d.logs()), 10_000, 'config_reload_rejected');
    expect(d.logs()).toMatch(/mqtt_typo/);
    const still = await c.publishAsync('b/x', 'still', { qos: 1 });
    expect(still?.reasonCode ?? 0).toBeLessThan(0x80);

    await new Promise((r) => setTimeout(r, 300));
    expect(upstream).not.toContain('one/y');
    expect(closed).toBe(false);
    await c.endAsync();
    await upSub.endAsync();
  }, 45_000);
});
