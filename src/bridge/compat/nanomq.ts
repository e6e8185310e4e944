// NanoMQ `bridges.mqtt.<name>` (spec §2) -> native bridge keys. forwards -> egress,
// subscription -> ingress (with NanoMQ's wildcard remap: a '+'/'#' in local_topic takes the level(s)
// the same wildcard matched in remote_topic), cache.disk_cache_size -> buffer.max_messages.
import { bool, isRecord, Problems, secs, str } from './units.js';

const KNOWN = new Set([
  'server', 'proto_ver', 'clientid', 'keepalive', 'backoff_max', 'clean_start', 'username', 'password', 'forwards',
  'subscription', 'max_parallel_processes', 'max_send_queue_len', 'max_recv_queue_len', 'resend_interval',
  'resend_wait', 'cancel_timeout', 'retry_qos_0', 'ssl', 'conn_properties', 'sub_properties', 'cache', 'transparent',
  'enable', 'hybrid_bridging', 'quic_keepalive',
]);

function server(url: string, p: Problems): { addr: string; tls: boolean } | null {
  const m = /^(tls\+)?mqtt-tcp:\/\/(.+)$/.exec(url.trim());
  if (m) return { addr: m[2]!, tls: m[1] !== undefined };
  if (/^mqtt-quic:/.test(url)) p.add('nanomq.server', 'QUIC bridges are not supported; use mqtt-tcp:// or tls+mqtt-tcp://');
  else p.add('nanomq.server', `expected mqtt-tcp://host:port or tls+mqtt-tcp://host:port, got ${JSON.stringify(url)}`);
  return null;
}

/** NanoMQ local_topic with wildcards -> a template using the remote filter's captures. */
export function remapTemplate(remoteFilter: string, localTopic: string, p: Problems, path: string): string {
  const remote = remoteFilter.split('/');
  const plusCount = remote.filter((l) => l === '+').length;
  const hasHash = remote.includes('#');
  let plusSeen = 0;
  return localTopic
    .split('/')
    .map((lvl) => {
      if (lvl === '+') {
        plusSeen++;
        if (plusSeen > plusCount) p.add(path, `local_topic has more '+' than remote_topic "${remoteFilter}"`);
        return `\${match.${plusSeen}}`;
      }
      if (lvl === '#') {
        if (!hasHash) p.add(path, `local_topic has '#' but remote_topic "${remoteFilter}" does not`);
        return '${match.#}';
      }
      return lvl;
    })
    .join('/');
}

export function fromNanomq(block: unknown, p: Problems): Record<string, unknown> {
  if (!isRecord(block)) {
    p.add('nanomq', 'expected a table');
    return {};
  }
  for (const k of Object.keys(block)) if (!KNOWN.has(k)) p.add(`nanomq.${k}`, 'unsupported NanoMQ bridge key');
  if (block.transparent === true) p.add('nanomq.transparent', 'transparent bridging is not supported');
  const out: Record<string, unknown> = {};
  const url = str(block, 'server', p, 'nanomq');
  const srv = url !== undefined ? server(url, p) : (p.add('nanomq.server', 'required'), null);
  if (srv) out.servers = [srv.tls ? `mqtts://${srv.addr}` : srv.addr];
  const pv = block.proto_ver;
  if (pv !== undefined) {
    if (pv === 3 || pv === 4 || pv === 5) out.proto_ver = `v${pv}`;
    else p.add('nanomq.proto_ver', 'expected 3, 4 or 5');
  }
  for (const k of ['clientid', 'username', 'password'] as const) {
    const v = str(block, k, p, 'nanomq');
    if (v !== undefined) out[k] = v;
  }
  const cs = bool(block, 'clean_start', p, 'nanomq');
  if (cs !== undefined) out.clean_start = cs;
  const ka = secs(block, 'keepalive', p, 'nanomq');
  if (ka !== undefined) out.keepalive = Math.round(ka);
  const bm = secs(block, 'backoff_max', p, 'nanomq');
  if (bm !== undefined) out.reconnect = { max: bm, min: Math.min(1, bm) };
  if (isRecord(block.conn_properties) && typeof block.conn_properties.session_expiry_interval === 'number') {
    out.session_expiry_interval = block.conn_properties.session_expiry_interval;
  }
  if (typeof block.max_send_queue_len === 'number') out.replay = { inflight: block.max_send_queue_len };
  const buffer: Record<string, unknown> = {};
  const retry0 = bool(block, 'retry_qos_0', p, 'nanomq');
  if (retry0 !== undefined) buffer.qos0 = retry0 ? 'store' : 'drop_offline';
  if (isRecord(block.cache) && typeof block.cache.disk_cache_size === 'number' && block.cache.disk_cache_size > 0) {
    buffer.max_messages = block.cache.disk_cache_size;
  }
  if (Object.keys(buffer).length) out.buffer = buffer;
  if (isRecord(block.ssl)) {
    const tls: Record<string, unknown> = { enable: true };
    for (const [from, to] of [['cacertfile', 'ca_file'], ['certfile', 'cert_file'], ['keyfile', 'key_file']] as const) {
      const v = str(block.ssl, from, p, 'nanomq.ssl');
      if (v !== undefined) tls[to] = v;
    }
    const vp = bool(block.ssl, 'verify_peer', p, 'nanomq.ssl');
    if (vp !== undefined) tls.verify = vp;
    out.tls = tls;
  }
  const forwards = Array.isArray(block.forwards) ? block.forwards : [];
  out.egress = forwards.flatMap((f, i) => {
    const path = `nanomq.forwards.${i}`;
    if (!isRecord(f) || typeof f.local_topic !== 'string') {
      p.add(`${path}.local_topic`, 'required');
      return [];
    }
    const e: Record<string, unknown> = { filter: f.local_topic };
    // remote_topic "" (or absent) keeps the original topic.
    if (typeof f.remote_topic === 'string' && f.remote_topic !== '') e.topic = f.remote_topic;
    if (typeof f.prefix === 'string') e.prefix = f.prefix;
    if (typeof f.suffix === 'string') e.suffix = f.suffix;
    if (f.qos === 0 || f.qos === 1 || f.qos === 2) e.qos = f.qos;
    if (typeof f.retain === 'number') e.retain = f.retain === 2 ? '${retain}' : f.retain === 1;
    return [e];
  });
  const subs = Array.isArray(block.subscription) ? block.subscription : [];
  out.ingress = subs.flatMap((s, i) => {
    const path = `nanomq.subscription.${i}`;
    if (!isRecord(s) || typeof s.remote_topic !== 'string') {
      p.add(`${path}.remote_topic`, 'required');
      return [];
    }
    const m: Record<string, unknown> = { filter: s.remote_topic, no_local: false };
    if (typeof s.local_topic === 'string' && s.local_topic !== '') m.topic = remapTemplate(s.remote_topic, s.local_topic, p, `${path}.local_topic`);
    if (typeof s.prefix === 'string') m.prefix = s.prefix;
    if (typeof s.suffix === 'string') m.suffix = s.suffix;
    if (s.qos === 0 || s.qos === 1 || s.qos === 2) m.qos = s.qos;
    // retain: 0/1 override, 2 keeps the flag as received.
    if (typeof s.retain === 'number') m.retain = s.retain === 2 ? '${retain}' : s.retain === 1;
    return [m];
  });
  return out;
}
