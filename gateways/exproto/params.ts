// Fixed timings and reply texts of the ExProto gateway (gateways/exproto/SPEC.md §3, §4).

/** Silence of interval x 1.5 ends a connection whose handler started a keepalive (EMQX keepalive_multiplier). */
export const KEEPALIVE_MULTIPLIER = 1.5;

/** A closing connection's queued handler events get this long before OnSocketClosed is sent anyway (EMQX: 15 s). */
export const CLOSE_FLUSH_MS = 15_000;

/** Stream chunks waiting together are merged into one OnReceivedBytes up to this size. */
export const MAX_MERGED_BYTES = 64 * 1024;

/** Device bytes queued for a handler that does not keep up; more closes the device (handler_backlog). */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** Period of the one keepalive sweep per gateway (EMQX checks every max(1 s, min(interval / 2, 30 s))). */
export const KEEPALIVE_SWEEP_MS = 500;

/** CodeResponse.message texts, spelled as EMQX answers them so handlers that compare them keep working. */
export const MSG = {
  notAlive: 'Connection process is not alive',
  duplicatedAuth: 'Duplicated authenticate command',
  socketGone: 'Client socket disconnected',
  authzDeny: 'Authorization deny',
  unexpectedCall: 'unexpected_call',
  badConn: 'Invalid conn: not issued by this gateway',
} as const;
