// EMQX 5 MQTT bridge blocks (spec §1) -> native bridge keys. Accepts the 5.4+ connector/actions/
// sources/rules form (also nested as connectors.mqtt.<name>, actions.mqtt.<name>, …) and the
// 5.0–5.3 single object with egress/ingress. HOCON is written as TOML tables with the same keys.
// EMQX's hidden 45 s request_ttl is NOT carried over: only an explicit request_ttl becomes buffer.ttl.
import { bool, isRecord, parseBytes, Problems, secs, str } from './units.js';

const CONNECTOR_KEYS = new Set([
  'server', 'proto_ver', 'bridge_mode', 'clientid_prefix', 'static_clientids', 'username', 'password', 'clean_start',
  'keepalive', 'retry_interval', 'max_inflight', 'connect_timeout', 'pool_size', 'ssl', 'resource_opts', 'enable',
  'description', 'tags',
]);

function qosValue(v: unknown, p: Problems, path: string): number | string | undefined {
  if (v === undefined) return undefined;
  if (v === 0 || v === 1 || v === 2 || v === '${qos}') return v;
  if (v === '0' || v === '1' || v === '2') return Number(v);
  p.add(path, `qos must be 0, 1, 2 or "\${qos}", got ${JSON.stringify(v)}`);
  return undefined;
}

function retainValue(v: unknown, p: Problems, path: string): boolean | string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean' || v === '${retain}' || v === '${flags.retain}') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  p.add(path, `retain must be true, false, "\${retain}" or "\${flags.retain}", got ${JSON.stringify(v)}`);
  return undefined;
}

function connection(c: Record<string, unknown>, p: Problems, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(c)) if (!CONNECTOR_KEYS.has(k) && k !== 'egress' && k !== 'ingress') p.add(`${path}.${k}`, 'unsupported EMQX connector key');
  const server = str(c, 'server', p, path);
  const ssl = isRecord(c.ssl) ? c.ssl : {};
  const tlsOn = bool(ssl, 'enable', p, `${path}.ssl`) ?? false;
  if (server === undefined) p.add(`${path}.server`, 'required');
  else out.servers = server.split(',').map((s) => (tlsOn ? `mqtts://${s.trim()}` : s.trim()));
  const pv = c.proto_ver;
  if (pv !== undefined) {
    if (pv === 'v3' || pv === 'v4' || pv === 'v5') out.proto_ver = pv;
    else p.add(`${path}.proto_ver`, 'expected v3, v4 or v5');
  }
  // EMQX defaults differ from ours: bridge_mode off, clean_start on.
  out.bridge_mode = bool(c, 'bridge_mode', p, path) ?? false;
  out.clean_start = bool(c, 'clean_start', p, path) ?? true;
  const statics = c.static_clientids;
  if (Array.isArray(statics) && isRecord(statics[0]) && Array.isArray(statics[0].ids) && isRecord(statics[0].ids[0])) {
    const id = statics[0].ids[0];
    if (typeof id.clientid === 'string') out.clientid = id.clientid;
    if (typeof id.username === 'string') out.username = id.username;
    if (typeof id.password === 'string') out.password = id.password;
  } else {
    // Our client id is stable (spec §5.5); the EMQX prefix becomes the whole id.
    const prefix = str(c, 'clientid_prefix', p, path);
    if (prefix !== undefined) out.clientid = prefix;
  }
  const user = str(c, 'username', p, path);
  if (user !== undefined) out.username = user;
  const pass = str(c, 'password', p, path);
  if (pass !== undefined) out.password = pass;
  const ka = secs(c, 'keepalive', p, path);
  if (ka !== undefined) out.keepalive = Math.round(ka);
  const ct = secs(c, 'connect_timeout', p, path);
  if (ct !== undefined) out.connect_timeout = ct;
  const replay: Record<string, unknown> = {};
  if (typeof c.max_inflight === 'number') replay.inflight = c.max_inflight;
  const ri = secs(c, 'retry_interval', p, path);
  if (ri !== undefined) replay.retry_interval = ri;
  if (Object.keys(replay).length) out.replay = replay;
  if (tlsOn) {
    const tls: Record<string, unknown> = { enable: true };
    const verify = ssl.verify;
    if (verify !== undefined) tls.verify = verify !== 'verify_none';
    for (const [from, to] of [['cacertfile', 'ca_file'], ['certfile', 'cert_file'], ['keyfile', 'key_file']] as const) {
      const v = str(ssl, from, p, `${path}.ssl`);
      if (v !== undefined) tls[to] = v;
    }
    const sni = str(ssl, 'server_name_indication', p, `${path}.ssl`);
    if (sni !== undefined && sni !== 'disable') tls.server_name = sni;
    out.tls = tls;
  }
  return out;
}

/** `SELECT * FROM "a/#", "b"` -> ['a/#', 'b']; anything else is reported. */
export function ruleSources(sql: string, p: Problems, path: string): string[] {
  const m = /^\s*select\s+\*\s+from\s+(.+?)\s*;?\s*$/is.exec(sql);
  if (!m || /\swhere\s/i.test(m[1]!)) {
    p.add(path, 'only rules of the form SELECT * FROM "<filter>"[, "<filter>"] are supported for bridges');
    return [];
  }
  const out: string[] = [];
  const re = /"([^"]+)"|'([^']+)'/g;
  let q: RegExpExecArray | null;
  while ((q = re.exec(m[1]!))) out.push(q[1] ?? q[2]!);
  if (out.length === 0) p.add(path, 'no quoted topic after FROM');
  return out;
}

function named(o: unknown): Record<string, Record<string, unknown>> {
  if (!isRecord(o)) return {};
  const inner = isRecord(o.mqtt) ? o.mqtt : o;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(inner)) if (isRecord(v)) out[k] = v;
  return out;
}

function refersTo(ref: unknown, kind: string, name: string): boolean {
  return ref === `mqtt:${name}` || ref === name || ref === `${kind}:mqtt:${name}`;
}

function egressFrom(params: Record<string, unknown>, filter: string, p: Problems, path: string): Record<string, unknown> {
  const e: Record<string, unknown> = { filter };
  const topic = str(params, 'topic', p, path);
  if (topic === undefined) p.add(`${path}.topic`, 'required');
  else e.topic = topic;
  const q = qosValue(params.qos, p, `${path}.qos`);
  e.qos = q ?? 1;
  const r = retainValue(params.retain, p, `${path}.retain`);
  e.retain = r ?? false;
  // EMQX: an empty (or absent) payload template sends the rule output as JSON (spec §1.2).
  e.payload = typeof params.payload === 'string' ? params.payload : '';
  return e;
}

function ingressFrom(remote: Record<string, unknown>, local: Record<string, unknown> | null, p: Problems, path: string): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const topic = str(remote, 'topic', p, path);
  if (topic === undefined) p.add(`${path}.topic`, 'required');
  else m.filter = topic;
  const q = qosValue(remote.qos, p, `${path}.qos`);
  if (typeof q === 'number') m.qos = q;
  const nl = bool(remote, 'no_local', p, path);
  m.no_local = nl ?? false;
  if (local) {
    const lt = str(local, 'topic', p, path);
    if (lt !== undefined) m.topic = lt;
    const lq = qosValue(local.qos, p, `${path}.qos`);
    if (lq !== undefined) m.local_qos = lq;
    const lr = retainValue(local.retain, p, `${path}.retain`);
    if (lr !== undefined) m.retain = lr;
    if (local.payload !== undefined && local.payload !== '${payload}') p.add(`${path}.payload`, 'ingress payload templates other than "${payload}" are not supported');
  }
  return m;
}

export function fromEmqx(block: unknown, p: Problems): Record<string, unknown> {
  if (!isRecord(block)) {
    p.add('emqx', 'expected a table');
    return {};
  }
  if (block.server !== undefined) return fromEmqxLegacy(block, p);
  const connectors: Record<string, unknown> = block.connector !== undefined ? { connector: block.connector } : named(block.connectors);
  const names = Object.keys(connectors);
  if (names.length !== 1 || !isRecord(connectors[names[0]!])) {
    p.add('emqx.connector', 'exactly one MQTT connector is required per bridge');
    return {};
  }
  const out = connection(connectors[names[0]!] as Record<string, unknown>, p, 'emqx.connector');
  const rules = named(isRecord(block.rule_engine) ? block.rule_engine.rules : block.rules);
  const egress: Record<string, unknown>[] = [];
  const ingress: Record<string, unknown>[] = [];
  const buffer: Record<string, unknown> = {};
  const replay: Record<string, unknown> = { ...(out.replay as Record<string, unknown> | undefined) };
  for (const [name, a] of Object.entries(named(block.actions))) {
    const path = `emqx.actions.${name}`;
    if (a.enable === false) continue;
    const params = isRecord(a.parameters) ? a.parameters : {};
    const filters: string[] = [];
    if (typeof a.local_topic === 'string') filters.push(a.local_topic);
    if (isRecord(a.parameters) && typeof a.parameters.local_topic === 'string') filters.push(a.parameters.local_topic);
    for (const [rn, r] of Object.entries(rules)) {
      const acts = Array.isArray(r.actions) ? r.actions : [];
      if (acts.some((x) => refersTo(x, 'action', name)) && typeof r.sql === 'string') filters.push(...ruleSources(r.sql, p, `emqx.rules.${rn}.sql`));
    }
    if (filters.length === 0) p.add(path, 'no local_topic and no rule feeds this action');
    for (const f of filters) egress.push(egressFrom(params, f, p, `${path}.parameters`));
    const ro = isRecord(a.resource_opts) ? a.resource_opts : {};
    if (typeof ro.inflight_window === 'number') replay.inflight = ro.inflight_window;
    if (ro.max_buffer_bytes !== undefined) {
      const b = parseBytes(ro.max_buffer_bytes);
      if (b === null) p.add(`${path}.resource_opts.max_buffer_bytes`, 'not a byte size');
      else buffer.max_bytes = b;
    }
    const ttl = secs(ro, 'request_ttl', p, `${path}.resource_opts`);
    if (ttl !== undefined) buffer.ttl = ttl;
  }
  for (const [name, s] of Object.entries(named(block.sources))) {
    const path = `emqx.sources.${name}`;
    if (s.enable === false) continue;
    const params = isRecord(s.parameters) ? s.parameters : {};
    let republished = false;
    for (const [rn, r] of Object.entries(rules)) {
      if (typeof r.sql !== 'string') continue;
      const froms = ruleSources(r.sql, new Problems(), '');
      if (!froms.some((f) => f === `$bridges/mqtt:${name}`)) continue;
      for (const act of Array.isArray(r.actions) ? r.actions : []) {
        if (isRecord(act) && act.function === 'republish' && isRecord(act.args)) {
          ingress.push(ingressFrom(params, act.args, p, `emqx.rules.${rn}.actions`));
          republished = true;
        }
      }
    }
    // A source without a republish rule still delivers locally under its remote topic.
    if (!republished) ingress.push(ingressFrom(params, null, p, `${path}.parameters`));
  }
  out.egress = egress;
  out.ingress = ingress;
  if (Object.keys(buffer).length) out.buffer = buffer;
  if (Object.keys(replay).length) out.replay = replay;
  return out;
}

function fromEmqxLegacy(b: Record<string, unknown>, p: Problems): Record<string, unknown> {
  const out = connection(b, p, 'emqx');
  const egress: Record<string, unknown>[] = [];
  const ingress: Record<string, unknown>[] = [];
  if (isRecord(b.egress)) {
    const local = isRecord(b.egress.local) ? b.egress.local : {};
    const remote = isRecord(b.egress.remote) ? b.egress.remote : {};
    if (typeof local.topic !== 'string') p.add('emqx.egress.local.topic', 'required');
    else egress.push(egressFrom(remote, local.topic, p, 'emqx.egress.remote'));
  }
  if (isRecord(b.ingress)) {
    const remote = isRecord(b.ingress.remote) ? b.ingress.remote : {};
    const local = isRecord(b.ingress.local) ? b.ingress.local : {};
    ingress.push(ingressFrom(remote, local, p, 'emqx.ingress'));
  }
  out.egress = egress;
  out.ingress = ingress;
  return out;
}
