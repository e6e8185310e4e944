// Authentication and authorization through the real daemon: users seeded into the data dir's
// SQLite file (as the CLI would), CONNACK reason codes for v3.1.1 and v5 (bad password 0x04/0x86,
// not authorized 0x05/0x87, banned 0x05/0x8A), EMQX-imported hashes, and acl.conf decisions on
// PUBLISH/SUBSCRIBE (emqx-broker-behaviour.md §8 and checklist items 19-20).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAlgorithmSchema } from '../../src/auth/config.js';
import { BanList } from '../../src/auth/ban-list.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { seedAuth } from '../helpers/seed-users.js';
import { connectClient, tryConnect, uid, type TestClient } from '../helpers/mqtt-clients.js';

let d: Daemon;
const open: TestClient[] = [];

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-auth-'));
  await seedAuth(dataDir, async (users, db) => {
    await users.add('alice', 'secret');
    await users.add('root', 'toor', { superuser: true });
    await users.add('bob', 'b0b', { algorithm: hashAlgorithmSchema.parse({ name: 'bcrypt', salt_rounds: 5 }) });
    // An EMQX export (sha256, salt suffix) of user "emqx-user" with password "public".
    await users.importUsers(
      'user_id,password_hash,salt,is_superuser\nemqx-user,f11c582bc8ca10cf75ffc80e773100d84fec12a81d264905c69169bac9c27d0a,e2dfb4ee6b5a0d69f1b0c0b3b4e1d1a1,false\n',
      { format: 'csv', type: 'hash' },
    );
    new BanList(db, () => Date.now()).add({ as: 'username', who: 'mallory', reason: 'test' });
  });
  writeFileSync(
    join(dataDir, 'acl.conf'),
    ['{allow, all, publish, ["devices/${clientid}/#"]}.', '{allow, all, subscribe, ["devices/${clientid}/#", "public/#"]}.', '{deny, all}.', ''].join('\n'),
  );
  d = await startDaemon({
    dataDir,
    config: `
[authorization]
no_match = "deny"
[authorization.file]
path = "acl.conf"
`,
  });
});

afterAll(async () => {
  for (const c of open) await c.end(true);
  await d?.stop();
  d?.cleanup();
});

type Creds = { username?: string; password?: string };
async function code(version: 4 | 5, creds: Creds): Promise<number> {
  const r = await tryConnect(d.mqttUrl, { protocolVersion: version, clientId: uid('a'), ...creds }, 5000);
  r.client.end(true);
  if (r.connack) return version === 5 ? (r.connack.reasonCode ?? 0) : (r.connack.returnCode ?? 0);
  const c = r.error?.code;
  if (typeof c !== 'number') throw new Error(`no CONNACK: ${String(r.error?.message)}`);
  return c;
}

describe('CONNACK reason codes for authentication results', () => {
  const cases: { name: string; creds: Creds; v4: number; v5: number }[] = [
    { name: 'right password', creds: { username: 'alice', password: 'secret' }, v4: 0, v5: 0 },
    { name: 'wrong password -> bad username or password', creds: { username: 'alice', password: 'nope' }, v4: 0x04, v5: 0x86 },
    { name: 'unknown user -> not authorized (EMQX: chain exhausted)', creds: { username: 'ghost', password: 'x' }, v4: 0x05, v5: 0x87 },
    { name: 'no credentials once users exist -> not authorized', creds: {}, v4: 0x05, v5: 0x87 },
    { name: 'banned username -> banned', creds: { username: 'mallory', password: 'x' }, v4: 0x05, v5: 0x8a },
    { name: 'bcrypt user', creds: { username: 'bob', password: 'b0b' }, v4: 0, v5: 0 },
    { name: 'EMQX-imported sha256+suffix user', creds: { username: 'emqx-user', password: 'public' }, v4: 0, v5: 0 },
    { name: 'EMQX-imported user, wrong password', creds: { username: 'emqx-user', password: 'Public' }, v4: 0x04, v5: 0x86 },
  ];
  for (const c of cases) {
    it(`${c.name}: v3.1.1 ${c.v4}, v5 0x${c.v5.toString(16)}`, async () => {
      expect(await code(4, c.creds)).toBe(c.v4);
      expect(await code(5, c.creds)).toBe(c.v5);
    });
  }

  it('each failure is logged with the client and the reason', () => {
    expect(d.logs()).toMatch(/client_authentication_failed/);
    expect(d.logs()).toMatch(/"reason":"bad_username_or_password"/);
  });
});

describe('acl.conf through the daemon', () => {
  it('placeholder rule: c1 may publish devices/c1/x but not devices/c2/x (v5 PUBACK 0x87)', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: 'c1', username: 'alice', password: 'secret' });
    open.push(c);
    const ok = (await c.pub('devices/c1/x', 'a', { qos: 1 })) as { reasonCode?: number } | undefined;
    expect(ok?.reasonCode ?? 0).toBe(0);
    const denied = await c.pub('devices/c2/x', 'a', { qos: 1 }).then(
      (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
      (e: unknown) => (e as { code?: number }).code ?? -1,
    );
    expect(denied).toBe(0x87);
  });

  it('subscribe: own topics granted, others and $SYS refused (SUBACK 0x87), superuser bypasses', async () => {
    const c = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: 'c2', username: 'alice', password: 'secret' });
    open.push(c);
    // MQTT.js rejects when any filter is refused; the SUBACK rides on the error.
    const suback = await c.c.subscribeAsync(['devices/c2/#', 'devices/c3/#', '$SYS/#', 'public/x'], { qos: 1 }).then(
      () => null,
      (e: unknown) => (e as { packet?: { granted?: number[] } }).packet ?? null,
    );
    expect(suback?.granted).toEqual([1, 0x87, 0x87, 1]);
    const root = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: uid('r'), username: 'root', password: 'toor' });
    open.push(root);
    const g2 = await root.c.subscribeAsync(['devices/c3/#', '#'], { qos: 0 });
    expect(g2.map((g) => g.qos)).toEqual([0, 0]);
  });
});
