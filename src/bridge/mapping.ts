// Topic mappings compiled once from config: which messages a bridge carries and how their topic,
// QoS, retain flag and payload look on the other side. Pure functions; nothing here does I/O.
import { parseFilter, topicMatches } from '../broker/topic.js';
import type { Message } from '../core/message.js';
import type { QoS } from '../core/types.js';
import { userPropertiesToObject } from '../core/user-properties.js';
import type { EgressMappingConfig, IngressMappingConfig } from './config.js';
import type { BridgeErrorCode } from './errors.js';

type Part =
  | { k: 'lit'; s: string }
  | { k: 'topic' }
  | { k: 'qos' }
  | { k: 'retain' }
  | { k: 'clientid' }
  | { k: 'username' }
  | { k: 'payload' }
  | { k: 'timestamp' }
  | { k: 'plus'; i: number }
  | { k: 'hash' };

export interface Template {
  readonly parts: readonly Part[];
  /** True when the template is exactly "${topic}": no rendering needed. */
  readonly identity: boolean;
}

export class TemplateError extends Error {
  readonly code: BridgeErrorCode = 'OUTPOST_ERR_BRIDGE_TEMPLATE';
}

/** Parses "${var}" placeholders; an unknown variable is a config error, not an empty string. */
export function compileTemplate(src: string, allowPayload = false): Template {
  const parts: Part[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('${', i);
    if (open < 0) {
      parts.push({ k: 'lit', s: src.slice(i) });
      break;
    }
    if (open > i) parts.push({ k: 'lit', s: src.slice(i, open) });
    const close = src.indexOf('}', open);
    if (close < 0) throw new TemplateError(`unterminated placeholder in "${src}"`);
    const name = src.slice(open + 2, close).trim();
    parts.push(varPart(name, src, allowPayload));
    i = close + 1;
  }
  return { parts, identity: parts.length === 1 && parts[0]!.k === 'topic' };
}

function varPart(name: string, src: string, allowPayload: boolean): Part {
  switch (name) {
    case 'topic':
      return { k: 'topic' };
    case 'qos':
      return { k: 'qos' };
    case 'retain':
    case 'flags.retain':
      return { k: 'retain' };
    case 'clientid':
      return { k: 'clientid' };
    case 'username':
      return { k: 'username' };
    case 'timestamp':
      return { k: 'timestamp' };
    case 'payload':
      if (allowPayload) return { k: 'payload' };
      break;
    case 'match.#':
      return { k: 'hash' };
    default: {
      const m = /^match\.([1-9]\d*)$/.exec(name);
      if (m) return { k: 'plus', i: Number(m[1]) - 1 };
    }
  }
  throw new TemplateError(`unknown placeholder \${${name}} in "${src}"`);
}

export interface Captures {
  plus: string[];
  hash: string | null;
}

const NO_CAPTURES: Captures = { plus: [], hash: null };

/** The levels matched by each '+' and by '#' of `filter` in `topic` (which the filter matches). */
export function captureWildcards(filter: string, topic: string): Captures {
  const f = filter.split('/');
  const t = topic.split('/');
  const out: Captures = { plus: [], hash: null };
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '+') out.plus.push(t[i] ?? '');
    else if (f[i] === '#') {
      out.hash = t.slice(i).join('/');
      break;
    }
  }
  return out;
}

export interface RenderInput {
  topic: string;
  qos: QoS;
  retain: boolean;
  clientid: string;
  username: string | null;
  payload: Buffer;
  ts: number;
  captures: Captures;
}

export function render(t: Template, v: RenderInput): string {
  if (t.identity) return v.topic;
  let out = '';
  for (const p of t.parts) {
    switch (p.k) {
      case 'lit':
        out += p.s;
        break;
      case 'topic':
        out += v.topic;
        break;
      case 'qos':
        out += String(v.qos);
        break;
      case 'retain':
        out += v.retain ? 'true' : 'false';
        break;
      case 'clientid':
        out += v.clientid;
        break;
      case 'username':
        out += v.username ?? '';
        break;
      case 'payload':
        out += v.payload.toString('utf8');
        break;
      case 'timestamp':
        out += String(v.ts);
        break;
      case 'plus':
        out += v.captures.plus[p.i] ?? '';
        break;
      case 'hash':
        out += v.captures.hash ?? '';
        break;
    }
  }
  return out;
}

function usesCaptures(t: Template): boolean {
  return t.parts.some((p) => p.k === 'plus' || p.k === 'hash');
}

/** A topic we may publish: non-empty, no wildcards or NUL [MQTT-4.7.3-1, -2]. */
function validTopic(t: string): boolean {
  if (t.length === 0 || t.length > 65535) return false;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 43 || c === 35 || c === 0) return false;
  }
  return true;
}

export type PayloadMode = { kind: 'raw' } | { kind: 'json' } | { kind: 'template'; t: Template };

export interface MappedPublish {
  topic: string;
  qos: QoS;
  retain: boolean;
  /** null: keep the message's payload. */
  payload: Buffer | null;
}

abstract class Mapping {
  /** The filter matched against topics (without $share/{group}/). */
  readonly match: string;
  readonly stripPrefix: string;
  readonly topic: Template;
  readonly prefix: string;
  readonly suffix: string;
  readonly qos: QoS | -1;
  readonly retain: boolean | null;
  private readonly captures: boolean;

  constructor(match: string, c: { strip_prefix: string; topic: string; prefix: string; suffix: string; retain: boolean | string }, qos: QoS | '${qos}') {
    this.match = match;
    this.stripPrefix = c.strip_prefix;
    this.topic = compileTemplate(c.topic);
    this.prefix = c.prefix;
    this.suffix = c.suffix;
    this.qos = qos === '${qos}' ? -1 : qos;
    this.retain = typeof c.retain === 'boolean' ? c.retain : null;
    this.captures = usesCaptures(this.topic);
  }

  matches(topic: string): boolean {
    return topicMatches(this.match, topic);
  }

  protected mapTopic(m: Message, topic: string, qos: QoS): string | null {
    let t = topic;
    if (this.stripPrefix !== '' && t.startsWith(this.stripPrefix)) t = t.slice(this.stripPrefix.length);
    const rendered = render(this.topic, {
      topic: t,
      qos,
      retain: m.retain,
      clientid: m.from,
      username: m.fromUsername,
      payload: m.payload,
      ts: m.ts,
      captures: this.captures ? captureWildcards(this.match, topic) : NO_CAPTURES,
    });
    const out = this.prefix + rendered + this.suffix;
    return validTopic(out) ? out : null;
  }
}

export class EgressMapping extends Mapping {
  readonly filter: string;
  readonly payload: PayloadMode;

  constructor(c: EgressMappingConfig) {
    super(c.filter, c, c.qos);
    this.filter = c.filter;
    this.payload = c.payload === '${payload}' ? { kind: 'raw' } : c.payload === '' ? { kind: 'json' } : { kind: 'template', t: compileTemplate(c.payload, true) };
  }

  /** The remote publish for a local message, or null when the rendered topic is not a valid topic name. */
  apply(m: Message): MappedPublish | null {
    const qos = this.qos === -1 ? m.qos : this.qos;
    const topic = this.mapTopic(m, m.topic, qos);
    if (topic === null) return null;
    const retain = this.retain === null ? m.retain : this.retain;
    let payload: Buffer | null = null;
    if (this.payload.kind === 'json') payload = Buffer.from(ruleOutputJson(m));
    else if (this.payload.kind === 'template') {
      payload = Buffer.from(
        render(this.payload.t, { topic: m.topic, qos: m.qos, retain: m.retain, clientid: m.from, username: m.fromUsername, payload: m.payload, ts: m.ts, captures: NO_CAPTURES }),
      );
    }
    return { topic, qos, retain, payload };
  }
}

/** EMQX's rule output for `SELECT *` on a message event, used when the payload template is empty (spec §1.2). */
export function ruleOutputJson(m: Message): string {
  const props = m.props?.userProperties ? { 'User-Property': userPropertiesToObject(m.props.userProperties) } : {};
  return JSON.stringify({
    id: m.id.toString(16).toUpperCase(),
    clientid: m.from,
    username: m.fromUsername,
    payload: m.payload.toString('utf8'),
    topic: m.topic,
    qos: m.qos,
    flags: { retain: m.retain, dup: false },
    pub_props: props,
    timestamp: m.ts,
    publish_received_at: m.ts,
    event: 'message.publish',
  });
}

export class IngressMapping extends Mapping {
  /** As subscribed on the remote, including $share/{group}/. */
  readonly subscribeFilter: string;
  readonly subQos: QoS;
  readonly noLocal: boolean;

  constructor(c: IngressMappingConfig) {
    const parsed = parseFilter(c.filter);
    super(parsed ? parsed.filter : c.filter, c, c.local_qos);
    this.subscribeFilter = c.filter;
    this.subQos = c.qos;
    this.noLocal = c.no_local;
  }

  /** The local publish for a message received from the remote. */
  apply(m: Message): MappedPublish | null {
    const qos = this.qos === -1 ? m.qos : this.qos;
    const topic = this.mapTopic(m, m.topic, qos);
    if (topic === null) return null;
    return { topic, qos, retain: this.retain === null ? m.retain : this.retain, payload: null };
  }
}

/** First ingress mapping whose filter matches a topic received from the remote. */
export function findIngress(list: readonly IngressMapping[], topic: string): IngressMapping | null {
  for (const m of list) if (m.matches(topic)) return m;
  return null;
}
