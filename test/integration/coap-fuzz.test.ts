// Malformed and random datagrams must not disturb the CoAP gateway (DESIGN "bad input gets a clear
// answer and never takes the process down"; RFC 7252 §4.2/§4.3 reject or ignore).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, Opt, encode, type CoapFrame } from '../../gateways/codecs/coap/frame.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawDevice, coapClient, mqttCollector, sleep } from '../fixtures/coap/clients.js';

let d: Daemon;
beforeAll(async () => {
  d = await startDaemon({ config: '[gateway.coap]\nenable = true\n[gateway.coap.listeners.udp.default]\nbind = "127.0.0.1"\nport = 0\n' });
});
afterAll(async () => {
  await d?.stop();
  d?.cleanup();
});

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seg = (n: number, v: string) => ({ number: n, value: Buffer.from(v) });
const templates: CoapFrame[] = [
  { type: 'CON', code: Code.POST, messageId: 1, token: Buffer.from('ab'), options: [seg(Opt.URI_PATH, 'ps'), seg(Opt.URI_PATH, 'f'), seg(Opt.URI_QUERY, 'qos=1')], payload: Buffer.from('hello') },
  { type: 'CON', code: Code.GET, messageId: 2, token: Buffer.from('obs'), options: [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }, seg(Opt.URI_PATH, 'ps'), seg(Opt.URI_PATH, 'f')], payload: Buffer.alloc(0) },
  { type: 'CON', code: Code.POST, messageId: 3, token: Buffer.alloc(0), options: [seg(Opt.URI_PATH, 'mqtt'), seg(Opt.URI_PATH, 'connection'), seg(Opt.URI_QUERY, 'clientid=x')], payload: Buffer.alloc(0) },
  { type: 'NON', code: Code.POST, messageId: 4, token: Buffer.from('1'), options: [seg(Opt.URI_PATH, 'ps'), seg(Opt.URI_PATH, 'f'), { number: Opt.BLOCK1, value: Buffer.from([0x0e]) }], payload: Buffer.alloc(1024, 1) },
];

describe('CoAP gateway under malformed input', () => {
  it('keeps serving a well-behaved device after 3000 random and mutated datagrams from many ports', async () => {
    const rnd = prng(20261122);
    const attackers = await Promise.all([0, 1, 2, 3].map(() => RawDevice.open(d.ports['coap:udp:default']!)));
    for (let i = 0; i < 3000; i++) {
      let buf: Buffer;
      if (i % 3 === 0) buf = Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
      else {
        buf = Buffer.from(encode(templates[i % templates.length]!));
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.3) buf = buf.subarray(0, Math.floor(rnd() * buf.length));
      }
      attackers[i % attackers.length]!.sendRaw(buf);
      if (i % 200 === 0) await sleep(5);
    }
    await sleep(300);
    // The gateway answered some of it (RSTs, 4.xx) and every reply it sent decodes as CoAP.
    expect(attackers.reduce((n, a) => n + a.received, 0)).toBeGreaterThan(0);
    expect(attackers.reduce((n, a) => n + a.undecodable, 0)).toBe(0);
    for (const a of attackers) await a.close();

    const sub = await mqttCollector(d.mqttUrl, ['after/fuzz']);
    const r = await coapClient(['-m', 'post', '-e', 'still-here', `coap://127.0.0.1:${d.ports['coap:udp:default']}/ps/after/fuzz`]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/[45]\.\d\d/);
    const [m] = await sub.waitFor(1);
    await sub.end();
    expect(m!.payload.toString()).toBe('still-here');
    expect(d.logs()).not.toMatch(/uncaught|unhandled|FATAL/i);
  });
});
