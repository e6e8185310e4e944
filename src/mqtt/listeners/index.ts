// PLACEHOLDER until the TLS/WebSocket listeners land.
import type { Logger } from 'pino';
import type { AcceptFn, ListenerHandle } from '../listener.js';

export async function startExtraListeners(_config: unknown, _accept: AcceptFn, _log: Logger): Promise<ListenerHandle[]> {
  return [];
}
