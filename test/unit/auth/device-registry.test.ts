import { afterEach, describe, expect, it } from 'vitest';
import { createAuth, type AuthServices } from '../../../src/auth/index.js';
import { MAX_PENDING } from '../../../src/auth/device-registry.js';
import { authConfigShape } from '../../../src/auth/config.js';
import { listenersSchema } from '../../../src/mqtt/listeners/config.js';
import type { AuthRequest } from '../../../src/core/hooks.js';
import type { ClientIdentity } from '../../../src/core/types.js';
import type { Config } from '../../../src/config/schema.js';
import type { Store } from '../../../src/store/store.js';
import { FakeClock, memoryStore, recordingLogger } from './fake.js';

function config(): Config {
  const raw: Record<string, unknown> = { authentication: { password_hash_algorithm: { name: 'pbkdf2', iterations: 1000 }, allow_anonymous: false } };
  const out: Record<string, unknown> = { node: { name: 'test', data_dir: '/nonexistent' }, mqtt: { enable: true, bind: '127.0.0.1' } };
  for (const [k, schema] of Object.entries(authConfigShape)) out[k] = schema.parse(raw[k] ?? {});
  out.listeners = listenersSchema.parse({});
  return out as unknown as Config;
}

let store: Store | undefined;
let auth: AuthServices | undefined;
afterEach(() => {
  auth?.close();
  store?.close();
  auth = store = undefined;
});

function setup() {
  const clock = new FakeClock();
  store = memoryStore();
  auth = createAuth(config(), store, recordingLogger().log, clock);
  return { auth, clock };
}

const req = (username: string, password: string, protocol = 'mqtt'): AuthRequest => ({ clientId: username, username, password: Buffer.from(password), peerHost: '127.0.0.1', peerPort: 1, protocol, listener: 'tcp:default' });
const who = (username: string): ClientIdentity => ({ clientId: username, username, peerHost: '127.0.0.1', peerPort: 1, protocol: 'mqtt', listener: 'tcp:default', superuser: false } as ClientIdentity);

async function code(f: () => unknown): Promise<string | undefined> {
  try {
    await f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('DeviceRegistry', () => {
  it('pairs a device as a user confined to devices/NAME/#, and unpairs it completely', async () => {
    const { auth } = setup();
    const { device, password } = auth.devices.pair({ name: 'greenhouse-7', protocol: 'coap' });
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(device).toMatchObject({ name: 'greenhouse-7', protocol: 'coap', client_id: 'greenhouse-7', username: 'greenhouse-7', scope: 'devices/greenhouse-7/#', topic_ids: [], state: 'paired' });
    // The stored hash is the user db's, never the password.
    const row = store!.db.prepare('SELECT password_hash FROM auth_devices WHERE name = ?').get('greenhouse-7') as { password_hash: string };
    expect(row.password_hash).not.toContain(password);
    expect(await auth.authenticator.authenticate(req('greenhouse-7', password))).toEqual({ ok: true, superuser: false });
    expect(await auth.authenticator.authenticate(req('greenhouse-7', 'wrong'))).toEqual({ ok: false, reason: 'bad_username_or_password' });
    expect(auth.authorizer.authorize(who('greenhouse-7'), 'publish', 'devices/greenhouse-7/t', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(who('greenhouse-7'), 'subscribe', 'devices/greenhouse-7/cmd', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(who('greenhouse-7'), 'publish', 'devices/other/t', 0, false)).toBe('deny');
    expect(auth.authorizer.authorize(who('greenhouse-7'), 'subscribe', '#', 0, false)).toBe('deny');

    expect(auth.devices.unpair('greenhouse-7')).toBe(true);
    expect(auth.devices.unpair('greenhouse-7')).toBe(false);
    expect(auth.devices.list()).toEqual([]);
    expect(auth.users.get('greenhouse-7')).toBeNull();
    expect(auth.acl.get('username', 'greenhouse-7')).toEqual([]);
    expect(await auth.authenticator.authenticate(req('greenhouse-7', password))).toEqual({ ok: false, reason: 'not_authorized' });
  });

  it('hands MQTT-SN devices two predefined topic ids no other device holds, and frees them at unpair', () => {
    const { auth } = setup();
    const a = auth.devices.pair({ name: 'soil-1', protocol: 'mqttsn' }).device;
    const b = auth.devices.pair({ name: 'soil-2', protocol: 'mqttsn', scope: 'farm/soil-2/#' }).device;
    expect(a.topic_ids).toEqual([
      { id: 1, topic: 'devices/soil-1/telemetry' },
      { id: 2, topic: 'devices/soil-1/cmd' },
    ]);
    expect(b.topic_ids).toEqual([
      { id: 3, topic: 'farm/soil-2/telemetry' },
      { id: 4, topic: 'farm/soil-2/cmd' },
    ]);
    auth.devices.unpair('soil-1');
    expect(auth.devices.pair({ name: 'soil-3', protocol: 'mqttsn' }).device.topic_ids.map((t) => t.id)).toEqual([1, 2]);
  });

  it('refuses bad names, protocols, scopes and duplicates, leaving nothing behind', async () => {
    const { auth } = setup();
    expect(await code(() => auth.devices.pair({ name: 'a/b', protocol: 'mqtt' }))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    expect(await code(() => auth.devices.pair({ name: '', protocol: 'mqtt' }))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    expect(await code(() => auth.devices.pair({ name: 'x', protocol: 'zigbee' as 'mqtt' }))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    expect(await code(() => auth.devices.pair({ name: 'x', protocol: 'mqtt', scope: 'a/#/b' }))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    expect(auth.users.count()).toBe(0);
    auth.devices.pair({ name: 'x', protocol: 'mqtt', password: 'pw' });
    expect(await code(() => auth.devices.pair({ name: 'x', protocol: 'coap' }))).toBe('OUTPOST_ERR_AUTH_USER_EXISTS');
    // A name taken by an ordinary user is refused too, and that user is untouched.
    await auth.users.add('ops', 'secret');
    expect(await code(() => auth.devices.pair({ name: 'ops', protocol: 'mqtt' }))).toBe('OUTPOST_ERR_AUTH_USER_EXISTS');
    expect(auth.devices.get('ops')).toBeNull();
    expect(await auth.authenticator.authenticate(req('ops', 'secret'))).toEqual({ ok: true, superuser: false });
  });

  it('admits unknown clients as pending only while the permit-join window is open', async () => {
    const { auth, clock } = setup();
    auth.devices.pair({ name: 'known', protocol: 'mqtt', password: 'pw' });
    expect(await auth.authenticator.authenticate(req('stranger', 'pw1'))).toEqual({ ok: false, reason: 'not_authorized' });
    expect(auth.devices.permitJoinStatus()).toEqual({ open: false, until: 0, remaining_s: 0 });

    expect(auth.devices.permitJoin(120)).toMatchObject({ open: true, remaining_s: 120 });
    expect(await auth.authenticator.authenticate(req('stranger', 'pw1', 'coap'))).toEqual({ ok: true, superuser: false });
    expect(auth.devices.get('stranger')).toMatchObject({ protocol: 'coap', state: 'pending', scope: 'devices/stranger/#' });
    expect(auth.authorizer.authorize(who('stranger'), 'publish', 'devices/stranger/x', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(who('stranger'), 'publish', 'devices/known/x', 0, false)).toBe('deny');
    // A known device with a wrong password is not re-registered by the window.
    expect(await auth.authenticator.authenticate(req('known', 'bad'))).toEqual({ ok: false, reason: 'bad_username_or_password' });
    // No password, no registration.
    expect(await auth.authenticator.authenticate({ ...req('bare', ''), password: null })).toEqual({ ok: false, reason: 'not_authorized' });

    clock.advance(120_000);
    expect(auth.devices.permitJoinStatus().open).toBe(false);
    expect(await auth.authenticator.authenticate(req('late', 'pw2'))).toEqual({ ok: false, reason: 'not_authorized' });
    expect(auth.devices.get('late')).toBeNull();
    // The pending device keeps the password it joined with, after the window too.
    expect(await auth.authenticator.authenticate(req('stranger', 'pw1'))).toEqual({ ok: true, superuser: false });
    expect(auth.devices.approve('stranger').state).toBe('paired');
    expect(await code(() => auth.devices.approve('ghost'))).toBe('OUTPOST_ERR_AUTH_USER_NOT_FOUND');
    expect(await code(() => auth.devices.permitJoin(3601))).toBe('OUTPOST_ERR_AUTH_BAD_INPUT');
    auth.devices.permitJoin(10);
    expect(auth.devices.permitJoin(0).open).toBe(false);
  });

  it('lets one of two racing joins with the same name in, and caps pending devices', async () => {
    const { auth } = setup();
    auth.devices.permitJoin(60);
    const both = await Promise.all([auth.authenticator.authenticate(req('twin', 'a')), auth.authenticator.authenticate(req('twin', 'b'))]);
    expect(both.filter((r) => r.ok).length).toBe(1);
    expect(both.find((r) => !r.ok)).toMatchObject({ ok: false });
    expect(auth.devices.list().map((x) => x.name)).toEqual(['twin']);
    for (let i = 0; i < MAX_PENDING - 1; i++) store!.db.prepare("INSERT INTO auth_devices VALUES (?, 'mqtt', ?, ?, 'h', 's', '[]', 0, 'pending', NULL, NULL)").run(`p${i}`, `p${i}`, `p${i}`);
    expect(await auth.authenticator.authenticate(req('one-too-many', 'x'))).toEqual({ ok: false, reason: 'not_authorized' });
  });
});
