// MQTT over TLS (EMQX listeners.ssl, default port 8883).
import type { Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { AcceptFn, ListenerHandle } from '../listener.js';
import type { SslListenerConfig } from './config.js';
import { AcceptGate, gateOptions } from './gate.js';
import { peerCertificate, rejectBadPeerCert, secureContextOptions, serverOptions } from './tls-options.js';
import { certAsOf, configOf } from './util.js';

export async function startTlsListener(name: string, cfg: SslListenerConfig, accept: AcceptFn, log: Logger): Promise<ListenerHandle> {
  const id = `ssl:${name}`;
  const llog = log.child({ listener: id });
  let current = cfg;
  // verify / fail_if_no_peer_cert are server options fixed at start; a reload cannot change them.
  const verifyOpts = cfg.ssl_options;
  const tls = createTlsServer(serverOptions(cfg.ssl_options, id));
  let port = 0;
  tls.on('secureConnection', (s: TLSSocket) => {
    const raw = (s as unknown as { _parent?: Socket })._parent;
    const bad = rejectBadPeerCert(verifyOpts, s);
    if (bad) {
      llog.info({ peer: `${s.remoteAddress}:${s.remotePort}`, reason: bad }, 'tls_peer_cert_rejected');
      s.destroy();
      return;
    }
    // The gate's pre-accept deadline is for the handshake only; MQTT keepalive rules from here.
    if (raw) gate.release(raw);
    const cert = peerCertificate(s);
    accept({
      socket: s,
      listener: id,
      peerHost: s.remoteAddress ?? '',
      peerPort: s.remotePort ?? 0,
      sockPort: port,
      ...(cert ? { cert } : {}),
      ...certAsOf(current),
    });
  });
  tls.on('tlsClientError', (err, s) => {
    llog.info({ peer: `${s.remoteAddress}:${s.remotePort}`, reason: err.message, code: (err as NodeJS.ErrnoException).code }, 'tls_handshake_failed');
  });
  const gate = new AcceptGate(gateOptions(id, cfg, llog, (sock) => tls.emit('connection', sock)));
  port = await gate.listen();
  llog.info({ bind: cfg.bind, port, verify: cfg.ssl_options.verify }, 'listener_started');
  return {
    id,
    type: 'ssl',
    bind: cfg.bind,
    get port() {
      return port;
    },
    currentConnections: () => gate.current(),
    close: async () => {
      await gate.close();
    },
    async reload(config: unknown) {
      const next = configOf(config, 'ssl', name) as SslListenerConfig | null;
      if (!next) throw new Error(`listener ${id} is no longer configured`);
      // Build everything first: a missing or bad file throws and the old context stays.
      const ctx = secureContextOptions(next.ssl_options, id);
      createSecureContext(ctx);
      tls.setSecureContext(ctx);
      if (next.ssl_options.verify !== verifyOpts.verify || next.ssl_options.fail_if_no_peer_cert !== verifyOpts.fail_if_no_peer_cert) {
        llog.warn('listener_verify_change_needs_restart');
      }
      gate.setLimits(next.max_connections, next.max_conn_rate);
      current = next;
      llog.info('listener_certificates_reloaded');
    },
  };
}
