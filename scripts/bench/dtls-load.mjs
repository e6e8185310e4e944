#!/usr/bin/env node
// Bench child: the load generator, the same for every server. It is Outpost's own DTLS client
// (dist/gateways/transport/dtls/client.js: OpenSSL in Node's process through the addon), PSK with
// PSK-AES128-CCM8, one UDP socket per session.
// argv: MODE PORT SECONDS CONCURRENCY KEY
//   handshakes: CONCURRENCY loops of (new session, full handshake incl. cookie exchange, close_notify)
//   requests:   CONCURRENCY established sessions, each a closed loop of CoAP CON GET -> ACK
//   idle:       open CONCURRENCY sessions, print, hold them until stdin ends
//   flood:      spoofed ClientHellos (no cookie) at CONCURRENCY per second from 100 source ports
// Prints one JSON line: {done, failed, seconds, latencies: [p50, p99] ms}.
import { createSocket } from 'node:dgram';
import { DtlsClient } from '../../dist/gateways/transport/dtls/client.js';
import { decode, encode } from '../../dist/gateways/codecs/coap/frame.js';

const [mode, portS, secsS, concS, keyS] = process.argv.slice(2);
const port = Number(portS);
const secs = Number(secsS);
const conc = Number(concS);
const opts = { identity: 'bench', key: Buffer.from(keyS ?? 'bench-key'), ciphers: 'PSK-AES128-CCM8', timeoutMs: 5_000 };
const lat = [];
let done = 0;
let failed = 0;
const t0 = performance.now();
const end = t0 + secs * 1000;

function pct(p) {
  if (lat.length === 0) return null;
  lat.sort((a, b) => a - b);
  return Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(3));
}

async function handshakeLoop() {
  while (performance.now() < end) {
    const c = new DtlsClient(opts, port);
    const s = performance.now();
    try {
      await c.connect();
      lat.push(performance.now() - s);
      done++;
    } catch {
      failed++;
    }
    await c.close();
  }
}

async function requestLoop() {
  const c = new DtlsClient(opts, port);
  await c.connect();
  let mid = Math.floor(Math.random() * 65535);
  const token = Buffer.alloc(4);
  let resolve;
  c.onMessage((m) => {
    const d = decode(m);
    if (d.kind === 'frame' && d.frame.messageId === mid) resolve?.();
  });
  while (performance.now() < end) {
    mid = (mid + 1) & 0xffff;
    token.writeUInt32BE(mid);
    const s = performance.now();
    const ok = await new Promise((r) => {
      const timer = setTimeout(() => r(false), 2000);
      resolve = () => {
        clearTimeout(timer);
        r(true);
      };
      c.send(encode({ type: 'CON', code: 1, messageId: mid, token, options: [], payload: Buffer.alloc(0) }));
    });
    if (ok) {
      lat.push(performance.now() - s);
      done++;
    } else failed++;
  }
  await c.close();
}

async function flood() {
  const hello = DtlsClient.clientHello({ ...opts, identity: 'spoof' });
  const socks = Array.from({ length: 100 }, () => {
    const s = createSocket('udp4');
    s.on('error', () => undefined);
    s.on('message', () => undefined);
    return s;
  });
  await Promise.all(socks.map((s) => new Promise((r) => s.bind(0, '127.0.0.1', r))));
  // Every 10 ms, send what the rate asks for since the start.
  let i = 0;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * conc);
    for (; done < due; done++) socks[i++ % socks.length].send(hello, port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const s of socks) s.close();
}

if (mode === 'flood') {
  await flood();
  process.stdout.write(`${JSON.stringify({ done, failed, seconds: (performance.now() - t0) / 1000 })}\n`);
  process.exit(0);
} else if (mode === 'idle') {
  const cs = [];
  for (let i = 0; i < conc; i += 50) {
    const batch = Array.from({ length: Math.min(50, conc - i) }, () => new DtlsClient(opts, port));
    const r = await Promise.allSettled(batch.map((c) => c.connect()));
    for (const x of r) x.status === 'fulfilled' ? done++ : failed++;
    cs.push(...batch);
  }
  process.stdout.write(`${JSON.stringify({ done, failed, seconds: (performance.now() - t0) / 1000 })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    for (const c of cs) await c.close(false);
    process.exit(0);
  });
} else {
  await Promise.all(Array.from({ length: conc }, () => (mode === 'handshakes' ? handshakeLoop() : requestLoop())));
  process.stdout.write(`${JSON.stringify({ done, failed, seconds: (performance.now() - t0) / 1000, latencies: [pct(0.5), pct(0.99)] })}\n`);
  process.exit(0);
}
