// DTLS 1.2 server transport for the UDP gateways: the one entry point gateways import.
import { type BindOptions, bindUdp } from '../datagram.js';
import { loadNative } from './addon.js';
import { DtlsListener } from './listener.js';
import type { DtlsListenerOptions, DtlsSocket } from './types.js';

export type { DtlsCertOptions, DtlsListenerOptions, DtlsSocket, DtlsStats, PskSource } from './types.js';
export { DEFAULT_CIPHERS } from './listener.js';

/** { ok: false, reason } when the native addon is missing (optional, built on install). */
export function dtlsSupport(): { ok: true } | { ok: false; reason: string } {
  const n = loadNative();
  return 'native' in n ? { ok: true } : { ok: false, reason: n.reason };
}

/** A SocketFactory binding UDP like bindUdp and layering DTLS on it. Rejects with the reason
 *  when the addon is missing, or when keys/certificates cannot be loaded. */
export function dtlsSocketFactory(opts: DtlsListenerOptions): (bind: string, port: number, o?: BindOptions) => Promise<DtlsSocket> {
  return async (bind, port, o) => {
    const n = loadNative();
    if (!('native' in n)) throw new Error(n.reason);
    // A bad certfile or cipher list fails the listener, and the port is released again.
    const raw = await bindUdp(bind, port, o);
    try {
      return new DtlsListener(raw, n.native, opts);
    } catch (err) {
      await raw.close();
      throw err;
    }
  };
}
