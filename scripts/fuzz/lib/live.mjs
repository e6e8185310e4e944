// Live run: the mutated inputs over TCP (MQTT, STOMP) and UDP (CoAP, MQTT-SN) into a running daemon,
// with a bystander MQTT client doing round trips all along, liveness probes on the UDP gateways,
// and the daemon's RSS and fd count from /proc.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startBystanderThread } from './bystander-thread.mjs';
import { startFuzzDaemon } from './daemon.mjs';
import { makeInput } from './inputs.mjs';

const PINGREQ = Buffer.from([0xc0, 0x00]);

/** A valid clean CONNECT for level v, so the fuzzed packets after it reach a connected channel. */
function cleanConnect(v, clientId) {
  const name = Buffer.from(v === 3 ? 'MQIsdp' : 'MQTT');
  const id = Buffer.from(clientId);
  const body = [Buffer.from([0, name.length]), name, Buffer.from([v, 0x02, 0, 30])];
  if (v === 5) body.push(Buffer.from([0]));
  body.push(Buffer.from([id.length >> 8, id.length & 255]), id);
  const b = Buffer.concat(body);
  return Buffer.concat([Buffer.from([0x10, b.length]), b]);
}

/** Did the server's bytes include a PINGRESP? (walks whole packets only) */
function hasPingresp(buf) {
  let off = 0;
  while (off + 2 <= buf.length) {
    let len = 0;
    let mul = 1;
    let i = off + 1;
    for (; i < buf.length && i < off + 5; i++) {
      len += (buf[i] & 0x7f) * mul;
      mul *= 128;
      if ((buf[i] & 0x80) === 0) break;
    }
    if (i >= buf.length) return false;
    if (buf[off] === 0xd0) return true;
    off = i + 1 + len;
  }
  return false;
}

/**
 * One input on its own TCP connection: `bytes` written and half-closed; the outcome is 'answered'
 * (the server's bytes so far satisfy `answered`), 'closed' by the server, or 'no_answer' in waitMs.
 */
function streamOne(port, bytes, answered, waitMs) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let done = false;
    let got = Buffer.alloc(0);
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('no_answer'), waitMs);
    s.on('error', () => finish('closed'));
    s.on('close', () => finish('closed'));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (answered(got)) finish('answered');
    });
    // Half-close after the input: a frame it left incomplete ends at EOF instead of waiting out waitMs.
    s.on('connect', () => s.end(bytes));
  });
}

async function mqttOne(port, input, index, waitMs) {
  const alone = input.bytes.length > 0 && input.bytes[0] >> 4 === 1;
  const bytes = alone ? Buffer.concat([input.bytes, PINGREQ]) : Buffer.concat([cleanConnect(input.v, `fz-${index}`), input.bytes, PINGREQ]);
  const o = await streamOne(port, bytes, hasPingresp, waitMs);
  return o === 'answered' ? 'pingresp' : o;
}

const STOMP_CONNECT = Buffer.from('CONNECT\naccept-version:1.0,1.1,1.2\nhost:fuzz\n\n\0');
const STOMP_PROBE = Buffer.from('BEGIN\ntransaction:fuzz-probe\nreceipt:fuzz-probe\n\n\0');

/** One STOMP input on its own connection after a valid CONNECT; a receipted probe frame follows it. */
async function stompOne(port, input, waitMs) {
  const o = await streamOne(port, Buffer.concat([STOMP_CONNECT, input.bytes, STOMP_PROBE]), (got) => got.includes('receipt-id:fuzz-probe'), waitMs);
  return o === 'answered' ? 'receipt' : o;
}

async function liveStomp(codecs, d, { seed, count, concurrency = 32, waitMs = 2000, onProgress }) {
  const port = d.ports['stomp:tcp:default'];
  const outcomes = { receipt: 0, closed: 0, no_answer: 0 };
  let next = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      outcomes[await stompOne(port, makeInput(codecs, 'stomp', seed, i), waitMs)]++;
      if (onProgress && i % 1000 === 0) onProgress('stomp', i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { codec: 'stomp', inputs: count, outcomes, seconds: (Date.now() - t0) / 1000 };
}

/** The MQTT input in flight, shared with the bystander's thread for its failure records. */
const inputAt = new Int32Array(new SharedArrayBuffer(4));

async function liveMqtt(codecs, d, { seed, count, start = 0, concurrency = 32, waitMs = 2000, onProgress }) {
  const port = d.ports['mqtt:tcp'];
  const outcomes = { pingresp: 0, closed: 0, no_answer: 0 };
  let next = start;
  const t0 = Date.now();
  const worker = async () => {
    while (next < start + count) {
      const i = next++;
      Atomics.store(inputAt, 0, i);
      const o = await mqttOne(port, makeInput(codecs, 'mqtt', seed, i), i, waitMs);
      outcomes[o]++;
      if (onProgress && i % 1000 === 0) onProgress('mqtt', i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { codec: 'mqtt', inputs: count, outcomes, seconds: (Date.now() - t0) / 1000 };
}

function udpSocket() {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

const send = (s, buf, port) => new Promise((r) => s.send(buf, port, '127.0.0.1', () => r()));

/**
 * A probe datagram and the reply that proves the gateway still reads: true when answered. Sent up to
 * three times, since the fuzz traffic can fill the daemon's socket buffer and the kernel drops it.
 */
async function probe(sock, port, msg, isAnswer) {
  for (let k = 0; k < 3; k++) if (await probeOnce(sock, port, msg, isAnswer, 1000 * (k + 1))) return k + 1;
  return 0;
}

function probeOnce(sock, port, msg, isAnswer, ms) {
  return new Promise((resolve) => {
    const onMsg = (m) => {
      if (isAnswer(m)) {
        clearTimeout(t);
        sock.off('message', onMsg);
        resolve(true);
      }
    };
    const t = setTimeout(() => {
      sock.off('message', onMsg);
      resolve(false);
    }, ms);
    sock.on('message', onMsg);
    sock.send(msg, port, '127.0.0.1');
  });
}

async function liveUdp(codecs, d, codec, { seed, count, peers = 8, probeEvery = 64, onProgress }) {
  const port = codec === 'coap' ? d.ports['coap:udp:default'] : d.ports['mqttsn:udp:default'];
  const socks = await Promise.all(Array.from({ length: peers }, udpSocket));
  const prober = await udpSocket();
  const probes = { sent: 0, answered: 0, answeredFirstTry: 0 };
  const t0 = Date.now();
  let mid = 1;
  for (let i = 0; i < count; i++) {
    const k = i % peers;
    if (codec === 'mqttsn' && i % (peers * 64) < peers) {
      // A fresh CONNECT now and then so most fuzzed frames reach a connected channel, not only the stateless path.
      const id = Buffer.from(`fz-sn-${k}`);
      await send(socks[k], Buffer.concat([Buffer.from([6 + id.length, 0x04, 0x04, 0x01, 0, 60]), id]), port);
    }
    await send(socks[k], makeInput(codecs, codec, seed, i).bytes, port);
    if (i % probeEvery === probeEvery - 1) {
      probes.sent++;
      let ok;
      if (codec === 'coap') {
        // CoAP ping: an empty CON is answered with a RST (RFC 7252 §4.3).
        const m = mid++ & 0xffff;
        ok = await probe(prober, port, Buffer.from([0x40, 0x00, m >> 8, m & 255]), (r) => r.length >= 4 && (r[0] & 0x30) === 0x30 && r.readUInt16BE(2) === m);
      } else ok = await probe(prober, port, Buffer.from([0x03, 0x01, 0x01]), (r) => r.length >= 2 && r[1] === 0x02);
      if (ok > 0) probes.answered++;
      if (ok === 1) probes.answeredFirstTry++;
      if (onProgress && probes.sent % 160 === 0) onProgress(codec, i);
    }
  }
  for (const s of [...socks, prober]) s.close();
  return { codec, inputs: count, probes, seconds: (Date.now() - t0) / 1000 };
}

/**
 * opts: { seed, counts: { mqtt, coap, mqttsn, stomp }, start? (first MQTT input index), onProgress? }. Starts its own daemon with the four
 * protocols on, runs the codecs one after the other with one bystander throughout.
 */
export async function runLive(codecs, opts) {
  const d = await startFuzzDaemon();
  const res = { pid: d.pid, codecs: [], daemon: {}, bystander: null };
  try {
    Atomics.store(inputAt, 0, -1);
    const by = await startBystanderThread(d.ports['mqtt:tcp'], inputAt);
    // This thread's own stalls, reported next to the bystander's times (they are not the daemon's).
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    res.daemon.rssKbBefore = d.rssKb();
    res.daemon.fdsBefore = d.fds();
    let rssMax = res.daemon.rssKbBefore;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, d.rssKb() ?? 0)), 500);
    try {
      for (const codec of ['mqtt', 'coap', 'mqttsn', 'stomp']) {
        const count = opts.counts[codec] ?? 0;
        if (count <= 0) continue;
        const r =
          codec === 'mqtt'
            ? await liveMqtt(codecs, d, { seed: opts.seed, count, start: opts.start ?? 0, onProgress: opts.onProgress })
            : codec === 'stomp'
              ? await liveStomp(codecs, d, { seed: opts.seed, count, onProgress: opts.onProgress })
              : await liveUdp(codecs, d, codec, { seed: opts.seed, count, onProgress: opts.onProgress });
        r.bystanderAnsweredSoFar = by.stats.answered;
        r.bystanderFailedSoFar = by.stats.failed;
        res.codecs.push(r);
      }
      // Let in-flight work settle, then one more round trip must still go through.
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      clearInterval(sampler);
    }
    res.bystander = await by.stop();
    loop.disable();
    res.driverLoopDelayMaxMs = Math.round(loop.max / 1e6);
    res.daemon.alive = d.alive();
    res.daemon.rssKbAfter = d.rssKb();
    res.daemon.rssKbMax = Math.max(rssMax, res.daemon.rssKbAfter ?? 0);
    res.daemon.fdsAfter = d.fds();
    const lines = d.logs().split('\n');
    const errs = lines.filter((l) => /"level":(50|60)/.test(l));
    res.daemon.errorLogLines = errs.length;
    res.daemon.errorLogSamples = errs.slice(0, 5).map((l) => l.slice(0, 400));
    // Warnings by message, with one example each: what the daemon made of the fuzz.
    const warns = {};
    for (const l of lines) {
      if (!/"level":40/.test(l)) continue;
      const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? '?';
      (warns[msg] ??= { count: 0, example: l.slice(0, 400) }).count++;
    }
    res.daemon.warnings = warns;
  } finally {
    await d.stop();
  }
  return res;
}
