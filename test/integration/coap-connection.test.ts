// Connection mode of the CoAP gateway in the real daemon (gateways/coap/SPEC.md §3.2, §5, §10
// items 12–16): login, token checks, NAT rebinding, heartbeat, close and keepalive with the $SYS
// events, authentication failure and ACL deny through the daemon's [authentication]/[authorization].
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt } from '../../gateways/codecs/coap/frame.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawDevice, coapClient, mqttCollector, sleep } from '../fixtures/coap/clients.js';

const work = mkdtempSync(join(tmpdir(), 'coap-conn-'));
const aclFile = join(work, 'acl.conf');
writeFileSync(aclFile, ['{deny, all, publish, ["secret/#"]}.', '{deny, all, subscribe, ["secret/#"]}.', '{allow, all, subscribe, ["$SYS/#"]}.', '{allow, all}.', ''].join('\n'));

const config = (extra = ''): string => `
[gateway.coap]
enable = true
connection_required = true
heartbeat = 2
[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0
[authorization]
no_match = "allow"
sources = ["file"]
[authorization.file]
path = ${JSON.stringify(aclFile)}
${extra}
`;

const uriOf = (d: Daemon): string => `coap://127.0.0.1:${d.ports['coap:udp:default']}`;
const sysFilter = '$SYS/brokers/+/gateway/coap/clients/+/+';

async function login(uri: string, clientId: string): Promise<string> {
  const r = await coapClient(['-m', 'post', '-e', '', `${uri}/mqtt/connection?clientid=${clientId}&username=u1&password=pw`]);
  return r.stdout.toString().trim();
}

describe('connection mode', () => {
  let d: Daemon;
  let uri: string;
  beforeAll(async () => {
    d = await startDaemon({ config: config() });
    uri = uriOf(d);
  });
  afterAll(async () => {
    await d?.stop();
    d?.cleanup();
  });

  it('logs in with 2.01 and a decimal token, emitting the connected event; create without clientid fails [§10.12]', async () => {
    const sys = await mqttCollector(d.mqttUrl, [sysFilter], { qos: 0 });
    const token = await login(uri, 'dev1');
    expect(token).toMatch(/^[1-9][0-9]{0,9}$/);
    const [ev] = await sys.waitFor(1);
    await sys.end();
    expect(ev!.topic).toMatch(/gateway\/coap\/clients\/dev1\/connected$/);
    // EMQX's sockport is the listener's real port (bound to 0 here), not 0 or the configured one.
    expect(JSON.parse(ev!.payload.toString())).toMatchObject({ clientid: 'dev1', username: 'u1', protocol: 'coap', sockport: d.ports['coap:udp:default'] });
    const noId = await coapClient(['-m', 'post', '-e', '', `${uri}/mqtt/connection?username=u1`]);
    expect(noId.stderr).toContain('4.00 Login Failed: clientid is required');
    const again = await coapClient(['-m', 'post', '-e', '', `${uri}/mqtt/connection?clientid=dev1`]);
    expect(again.stderr).toContain('4.00 Bad Request: client has connected');
  });

  it('checks clientid and token, and follows the device to a new source port [§10.13]', async () => {
    const token = await login(uri, 'dev2');
    const sub = await mqttCollector(d.mqttUrl, ['nat/#']);
    const wrong = await coapClient(['-m', 'post', '-e', 'x', `${uri}/ps/nat/a?c=dev2&t=1`]);
    expect(wrong.stderr).toContain('4.00 Missing token or clientid in connection mode');
    const noId = await coapClient(['-m', 'post', '-e', 'x', `${uri}/ps/nat/a`]);
    expect(noId.stderr).toContain('4.00 Missing token or clientid in connection mode');
    // Every coap-client run uses a new source port: the session follows the clientid, not the port.
    const dev = await RawDevice.open(d.ports['coap:udp:default']!);
    const q = [`c=dev2`, `t=${token}`].map((s) => ({ number: Opt.URI_QUERY, value: Buffer.from(s) }));
    dev.send({ type: 'CON', code: Code.GET, messageId: 7, token: Buffer.from('o'), options: [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }, { number: Opt.URI_PATH, value: Buffer.from('ps') }, { number: Opt.URI_PATH, value: Buffer.from('nat') }, { number: Opt.URI_PATH, value: Buffer.from('cmd') }, ...q], payload: Buffer.alloc(0) });
    expect((await dev.waitFor((f) => f.messageId === 7))!.code).toBe(Code.CONTENT);
    const moved = await RawDevice.open(d.ports['coap:udp:default']!);
    moved.send({ type: 'CON', code: Code.POST, messageId: 8, token: Buffer.from('p'), options: [{ number: Opt.URI_PATH, value: Buffer.from('ps') }, { number: Opt.URI_PATH, value: Buffer.from('nat') }, { number: Opt.URI_PATH, value: Buffer.from('up') }, ...q], payload: Buffer.from('moved') });
    expect((await moved.waitFor((f) => f.messageId === 8))!.code).toBe(Code.CHANGED);
    const [m] = await sub.waitFor(1);
    expect([m!.topic, m!.payload.toString()]).toEqual(['nat/up', 'moved']);
    // The notification goes to the address the device was last seen at.
    await sub.client.publishAsync('nat/cmd', 'to-new-port', { qos: 0 });
    const n = await moved.waitFor((f) => f.code === Code.CONTENT && f.type === 'NON');
    expect(n!.payload.toString()).toBe('to-new-port');
    await sub.end();
    await dev.close();
    await moved.close();
  });

  it('answers heartbeat with 2.04 and DELETE with 2.02, then publishes the disconnected event [§10.14]', async () => {
    const token = await login(uri, 'dev3');
    const sys = await mqttCollector(d.mqttUrl, [`$SYS/brokers/+/gateway/coap/clients/dev3/disconnected`], { qos: 0 });
    const hb = await coapClient(['-m', 'put', '-e', '', `${uri}/mqtt/connection?clientid=dev3&token=${token}`]);
    expect(hb.stderr).not.toMatch(/[45]\.\d\d/);
    const del = await coapClient(['-m', 'delete', `${uri}/mqtt/connection?clientid=dev3&token=${token}`]);
    expect(del.stderr).not.toMatch(/[45]\.\d\d/);
    const [ev] = await sys.waitFor(1);
    await sys.end();
    expect(JSON.parse(ev!.payload.toString())).toMatchObject({ clientid: 'dev3', reason: 'normal' });
    const after = await coapClient(['-m', 'post', '-e', 'x', `${uri}/ps/a?clientid=dev3&token=${token}`]);
    expect(after.stderr).toContain('4.00 Missing token or clientid in connection mode');
  });

  it('ends a silent device after heartbeat x 1.5 with reason keepalive_timeout [§10.15]', async () => {
    const sys = await mqttCollector(d.mqttUrl, [`$SYS/brokers/+/gateway/coap/clients/dev4/disconnected`], { qos: 0 });
    const token = await login(uri, 'dev4');
    const t0 = Date.now();
    await sleep(1500);
    // Still alive at 1.5 s: a heartbeat resets the 3 s window.
    const hb = await coapClient(['-m', 'put', '-e', '', `${uri}/mqtt/connection?clientid=dev4&token=${token}`]);
    expect(hb.stderr).not.toMatch(/[45]\.\d\d/);
    const [ev] = await sys.waitFor(1, 6000);
    // 1.5 s + a fresh 3 s window: the heartbeat kept it alive past the first window.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4000);
    await sys.end();
    expect(JSON.parse(ev!.payload.toString())).toMatchObject({ clientid: 'dev4', reason: 'keepalive_timeout' });
  });

  it('answers 4.01 when the ACL denies the publish or the subscription [§10.16]', async () => {
    const token = await login(uri, 'dev5');
    const pub = await coapClient(['-m', 'post', '-e', 'x', `${uri}/ps/secret/a?clientid=dev5&token=${token}`]);
    expect(pub.stderr).toContain('4.01');
    const sub = await coapClient(['-m', 'get', '-O', '6,0x00', '-T', 'o', `${uri}/ps/secret/%23?clientid=dev5&token=${token}`]);
    expect(sub.stderr).toContain('4.01');
    const ok = await coapClient(['-m', 'post', '-e', 'x', `${uri}/ps/public/a?clientid=dev5&token=${token}`]);
    expect(ok.stderr).not.toMatch(/[45]\.\d\d/);
  });
});

describe('connection mode with authentication required', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ config: config('[authentication]\nallow_anonymous = false\n') });
  });
  afterAll(async () => {
    await d?.stop();
    d?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers a failed login with 4.01 "Login Failed: <reason>" [§10.12, §6]', async () => {
    const r = await coapClient(['-m', 'post', '-e', '', `${uriOf(d)}/mqtt/connection?clientid=bad&username=nobody&password=wrong`]);
    expect(r.stderr).toMatch(/4\.01 Login Failed: \w+/);
  });
});
