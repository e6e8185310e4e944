// [psk_authentication] (EMQX 5's emqx_psk: init_file of identity:secret lines), the device
// registry's PSKs from pairing, the one PskStore the DTLS listeners ask, and the chain taking a
// PSK identity the handshake proved as authenticated (username = identity, bans and scope apply).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuth, parsePskFile, type AuthServices } from '../../../src/auth/index.js';
import { authConfigShape } from '../../../src/auth/config.js';
import { listenersSchema } from '../../../src/mqtt/listeners/config.js';
import type { AuthRequest } from '../../../src/core/hooks.js';
import type { ClientIdentity } from '../../../src/core/types.js';
import type { Config } from '../../../src/config/schema.js';
import type { Store } from '../../../src/store/store.js';
import { FakeClock, memoryStore, recordingLogger } from './fake.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-psk-'));

function config(raw: Record<string, unknown> = {}, gateway?: object): Config {
  const r: Record<string, unknown> = { authentication: { password_hash_algorithm: { name: 'pbkdf2', iterations: 1000 }, allow_anonymous: false }, ...raw };
  const out: Record<string, unknown> = { node: { name: 'test', data_dir: dir }, mqtt: { enable: true, bind: '127.0.0.1' } };
  for (const [k, schema] of Object.entries(authConfigShape)) out[k] = schema.parse(r[k] ?? {});
  out.listeners = listenersSchema.parse({});
  if (gateway) out.gateway = gateway;
  return out as unknown as Config;
}

let store: Store | undefined;
let auth: AuthServices | undefined;
afterEach(() => {
  auth?.close();
  store?.close();
  auth = store = undefined;
});

function setup(raw: Record<string, unknown> = {}, gateway?: object) {
  const rec = recordingLogger();
  store = memoryStore();
  auth = createAuth(config(raw, gateway), store, rec.log, new FakeClock());
  return { auth, lines: rec.lines };
}

function pskFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const pskReq = (identity: string, extra: Partial<AuthRequest> = {}): AuthRequest => ({
  clientId: 'c-' + identity,
  username: null,
  password: null,
  peerHost: '127.0.0.1',
  peerPort: 5000,
  protocol: 'coap',
  listener: 'coap:dtls:default',
  pskIdentity: identity,
  ...extra,
});
const who = (username: string): ClientIdentity => ({ clientId: 'c-' + username, username, peerHost: '127.0.0.1', peerPort: 1, protocol: 'coap', listener: 'coap:dtls:default', superuser: false }) as ClientIdentity;

describe('parsePskFile (EMQX emqx_psk:get_psks)', () => {
  it('splits each line at the first separator and keeps the secret as raw bytes, CRLF or LF', () => {
    const m = parsePskFile('dev1:c2VjcmV0\r\ndev2:a:b:c\nhexlike:00ff\n');
    expect([...m.keys()]).toEqual(['dev1', 'dev2', 'hexlike']);
    // Not base64- or hex-decoded: EMQX stores the text after the separator as is.
    expect(m.get('dev1')!.toString()).toBe('c2VjcmV0');
    expect(m.get('dev2')!.toString()).toBe('a:b:c');
    expect(m.get('hexlike')).toEqual(Buffer.from('00ff'));
  });

  it('takes another separator, a last line without a newline, and lets a repeated identity win last', () => {
    const m = parsePskFile('a|one\nb|two\na|three', '|');
    expect(m.get('a')!.toString()).toBe('three');
    expect(m.get('b')!.toString()).toBe('two');
    expect(parsePskFile('').size).toBe(0);
  });

  it('refuses, with the line number, what EMQX calls bad_format (blank lines and comments included) and empty parts', () => {
    expect(() => parsePskFile('a:1\n\nb:2\n')).toThrow(/line 2: bad format/);
    expect(() => parsePskFile('# devices\na:1\n')).toThrow(/line 1: bad format/);
    expect(() => parsePskFile('a:1\n:2\n')).toThrow(/line 2: empty identity/);
    expect(() => parsePskFile('a:\n')).toThrow(/line 1: empty secret/);
  });
});

describe('[psk_authentication]', () => {
  it('has EMQX 5 defaults and refuses unknown or bad keys', () => {
    expect(authConfigShape.psk_authentication.parse({})).toEqual({ enable: false, init_file: '', separator: ':', chunk_size: 50 });
    expect(authConfigShape.psk_authentication.safeParse({ enable: true, inti_file: 'x' }).success).toBe(false);
    expect(authConfigShape.psk_authentication.safeParse({ separator: '' }).success).toBe(false);
    expect(authConfigShape.psk_authentication.safeParse({ chunk_size: 0 }).success).toBe(false);
  });

  it('loads init_file at start (relative to data_dir) only when enabled', () => {
    pskFile('init.psk', 'sensor-a:key-a\nsensor-b:key-b\n');
    expect(setup({ psk_authentication: { enable: true, init_file: 'init.psk' } }).auth.psk.key('sensor-a')).toEqual(Buffer.from('key-a'));
    auth!.close();
    store!.close();
    expect(setup({ psk_authentication: { enable: false, init_file: 'init.psk' } }).auth.psk.key('sensor-a')).toBeUndefined();
  });

  it('refuses to start on an unreadable or malformed file, naming the key', () => {
    pskFile('bad.psk', 'ok:1\nno-separator\n');
    expect(() => setup({ psk_authentication: { enable: true, init_file: 'bad.psk' } })).toThrow(/^psk_authentication\.init_file: .*bad\.psk: line 2: bad format/);
    store?.close();
    store = undefined;
    expect(() => setup({ psk_authentication: { enable: true, init_file: join(dir, 'missing.psk') } })).toThrow(/^psk_authentication\.init_file: cannot read .*missing\.psk: ENOENT/);
    store?.close();
    store = undefined;
  });

  it('rereads the file at reload: new keys apply, removed identities are revoked, a bad file keeps the old keys and logs', () => {
    const path = pskFile('reload.psk', 'a:1\nb:2\n');
    const { auth, lines } = setup({ psk_authentication: { enable: true, init_file: path } });
    const revoked: string[] = [];
    auth.psk.onRevoked((id) => revoked.push(id));
    writeFileSync(path, 'a:1\nc:3\n');
    auth.reload(config({ psk_authentication: { enable: true, init_file: path } }));
    expect(auth.psk.key('c')).toEqual(Buffer.from('3'));
    expect(auth.psk.key('b')).toBeUndefined();
    expect(revoked).toEqual(['b']);
    writeFileSync(path, 'broken\n');
    auth.reload(config({ psk_authentication: { enable: true, init_file: path } }));
    expect(auth.psk.key('c')).toEqual(Buffer.from('3'));
    expect(lines.find((l) => String(l.msg).startsWith('psk_file_reload_failed'))).toMatchObject({ key: 'psk_authentication.init_file' });
  });
});

describe('device registry PSKs', () => {
  it('pairing a coap or mqttsn device hands out a 16-byte key under its name; mqtt devices get none', () => {
    const { auth } = setup();
    const coap = auth.devices.pair({ name: 'greenhouse-7', protocol: 'coap' });
    const sn = auth.devices.pair({ name: 'soil-1', protocol: 'mqttsn' });
    const mqtt = auth.devices.pair({ name: 'boiler-3', protocol: 'mqtt' });
    expect(coap.psk).toMatchObject({ identity: 'greenhouse-7' });
    expect(coap.psk!.key).toMatch(/^[0-9a-f]{32}$/);
    expect(sn.psk!.key).not.toBe(coap.psk!.key);
    expect(mqtt.psk).toBeNull();
    expect(coap.device.psk_identity).toBe('greenhouse-7');
    expect(JSON.stringify(auth.devices.list())).not.toContain(coap.psk!.key);
    expect(auth.psk.key('greenhouse-7')).toEqual(Buffer.from(coap.psk!.key, 'hex'));
    expect(auth.psk.key('boiler-3')).toBeUndefined();
  });

  it('takes a key the firmware already has (psk_key, hex), and refuses a bad one or one for an MQTT device', () => {
    const { auth } = setup();
    const r = auth.devices.pair({ name: 'preset', protocol: 'mqttsn', psk_key: '00112233445566778899AABBCCDDEEFF' });
    expect(r.psk).toEqual({ identity: 'preset', key: '00112233445566778899aabbccddeeff' });
    expect(auth.psk.key('preset')).toEqual(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
    for (const bad of ['xyz', '0011', '0'.repeat(130), '001']) {
      expect(() => auth.devices.pair({ name: 'bad-key', protocol: 'coap', psk_key: bad })).toThrow(/psk_key must be 4 to 64 bytes in hex/);
    }
    expect(() => auth.devices.pair({ name: 'mq', protocol: 'mqtt', psk_key: '00112233' })).toThrow(/only coap and mqttsn/);
    expect(auth.devices.get('bad-key')).toBeNull();
  });

  it('a paired key wins over the init_file, and unpairing removes it and revokes the identity', () => {
    pskFile('dup.psk', 'greenhouse-7:from-file\n');
    const { auth } = setup({ psk_authentication: { enable: true, init_file: 'dup.psk' } });
    const revoked: string[] = [];
    auth.psk.onRevoked((id) => revoked.push(id));
    const { psk } = auth.devices.pair({ name: 'greenhouse-7', protocol: 'coap' });
    expect(auth.psk.key('greenhouse-7')).toEqual(Buffer.from(psk!.key, 'hex'));
    auth.devices.unpair('greenhouse-7');
    expect(revoked).toEqual(['greenhouse-7']);
    expect(auth.psk.key('greenhouse-7')).toEqual(Buffer.from('from-file'));
  });
});

describe('the chain with a PSK identity', () => {
  it('authenticates a known identity without a password, as its username, and confines a paired device to its scope', async () => {
    const { auth } = setup();
    auth.devices.pair({ name: 'greenhouse-7', protocol: 'coap' });
    expect(await auth.authenticator.authenticate(pskReq('greenhouse-7'))).toEqual({ ok: true, superuser: false, username: 'greenhouse-7' });
    // A username in the request does not override what the handshake proved.
    expect(await auth.authenticator.authenticate(pskReq('greenhouse-7', { username: 'ops', password: Buffer.from('x') }))).toEqual({ ok: true, superuser: false, username: 'greenhouse-7' });
    expect(auth.authorizer.authorize(who('greenhouse-7'), 'publish', 'devices/greenhouse-7/t', 0, false)).toBe('allow');
    expect(auth.authorizer.authorize(who('greenhouse-7'), 'publish', 'devices/other/t', 0, false)).toBe('deny');
  });

  it('refuses an identity no longer known (a session established before unpairing) and a banned one', async () => {
    pskFile('chain.psk', 'file-dev:k\n');
    const { auth, lines } = setup({ psk_authentication: { enable: true, init_file: 'chain.psk' } });
    expect(await auth.authenticator.authenticate(pskReq('file-dev'))).toMatchObject({ ok: true, username: 'file-dev' });
    expect(await auth.authenticator.authenticate(pskReq('gone'))).toEqual({ ok: false, reason: 'not_authorized' });
    auth.bans.add({ as: 'username', who: 'file-dev', by: 'test', reason: '', at: 0, until: null });
    expect(await auth.authenticator.authenticate(pskReq('file-dev'))).toEqual({ ok: false, reason: 'banned' });
    expect(lines.some((l) => l.msg === 'client_authentication_failed' && l.detail === 'psk: identity no longer known')).toBe(true);
  });

  it('maps a DTLS client certificate to the username as the gateway listener says (peer_cert_as_username)', async () => {
    const gateway = { coap: { listeners: { dtls: { default: { peer_cert_as_username: 'cn', peer_cert_as_clientid: 'disabled' } } } } };
    const { auth } = setup({ authentication: { password_hash_algorithm: { name: 'pbkdf2', iterations: 1000 }, allow_anonymous: false, client_cert: { enable: true } } }, gateway);
    const r = await auth.authenticator.authenticate({ ...pskReq('x'), pskIdentity: undefined, cert: { commonName: 'meter-9', fingerprint: 'AA' } });
    expect(r).toEqual({ ok: true, superuser: false, username: 'meter-9' });
  });
});
