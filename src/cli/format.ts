// Human output for outpostctl: aligned tables, and the `emqx ctl` line formats where EMQX users
// already script against them (src/broker/SPEC.md §10).

export function table(headers: string[], rows: (string | number | boolean | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

function epochMs(v: unknown): string {
  if (typeof v !== 'string') return 'undefined';
  const t = Date.parse(v);
  return Number.isNaN(t) ? 'undefined' : String(t);
}

/** `emqx ctl clients show` line: Client(c1, username=u, peername=127.0.0.1:52344, …). */
export function emqxClientLine(c: Record<string, unknown>): string {
  const fields: [string, unknown][] = [
    ['username', c.username ?? 'undefined'],
    ['peername', `${String(c.ip_address)}:${String(c.port)}`],
    ['clean_start', c.clean_start],
    ['keepalive', c.keepalive],
    ['session_expiry_interval', c.expiry_interval],
    ['subscriptions', c.subscriptions_cnt],
    ['inflight', c.inflight_cnt],
    ['awaiting_rel', c.awaiting_rel_cnt],
    ['delivered_msgs', c.send_msg],
    ['enqueued_msgs', c.mqueue_len],
    ['dropped_msgs', c.mqueue_dropped],
    ['connected', c.connected],
    ['created_at', epochMs(c.created_at)],
    ['connected_at', epochMs(c.connected_at)],
  ];
  return `Client(${String(c.clientid)}, ${fields.map(([k, v]) => `${k}=${String(v)}`).join(', ')})`;
}

/** `emqx ctl subscriptions` line: c1 -> topic:t/1 qos:1 nl:0 rh:0 rap:0. */
export function emqxSubscriptionLine(s: Record<string, unknown>): string {
  return `${String(s.clientid)} -> topic:${String(s.topic)} qos:${String(s.qos)} nl:${String(s.nl)} rh:${String(s.rh)} rap:${String(s.rap)}`;
}

/** `emqx ctl` name/value lines (io:format "~-Ns: ~w"): the name padded to width, then `: value`. */
export function emqxPairs(pairs: [string, unknown][], width: number): string {
  return pairs.map(([k, v]) => `${k.padEnd(width)}: ${String(v)}`).join('\n');
}

/** A base64 payload for a table cell: the text when it is printable UTF-8, else hex; cut at 40 characters. */
export function payloadPreview(b64: string): string {
  const buf = Buffer.from(b64, 'base64');
  const text = buf.toString('utf8');
  // Control characters would break the table; U+FFFD marks bytes that were not UTF-8.
  const shown = /^[^\u0000-\u001f\u007f\ufffd]*$/.test(text) ? text : '0x' + buf.toString('hex');
  return shown.length > 40 ? shown.slice(0, 39) + '…' : shown;
}

/** '90s', '10m', '2h', '1d' or plain seconds -> milliseconds; null when malformed. */
export function parseDuration(s: string): number | null {
  const m = /^(\d+)(s|m|h|d)?$/.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function humanDuration(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return [d && `${d} days`, (d || h) && `${h} hours`, (d || h || m) && `${m} minutes`, `${s} seconds`].filter(Boolean).join(', ');
}
