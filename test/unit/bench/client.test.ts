import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { Aedes } from 'aedes';
import { BenchClient, PAYLOAD_HEADER, publishTemplate } from '../../../scripts/bench/lib/client.mjs';

type Packet = mqttPacket.Packet & { messageId?: number; topic?: string; payload?: Buffer; qos?: number };

function decode(buf: Buffer, protocolVersion: 4 | 5): Packet[] {
  const out: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion });
  parser.on('packet', (p) => {
    out.push(p as Packet);
  });
  parser.parse(buf);
  return out;
}

describe('publishTemplate', () => {
  for (const protocolVersion of [4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      it(`patches packet id and payload at the right offsets (v${protocolVersion}, QoS ${qos})`, () => {
        const t = publishTemplate({ topic: 'bench/a/b', qos, payloadSize: 40, protocolVersion });
        const buf = Buffer.from(t.buf);
        if (qos > 0) buf.writeUInt16BE(0xbeef, t.idOffset);
        else expect(t.idOffset).toBe(-1);
        buf.writeBigUInt64LE(123456789n, t.payloadOffset);
        buf.writeUInt32LE(77, t.payloadOffset + 8);
        const [p] = decode(buf, protocolVersion);
        expect(p.cmd).toBe('publish');
        expect(p.topic).toBe('bench/a/b');
        expect(p.qos).toBe(qos);
        if (qos > 0) expect(p.messageId).toBe(0xbeef);
        expect(p.payload!.length).toBe(40);
        expect(p.payload!.readBigUInt64LE(0)).toBe(123456789n);
        expect(p.payload!.readUInt32LE(8)).toBe(77);
      });
    }
  }

  it('never makes a payload shorter than the timestamp and sequence header', () => {
    const t = publishTemplate({ topic: 't', qos: 0, payloadSize: 1 });
    expect(t.buf.length - t.payloadOffset).toBe(PAYLOAD_HEADER);
  });
});

describe('BenchClient against aedes on loopback', () => {
  let broker: Aedes;
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });

  for (const qos of [0, 1, 2] as const) {
    it(`delivers a limited run at QoS ${qos}, every sequence number once, with a bounded inflight window`, async () => {
      const seqs = new Set<number>();
      let maxInflight = 0;
      const sub = new BenchClient({
        port,
        clientId: `t-sub-${qos}`,
        onMessage: (_c: unknown, payload: Buffer, q: number) => {
          expect(q).toBe(qos);
          seqs.add(payload.readUInt32LE(8));
        },
      });
      await sub.connect();
      await sub.subscribe(`t/q${qos}`, qos);
      const pub = new BenchClient({ port, clientId: `t-pub-${qos}` });
      pub.onAck = (c: { inflight: number }) => {
        maxInflight = Math.max(maxInflight, c.inflight + 1);
      };
      await pub.connect();
      pub.startPublishing({ topic: `t/q${qos}`, qos, payloadSize: 32, window: 8, limit: 2000 });
      const deadline = Date.now() + 10_000;
      while ((seqs.size < 2000 || !pub.done) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(seqs.size).toBe(2000);
      expect(pub.sent).toBe(2000);
      expect(pub.done).toBe(true);
      if (qos > 0) {
        expect(pub.acked).toBe(2000);
        expect(pub.inflight).toBe(0);
        expect(maxInflight).toBeLessThanOrEqual(8);
      }
      await pub.disconnect();
      await sub.disconnect();
      expect(sub.unexpectedClose).toBe(false);
    });
  }

  it('paces publishing at the requested rate', async () => {
    const pub = new BenchClient({ port, clientId: 't-paced' });
    await pub.connect();
    const t0 = performance.now();
    pub.startPublishing({ topic: 't/paced', qos: 1, rate: 1000 });
    await new Promise((r) => setTimeout(r, 500));
    pub.stopPublishing();
    const elapsedMs = performance.now() - t0;
    // 1 msg per ms of elapsed time, never ahead of it; timers on a busy machine run late, so allow a shortfall.
    expect(pub.sent).toBeLessThanOrEqual(Math.ceil(elapsedMs) + 1);
    expect(pub.sent).toBeGreaterThan(elapsedMs * 0.5);
    await pub.disconnect();
  });

  it('rejects connect when nothing listens', async () => {
    const c = new BenchClient({ port: 1, clientId: 'nobody' });
    await expect(c.connect(2000)).rejects.toThrow();
  });
});
