// Ports for servers whose address must be known before they start (a mosquitto upstream, the
// ExProto adapter and handler, each told the other's address).
import * as net from 'node:net';

/**
 * A free TCP port on 127.0.0.1, picked below the kernel's ephemeral range (32768+): a port handed
 * out by a bind to port 0 elsewhere in the suite, between this check and the real bind, once cost
 * an ExProto gateway its adapter (EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(p, '127.0.0.1', () => r(true));
    });
    if (ok) {
      await new Promise<void>((r) => s.close(() => r()));
      return p;
    }
  }
  throw new Error('no free port found in 20000-31999 after 50 tries');
}
