// Mosquitto bridge lines (spec §3) -> native bridge keys: one `connection` block with `address`,
// identity/session options and `topic <pattern> [in|out|both [qos [local-prefix remote-prefix]]]`.
import { Problems } from './units.js';

/** Options that have no effect here (their job is done differently) and are accepted silently. */
const IGNORED = new Set([
  'bridge_attempt_unsubscribe', 'local_clientid', 'local_username', 'local_password', 'local_cleansession',
  'bridge_outgoing_retain', 'bridge_tls_version', 'bridge_max_packet_size', 'round_robin', 'idle_timeout', 'threshold',
  'autosave_interval', 'persistence', 'bridge_require_ocsp', 'bridge_alpn', 'notifications_local_only', 'bridge_bind_address',
]);

/** Splits a line into words; "" is an explicit empty word (Mosquitto's empty prefix). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2]!);
  return out;
}

function yes(v: string | undefined, p: Problems, at: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  p.add(at, `expected true or false, got ${JSON.stringify(v)}`);
  return false;
}

export function fromMosquitto(text: string, p: Problems, source: string): Record<string, unknown> {
  const out: Record<string, unknown> = { bridge_mode: true, clean_start: true };
  const servers: string[] = [];
  const egress: Record<string, unknown>[] = [];
  const ingress: Record<string, unknown>[] = [];
  const tls: Record<string, unknown> = {};
  const buffer: Record<string, unknown> = {};
  let connections = 0;
  let connName = '';
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${source}:${n + 1}`;
    const w = words(line);
    const [key, ...args] = w as [string, ...string[]];
    switch (key) {
      case 'connection':
        connections++;
        connName = args[0] ?? '';
        if (connections > 1) p.add(at, 'one connection per bridge entry (give each its own [bridges.<name>])');
        break;
      case 'address':
      case 'addresses':
        for (const a of args) servers.push(a.includes(':') ? a : `${a}:1883`);
        break;
      case 'bridge_protocol_version':
        if (args[0] === 'mqttv31') out.proto_ver = 'v3';
        else if (args[0] === 'mqttv311') out.proto_ver = 'v4';
        else if (args[0] === 'mqttv50') out.proto_ver = 'v5';
        else p.add(at, 'expected mqttv31, mqttv311 or mqttv50');
        break;
      case 'remote_clientid':
      case 'clientid':
        out.clientid = args[0];
        break;
      case 'remote_username':
      case 'username':
        out.username = args[0];
        break;
      case 'remote_password':
      case 'password':
        out.password = args[0];
        break;
      case 'cleansession':
        out.clean_start = yes(args[0], p, at);
        break;
      case 'keepalive_interval':
        out.keepalive = Number(args[0]);
        break;
      case 'try_private':
        out.bridge_mode = yes(args[0], p, at);
        break;
      case 'notifications':
        out.notifications = yes(args[0], p, at);
        break;
      case 'notification_topic':
        out.notification_topic = args[0];
        break;
      case 'restart_timeout': {
        const a = Number(args[0]);
        const b = args[1] !== undefined ? Number(args[1]) : a;
        if (!(a > 0) || !(b > 0)) p.add(at, 'expected restart_timeout <base> [<cap>] in seconds');
        else out.reconnect = { min: a, max: b };
        break;
      }
      case 'start_type':
        if (args[0] !== 'automatic') p.add(at, `start_type ${args[0]} is not supported (bridges always start automatically)`);
        break;
      case 'bridge_cafile':
        tls.enable = true;
        tls.ca_file = args[0];
        break;
      case 'bridge_certfile':
        tls.enable = true;
        tls.cert_file = args[0];
        break;
      case 'bridge_keyfile':
        tls.enable = true;
        tls.key_file = args[0];
        break;
      case 'bridge_insecure':
        tls.verify = !yes(args[0], p, at);
        break;
      case 'max_queued_messages':
        buffer.max_messages = Number(args[0]);
        break;
      case 'max_queued_bytes':
        buffer.max_bytes = Number(args[0]);
        break;
      case 'queue_qos0_messages':
        buffer.qos0 = yes(args[0], p, at) ? 'store' : 'drop_offline';
        break;
      case 'topic':
        // A `both` line asks for the two directions on purpose; origin tagging stops the echo.
        if (topicLine(args, egress, ingress, p, at)) out.allow_loop = true;
        break;
      default:
        if (!IGNORED.has(key)) p.add(at, `unsupported mosquitto option "${key}"`);
    }
  });
  if (connections === 0) p.add(source, 'no "connection <name>" line');
  if (servers.length === 0) p.add(source, 'no "address" line');
  out.servers = servers;
  if (out.clientid === undefined && connName) out.clientid = connName;
  if (Object.keys(tls).length) out.tls = tls;
  if (Object.keys(buffer).length) out.buffer = buffer;
  out.egress = egress;
  out.ingress = ingress;
  return out;
}

function topicLine(args: string[], egress: Record<string, unknown>[], ingress: Record<string, unknown>[], p: Problems, at: string): boolean {
  const [pattern = '', dir = 'out', qosStr = '0', lp = '', rp = ''] = args;
  if (args.length === 0) {
    p.add(at, 'topic needs a pattern');
    return false;
  }
  const qos = Number(qosStr);
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    p.add(at, `topic qos must be 0, 1 or 2, got ${qosStr}`);
    return false;
  }
  if (dir !== 'in' && dir !== 'out' && dir !== 'both') {
    p.add(at, `topic direction must be in, out or both, got ${dir}`);
    return false;
  }
  // `topic "" local remote` remaps one topic; otherwise prefixes are swapped around the pattern.
  const single = pattern === '';
  if (single && (lp === '' || rp === '')) {
    p.add(at, 'topic "" needs both a local and a remote topic');
    return false;
  }
  if (dir === 'out' || dir === 'both') {
    egress.push(single ? { filter: lp, topic: rp, qos, retain: '${retain}' } : { filter: lp + pattern, strip_prefix: lp, prefix: rp, qos, retain: '${retain}' });
  }
  if (dir === 'in' || dir === 'both') {
    ingress.push(single ? { filter: rp, topic: lp, qos, no_local: true } : { filter: rp + pattern, strip_prefix: rp, prefix: lp, qos, no_local: true });
  }
  return dir === 'both';
}
