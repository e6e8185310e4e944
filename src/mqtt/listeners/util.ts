// Small helpers shared by the TLS and WebSocket listeners.
import type { AcceptedConnection } from '../listener.js';

type CertAsCfg = { peer_cert_as_username: 'disabled' | 'cn' | 'dn' | 'san'; peer_cert_as_clientid: 'disabled' | 'cn' | 'dn' | 'san' };

/** The listener's identity overrides as AcceptedConnection.certAs (absent when both are disabled). */
export function certAsOf(cfg: CertAsCfg): Pick<AcceptedConnection, 'certAs'> {
  const certAs: NonNullable<AcceptedConnection['certAs']> = {};
  if (cfg.peer_cert_as_username !== 'disabled') certAs.username = cfg.peer_cert_as_username;
  if (cfg.peer_cert_as_clientid !== 'disabled') certAs.clientId = cfg.peer_cert_as_clientid;
  return certAs.username || certAs.clientId ? { certAs } : {};
}

/** config.listeners[type][name] from a full config passed to reload (typed unknown by ListenerHandle). */
export function configOf(config: unknown, type: 'ssl' | 'ws' | 'wss', name: string): unknown {
  const listeners = (config as { listeners?: Record<string, Record<string, unknown> | undefined> } | null)?.listeners;
  return listeners?.[type]?.[name] ?? null;
}
