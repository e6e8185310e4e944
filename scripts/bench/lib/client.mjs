// A minimal MQTT client for load generation: raw net sockets, mqtt-packet for parsing and for building the
// CONNECT/SUBSCRIBE/PUBLISH templates. PUBLISH packets are stamped from a template and written in batches so
// that the load generator, not the broker, is rarely the bottleneck.
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

/** Bytes at the start of every payload: send time (hrtime ns, u64 LE) then a sequence number (u32 LE). */
export const PAYLOAD_HEADER = 12;

const MAX_ID = 65535;
// Yield to the event loop after this many QoS 0 batches so IPC and socket reads are not starved.
const BATCHES_PER_TURN = 16;
const QOS0_BATCH = 32;
const QOS0_HIGH_WATER = 256 * 1024;
const PAUSE_AT = 16 * 1024;

/**
 * Builds a PUBLISH template and the offsets to patch: the packet identifier (QoS 1/2) and the payload.
 * The packet id sits after the fixed header and the topic [MQTT-3.3.2]; for v5 the property length follows it.
 */
export function publishTemplate({ topic, qos, payloadSize, protocolVersion = 4 }) {
  const size = Math.max(payloadSize, PAYLOAD_HEADER);
  const packet = { cmd: 'publish', topic, payload: Buffer.alloc(size), qos, retain: false, dup: false };
  if (qos > 0) packet.messageId = 1;
  if (protocolVersion === 5) packet.properties = {};
  const buf = mqttPacket.generate(packet, { protocolVersion });
  let vlen = 1;
  while (buf[vlen] & 0x80) vlen++;
  const idOffset = qos > 0 ? 1 + vlen + 2 + Buffer.byteLength(topic) : -1;
  return { buf, idOffset, payloadOffset: buf.length - size };
}

function ack(type, id) {
  // PUBACK 0x40, PUBREC 0x50, PUBREL 0x62 (flags 0010 [MQTT-3.6.1-1]), PUBCOMP 0x70; remaining length 2. In v5 a
  // remaining length of 2 means reason code 0x00 Success [MQTT-3.4.2.1], so the same bytes serve both versions.
  const b = Buffer.allocUnsafe(4);
  b[0] = type;
  b[1] = 2;
  b.writeUInt16BE(id, 2);
  return b;
}

export class BenchClient {
  /**
   * @param {object} o
   * @param {number} o.port
   * @param {string} [o.host]
   * @param {string} o.clientId
   * @param {boolean} [o.clean]
   * @param {number} [o.keepalive]
   * @param {number} [o.protocolVersion] 4 (3.1.1) or 5
   * @param {(c: BenchClient, payload: Buffer, qos: number) => void} [o.onMessage] called for each PUBLISH received
   * @param {(c: BenchClient) => void} [o.onAck] called when a QoS 1/2 publish completes
   */
  constructor(o) {
    this.port = o.port;
    this.host = o.host ?? '127.0.0.1';
    this.clientId = o.clientId;
    this.clean = o.clean ?? true;
    this.keepalive = o.keepalive ?? 60;
    this.protocolVersion = o.protocolVersion ?? 4;
    this.onMessage = o.onMessage ?? null;
    this.onAck = o.onAck ?? null;
    this.sock = null;
    this.parser = mqttPacket.parser({ protocolVersion: this.protocolVersion });
    this.waiters = new Map();
    this.closed = false;
    this.expectClose = false;
    this.unexpectedClose = false;
    this.now = 0n;
    // Publisher state.
    this.tpl = null;
    this.qos = 0;
    this.window = 0;
    this.inflight = 0;
    this.inUse = null;
    this.nextId = 1;
    this.seq = 0;
    this.sent = 0;
    this.acked = 0;
    this.limit = Infinity;
    this.running = false;
    this.rate = 0;
    this.rateStart = 0n;
    this.timer = null;
    this.pumpScheduled = false;
    this.paused = false;
    this.parser.on('packet', (p) => this.handlePacket(p));
    this.parser.on('error', (err) => this.fail(err));
  }

  /** Opens the socket, sends CONNECT and resolves with the CONNACK. */
  connect(timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port: this.port, host: this.host, noDelay: true });
      this.sock = sock;
      const timer = setTimeout(() => {
        this.waiters.delete('connack');
        sock.destroy();
        reject(new Error(`connack timeout for ${this.clientId}`));
      }, timeoutMs);
      this.waiters.set('connack', (p) => {
        clearTimeout(timer);
        const code = p.returnCode ?? p.reasonCode ?? 0;
        if (code !== 0) {
          reject(new Error(`connect refused for ${this.clientId}: code ${code}`));
          return;
        }
        resolve(p);
      });
      sock.on('connect', () => {
        const packet = {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: this.protocolVersion,
          clean: this.clean,
          clientId: this.clientId,
          keepalive: this.keepalive,
        };
        if (this.protocolVersion === 5 && !this.clean) packet.properties = { sessionExpiryInterval: 3600 };
        sock.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
      });
      sock.on('data', (chunk) => this.handleData(chunk));
      sock.on('error', (err) => {
        clearTimeout(timer);
        if (this.waiters.has('connack')) {
          this.waiters.delete('connack');
          reject(err);
        }
      });
      sock.on('close', () => {
        this.closed = true;
        this.stopPublishing();
        if (!this.expectClose) this.unexpectedClose = true;
        for (const [key, w] of this.waiters) if (key !== 'connack') w(null);
        this.waiters.clear();
      });
    });
  }

  subscribe(filter, qos, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const messageId = 1;
      const timer = setTimeout(() => reject(new Error(`suback timeout for ${this.clientId}`)), timeoutMs);
      this.waiters.set(`suback:${messageId}`, (p) => {
        clearTimeout(timer);
        if (p === null) reject(new Error(`closed before suback: ${this.clientId}`));
        else if ((p.granted ?? [])[0] >= 0x80) reject(new Error(`subscribe refused: ${filter}`));
        else resolve(p);
      });
      const packet = { cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }] };
      this.sock.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
    });
  }

  /** Sends DISCONNECT and closes; resolves once the socket is closed. */
  disconnect() {
    return new Promise((resolve) => {
      if (this.closed || !this.sock) {
        resolve();
        return;
      }
      this.expectClose = true;
      this.stopPublishing();
      this.sock.once('close', () => resolve());
      this.sock.end(mqttPacket.generate({ cmd: 'disconnect' }, { protocolVersion: this.protocolVersion }));
      setTimeout(() => this.sock.destroy(), 2000).unref();
    });
  }

  destroy() {
    this.expectClose = true;
    this.stopPublishing();
    this.sock?.destroy();
  }

  handleData(chunk) {
    // One receive time per chunk: every message in it arrived together, and hrtime per message costs more.
    this.now = process.hrtime.bigint();
    this.sock.cork();
    this.parser.parse(chunk);
    this.sock.uncork();
    if (this.running && this.qos > 0 && this.rate === 0) this.pump();
    if (chunk.length >= PAUSE_AT && !this.paused) {
      // A full chunk means a backlog. libuv would read up to 32 chunks per socket per loop turn; with 100
      // backlogged sockets one turn takes seconds and the driver's IPC requests wait. One chunk per turn.
      this.paused = true;
      this.sock.pause();
      setImmediate(() => {
        this.paused = false;
        if (!this.closed) this.sock.resume();
      });
    }
  }

  handlePacket(p) {
    switch (p.cmd) {
      case 'publish': {
        if (p.qos === 1) this.sock.write(ack(0x40, p.messageId));
        else if (p.qos === 2) this.sock.write(ack(0x50, p.messageId));
        if (this.onMessage !== null) this.onMessage(this, p.payload, p.qos);
        return;
      }
      case 'pubrel':
        this.sock.write(ack(0x70, p.messageId));
        return;
      case 'puback':
      case 'pubcomp':
        this.release(p.messageId);
        return;
      case 'pubrec':
        this.sock.write(ack(0x62, p.messageId));
        return;
      case 'connack':
      case 'suback': {
        const key = p.cmd === 'connack' ? 'connack' : `suback:${p.messageId}`;
        const w = this.waiters.get(key);
        this.waiters.delete(key);
        if (w) w(p);
        return;
      }
      default:
        return;
    }
  }

  release(id) {
    if (this.inUse === null || this.inUse[id] === 0) return;
    this.inUse[id] = 0;
    this.inflight--;
    this.acked++;
    if (this.onAck !== null) this.onAck(this);
  }

  fail(err) {
    this.lastError = err;
    this.sock?.destroy();
  }

  /**
   * Starts publishing to one topic. QoS 0 without a rate goes as fast as the socket drains; QoS 1/2 keep at most
   * `window` messages unacknowledged; `rate` (msgs/s) paces sending for latency runs; `limit` stops after N.
   */
  startPublishing({ topic, qos, payloadSize = 64, window = 64, rate = 0, limit = Infinity }) {
    this.tpl = publishTemplate({ topic, qos, payloadSize, protocolVersion: this.protocolVersion });
    this.qos = qos;
    this.window = qos > 0 ? window : Infinity;
    this.inUse = qos > 0 ? new Uint8Array(MAX_ID + 1) : null;
    this.limit = limit;
    this.rate = rate;
    this.running = true;
    if (rate > 0) {
      this.rateStart = process.hrtime.bigint();
      this.timer = setInterval(() => this.paced(), 1);
    } else {
      this.pump();
    }
  }

  stopPublishing() {
    this.running = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** True when a limited publisher has sent everything and, for QoS 1/2, had it all acknowledged. */
  get done() {
    return this.sent >= this.limit && (this.qos === 0 || this.inflight === 0);
  }

  paced() {
    if (!this.running || this.closed) return;
    const elapsedNs = process.hrtime.bigint() - this.rateStart;
    const due = Math.floor((Number(elapsedNs) / 1e9) * this.rate) - this.sent;
    const room = Math.min(due, this.window - this.inflight, this.limit - this.sent);
    if (room > 0) this.writeBatch(room);
  }

  pump() {
    if (!this.running || this.closed) return;
    if (this.qos > 0) {
      const room = Math.min(this.window - this.inflight, this.limit - this.sent);
      if (room > 0) this.writeBatch(room);
      return;
    }
    for (let i = 0; i < BATCHES_PER_TURN; i++) {
      const n = Math.min(QOS0_BATCH, this.limit - this.sent);
      if (n <= 0) return;
      const ok = this.writeBatch(n);
      if (!ok || this.sock.writableLength > QOS0_HIGH_WATER) {
        this.sock.once('drain', () => this.pump());
        return;
      }
    }
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  writeBatch(n) {
    const { buf: tpl, idOffset, payloadOffset } = this.tpl;
    const len = tpl.length;
    const out = Buffer.allocUnsafe(len * n);
    const ts = process.hrtime.bigint();
    for (let k = 0; k < n; k++) {
      const base = k * len;
      tpl.copy(out, base);
      out.writeBigUInt64LE(ts, base + payloadOffset);
      out.writeUInt32LE(this.seq++ >>> 0, base + payloadOffset + 8);
      if (idOffset >= 0) {
        const id = this.allocId();
        out.writeUInt16BE(id, base + idOffset);
      }
    }
    this.sent += n;
    return this.sock.write(out);
  }

  allocId() {
    // Packet ids only need to be unique among unacknowledged messages [MQTT-2.2.1-3]; skip ids still in use.
    let id = this.nextId;
    while (this.inUse[id] !== 0) id = id === MAX_ID ? 1 : id + 1;
    this.nextId = id === MAX_ID ? 1 : id + 1;
    this.inUse[id] = 1;
    this.inflight++;
    return id;
  }
}
