// The CoAP gateway in the real daemon, connectionless mode (gateways/coap/SPEC.md §10 items 1–7,
// 9, 19): libcoap's coap-client on one side, MQTT.js on the other.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, decodeUint, encodeUint, getOption, type CoapFrame } from '../../gateways/codecs/coap/frame.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawDevice, coapClient, mqttCollector, sleep } from '../fixtures/coap/clients.js';

const CONFIG = `
[gateway.coap]
enable = true
mountpoint = "coap/"
heartbeat = 30
[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`;

let d: Daemon;
let uri: string;
let work: string;

beforeAll(async () => {
  d = await startDaemon({ config: CONFIG });
  uri = `coap://127.0.0.1:${d.ports['coap:udp:default']}`;
  work = mkdtempSync(join(tmpdir(), 'coap-it-'));
});

afterAll(async () => {
  await d?.stop();
  d?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

const observeNumber = (f: CoapFrame): number | null => {
  const v = getOption(f, Opt.OBSERVE);
  return v === undefined ? null : decodeUint(v);
};

describe('CoAP publish -> MQTT (§4.1)', () => {
  it('delivers a CON POST byte for byte at QoS 1 and a NON POST at QoS 0 [§10.1, §10.2]', async () => {
    const sub = await mqttCollector(d.mqttUrl, ['coap/bin/#'], { qos: 2 });
    const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const file = join(work, 'bin.dat');
    writeFileSync(file, payload);
    const con = await coapClient(['-m', 'post', '-f', file, `${uri}/ps/bin/con`]);
    expect(con.code).toBe(0);
    expect(con.stderr).not.toMatch(/[45]\.\d\d/);
    const non = await coapClient(['-N', '-m', 'post', '-e', 'non', `${uri}/ps/bin/non`]);
    expect(non.code).toBe(0);
    const got = await sub.waitFor(2);
    await sub.end();
    const byTopic = new Map(got.map((g) => [g.topic, g]));
    expect(byTopic.get('coap/bin/con')!.payload.equals(payload)).toBe(true);
    expect(byTopic.get('coap/bin/con')!.qos).toBe(1);
    expect(byTopic.get('coap/bin/non')!.payload.toString()).toBe('non');
    expect(byTopic.get('coap/bin/non')!.qos).toBe(0);
  });

  it('sets retain only for retain=true, and ?qos overrides the message type [§10.3]', async () => {
    expect((await coapClient(['-m', 'post', '-e', 'kept', `${uri}/ps/ret/a?retain=true&qos=2`])).code).toBe(0);
    expect((await coapClient(['-m', 'post', '-e', 'not', `${uri}/ps/ret/b?r=1`])).code).toBe(0);
    // A fresh subscriber sees only the retained one, with the retain flag.
    const sub = await mqttCollector(d.mqttUrl, ['coap/ret/#'], { qos: 2 });
    const got = await sub.waitFor(1, 2000);
    await sleep(200);
    await sub.end();
    expect(got.map((g) => [g.topic, g.payload.toString(), g.retain, g.qos])).toEqual([['coap/ret/a', 'kept', true, 2]]);
  });

  it('carries a 10 KB body uploaded block-wise (RFC 7959 Block1) as one MQTT message', async () => {
    const sub = await mqttCollector(d.mqttUrl, ['coap/big/up']);
    const body = Buffer.from(Array.from({ length: 10 * 1024 }, (_, i) => 65 + ((i * 13) % 26)));
    const file = join(work, 'up.txt');
    writeFileSync(file, body);
    const r = await coapClient(['-m', 'post', '-b', '1024', '-f', file, `${uri}/ps/big/up`]);
    expect(r.code).toBe(0);
    const [m] = await sub.waitFor(1);
    await sub.end();
    expect(m!.payload.equals(body)).toBe(true);
  });
});

describe('MQTT -> CoAP observe (§4.2–§4.4)', () => {
  it('sends MQTT publishes as notifications with the subscribe token and increasing Observe numbers [§10.4]', async () => {
    const dev = await RawDevice.open(d.ports['coap:udp:default']!);
    dev.send({ type: 'CON', code: Code.GET, messageId: 1, token: Buffer.from('obs1'), options: [{ number: Opt.OBSERVE, value: encodeUint(0) }, ...path('ps/cmd/%2B')], payload: Buffer.alloc(0) });
    const ack = await dev.waitFor((f) => f.type === 'ACK' && f.messageId === 1);
    expect(ack!.code).toBe(Code.CONTENT);
    expect(observeNumber(ack!)).toBe(0);
    const pub = await mqttCollector(d.mqttUrl, ['unused/x']);
    for (const p of ['a', 'b', 'c']) await pub.client.publishAsync('coap/cmd/s1', p, { qos: 0 });
    const seen: CoapFrame[] = [];
    for (let i = 0; i < 3; i++) {
      const n = await dev.waitFor((f) => f.code === Code.CONTENT && f.type === 'NON');
      if (n) seen.push(n);
    }
    expect(seen.map((f) => [f.token.toString(), observeNumber(f), f.payload.toString()])).toEqual([
      ['obs1', 1, 'a'],
      ['obs1', 2, 'b'],
      ['obs1', 3, 'c'],
    ]);
    // QoS 1 goes out as CON (notify_type = qos) and is acknowledged by the device.
    await pub.client.publishAsync('coap/cmd/s1', 'q1', { qos: 1 });
    const con = await dev.waitFor((f) => f.type === 'CON' && f.code === Code.CONTENT);
    expect([observeNumber(con!), con!.payload.toString()]).toEqual([4, 'q1']);
    dev.send({ type: 'ACK', code: 0, messageId: con!.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
    // Unsubscribe: 2.07, and nothing more arrives [§10.6].
    dev.send({ type: 'CON', code: Code.GET, messageId: 2, token: Buffer.from('obs1'), options: [{ number: Opt.OBSERVE, value: encodeUint(1) }, ...path('ps/cmd/%2B')], payload: Buffer.alloc(0) });
    const unsub = await dev.waitFor((f) => f.type === 'ACK' && f.messageId === 2);
    expect(unsub!.code).toBe(Code.NO_CONTENT);
    await pub.client.publishAsync('coap/cmd/s1', 'after', { qos: 0 });
    expect(await dev.waitFor((f) => f.code === Code.CONTENT, 700)).toBeNull();
    await pub.end();
    await dev.close();
  });

  it('lets coap-client observe and receive a 10 KB message block-wise (RFC 7959 §3.4, Block2)', async () => {
    const body = Buffer.from(Array.from({ length: 10 * 1024 }, (_, i) => 97 + ((i * 7) % 26)));
    const obs = coapClient(['-m', 'get', '-s', '4', '-O', '6,0x00', '-T', 'big1', `${uri}/ps/big/down`], 15_000);
    await sleep(1000);
    const pub = await mqttCollector(d.mqttUrl, ['unused/y']);
    await pub.client.publishAsync('coap/big/down', body, { qos: 1 });
    const r = await obs;
    await pub.end();
    expect(r.stdout.includes(body)).toBe(true);
  });

  it('answers observe without token and GET without Observe with 4.00 and the EMQX texts [§10.5]', async () => {
    const noObs = await coapClient(['-m', 'get', `${uri}/ps/x`]);
    expect(noObs.stderr).toContain('4.00 invalid observe value');
    const dev = await RawDevice.open(d.ports['coap:udp:default']!);
    dev.send({ type: 'CON', code: Code.GET, messageId: 9, token: Buffer.alloc(0), options: [{ number: Opt.OBSERVE, value: encodeUint(0) }, ...path('ps/x')], payload: Buffer.alloc(0) });
    const r = await dev.waitFor((f) => f.messageId === 9);
    expect([r!.code, r!.payload.toString()]).toEqual([Code.BAD_REQUEST, 'observe without token']);
    await dev.close();
  });

  it('answers 4.05 on PUT/DELETE /ps and 4.00 on unknown roots [§10.8]', async () => {
    expect((await coapClient(['-m', 'put', '-e', 'x', `${uri}/ps/x`])).stderr).toContain('4.05');
    expect((await coapClient(['-m', 'delete', `${uri}/ps/x`])).stderr).toContain('4.05');
    expect((await coapClient(['-m', 'post', '-e', 'x', `${uri}/nope/x`])).stderr).toContain('4.00');
  });
});

function path(p: string): { number: number; value: Buffer }[] {
  return p.split('/').map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(decodeURIComponent(s)) }));
}
