// Users and bans managed through the HTTP API and outpostctl take effect on real MQTT clients
// (src/broker/SPEC.md §7, §8, checklist 18). Its own daemon: once a user
// exists, anonymous clients are refused, which would disturb other suites.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { connectClient, uid, type TestClient } from '../helpers/mqtt-clients.js';
import { outpostctl, type CtlRun } from '../helpers/outpostctl.js';

let d: Daemon;
let base: string;
const clients: TestClient[] = [];
const USERS = '/api/v5/authentication/password_based:built_in_database/users';

beforeAll(async () => {
  d = await startDaemon({ config: '[api]\nport = 0\n' });
  const port = d.ports['api:http'];
  if (!port) throw new Error(`runtime.json has no api:http port: ${JSON.stringify(d.ports)}`);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of clients) await c.end(true).catch(() => undefined);
  await d?.stop();
  d?.cleanup();
});

/** outpostctl finds the daemon and its local key through --data-dir. */
const ctl = (...args: string[]): Promise<CtlRun> => outpostctl(['--data-dir', d.dataDir, ...args]);

async function connect(opts: Parameters<typeof connectClient>[1]): Promise<TestClient> {
  const c = await connectClient(d.mqttUrl, { clientId: uid('acc'), ...opts });
  clients.push(c);
  return c;
}

describe('users and bans through the API and outpostctl', () => {
  it('a user added with outpostctl can connect; a wrong password is refused (0x86)', async () => {
    const add = await ctl('users', 'add', 'dev1', '--password', 'dev1-secret');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe('ok\n');
    const list = await ctl('users', 'list');
    expect(list.stdout).toMatch(/^USER_ID\s+SUPERUSER\ndev1\s+false\n$/);
    const ok = await connect({ username: 'dev1', password: 'dev1-secret', protocolVersion: 5 });
    expect(ok.connack.reasonCode ?? 0).toBe(0);
    await expect(connect({ username: 'dev1', password: 'wrong', protocolVersion: 5 })).rejects.toThrow(/Bad User Name or Password|134|0x86/i);
  });

  it('the users API creates, changes and removes users the broker then honours', async () => {
    const auth = { authorization: 'Basic ' + Buffer.from(readLocalKey()).toString('base64'), 'content-type': 'application/json' };
    const created = await fetch(base + USERS, { method: 'POST', headers: auth, body: JSON.stringify({ user_id: 'dev2', password: 'first-pass' }) });
    expect(created.status).toBe(201);
    const dup = await fetch(base + USERS, { method: 'POST', headers: auth, body: JSON.stringify({ user_id: 'dev2', password: 'x' }) });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as { code: string }).code).toBe('ALREADY_EXISTS');
    const changed = await fetch(`${base}${USERS}/dev2`, { method: 'PUT', headers: auth, body: JSON.stringify({ password: 'second-pass' }) });
    expect(changed.status).toBe(200);
    await expect(connect({ username: 'dev2', password: 'first-pass', protocolVersion: 5 })).rejects.toThrow();
    await connect({ username: 'dev2', password: 'second-pass', protocolVersion: 5 });
    expect((await fetch(`${base}${USERS}/dev2`, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect((await ctl('users', 'remove', 'dev2')).code).toBe(1);
  });

  it('banning a client id with outpostctl refuses its next CONNECT (0x8A); lifting the ban lets it in', async () => {
    const id = uid('banned');
    const ban = await ctl('banned', 'add', 'clientid', id, '--reason', 'test', '--duration', '10m');
    expect(ban.code, ban.stderr).toBe(0);
    const list = await ctl('banned', 'list');
    expect(list.stdout).toMatch(new RegExp(`clientid\\s+${id}\\s+outpostctl\\s+test\\s+`));
    await expect(connect({ clientId: id, username: 'dev1', password: 'dev1-secret', protocolVersion: 5 })).rejects.toThrow(/Banned|138|0x8a/i);
    expect((await ctl('banned', 'remove', 'clientid', id)).code).toBe(0);
    const c = await connect({ clientId: id, username: 'dev1', password: 'dev1-secret', protocolVersion: 5 });
    expect(c.connack.reasonCode ?? 0).toBe(0);
    expect((await ctl('banned', 'remove', 'clientid', id)).code).toBe(1);
  });
});

function readLocalKey(): string {
  return readFileSync(join(d.dataDir, 'api-local.key'), 'utf8').trim();
}
