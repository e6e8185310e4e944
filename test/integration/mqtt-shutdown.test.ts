// Graceful stop with clients connected (DESIGN.md "Control plane": a bounded graceful stop that
// flushes the store): SIGTERM ends the process with code 0 well inside the 10 s guard, v5 clients get
// DISCONNECT 0x8B Server shutting down, and persistent sessions are there after the restart.
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon.js';
import { connectClient, RawClient, uid, waitClose } from '../helpers/mqtt-clients.js';

describe('graceful stop with connected clients', () => {
  it('SIGTERM: exit code 0 within 5 s, v5 DISCONNECT 0x8B, v3 sockets closed, session kept', async () => {
    const d = await startDaemon();
    const raws: RawClient[] = [];
    try {
      const v4 = new RawClient(d.mqttPort, 4);
      raws.push(v4);
      await v4.connect({ clientId: uid('stop4') });
      const v5 = new RawClient(d.mqttPort, 5);
      raws.push(v5);
      await v5.connect({ clientId: uid('stop5') });
      const id = uid('stopp');
      const persistent = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } });
      await persistent.sub('stop/t', { qos: 1 });
      const closed = waitClose(persistent.c, 8000);
      const t0 = Date.now();
      const code = await d.stop();
      const took = Date.now() - t0;
      expect(code).toBe(0);
      expect(took).toBeLessThan(5000);
      expect(d.logs()).not.toMatch(/graceful_stop_timed_out/);
      expect(v5.packets.find((p) => p.cmd === 'disconnect')?.reasonCode).toBe(0x8b);
      await v4.waitClosed(1000);
      expect((await closed).disconnect?.reasonCode).toBe(0x8b);
      await persistent.end(true);
      await d.restart();
      const again = await connectClient(d.mqttUrl, { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } });
      expect(again.connack.sessionPresent).toBe(true);
      await again.end();
    } finally {
      for (const r of raws) r.destroy();
      await d.stop();
      d.cleanup();
    }
  });
});
