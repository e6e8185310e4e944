#!/usr/bin/env node
// Bench child: Outpost's DTLS transport (dist/) with a minimal CoAP responder, on 127.0.0.1.
// argv: KEY (the PSK, any identity). Prints {"port":N} when listening; on a line "stats" on stdin
// prints {stats, rss, cpu} (cpu = user+system µs since start).
import { createInterface } from 'node:readline';
import { dtlsSocketFactory } from '../../dist/gateways/transport/dtls/index.js';
import { Code, decode, encode } from '../../dist/gateways/codecs/coap/frame.js';

const key = Buffer.from(process.argv[2] ?? 'bench-key');
const sock = await dtlsSocketFactory({ psk: { key: () => key }, maxPeers: 100_000, maxHandshakes: 1024 })('127.0.0.1', 0, { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
const payload = Buffer.from('Outpost DTLS bench');
sock.onMessage((msg, from) => {
  const d = decode(msg);
  if (d.kind !== 'frame' || d.frame.code < 1 || d.frame.code > 31) return;
  const f = d.frame;
  sock.send(encode({ type: f.type === 'CON' ? 'ACK' : 'NON', code: Code.CONTENT, messageId: f.messageId, token: f.token, options: [], payload }), from.port, from.address);
});
process.stdout.write(`${JSON.stringify({ port: sock.address().port })}\n`);
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() !== 'stats') return;
  const c = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ stats: sock.stats(), rss: process.memoryUsage.rss(), cpu: c.user + c.system })}\n`);
});
process.stdin.on('end', () => void sock.close().then(() => process.exit(0)));
