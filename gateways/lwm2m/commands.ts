// MQTT downlink commands (B.5) to CoAP requests, and CoAP answers to EMQX's uplink JSON (B.4).
// Pure: no sockets, no clock; the device state machine (device.ts) sends and matches.
import { Code } from '../codecs/coap/frame.js';
import { formatCode } from '../codecs/coap/codes.js';
import { decodeContent, encodeContent } from './content-format.js';
import type { Result } from './errors.js';
import { lwm2mError, ok } from './errors.js';
import { responseData, toEmqxContent, toEmqxDiscoverContent, writeCommandResources } from './json-shape.js';
import { LINK_FORMAT_CONTENT_FORMAT, parseLinks } from './link-format.js';
import { parsePath } from './model.js';
import type { TypeLookup } from './model.js';
import { isObject } from './senml-records.js';
import { TEXT_CONTENT_FORMAT } from './text-plain.js';

export const MSG_TYPES = ['read', 'discover', 'write', 'write-attr', 'execute', 'create', 'delete', 'observe', 'cancel-observe'] as const;
export type MsgType = (typeof MSG_TYPES)[number];

/** Write-Attributes parameters (LwM2M 1.0 §5.4.4, 1.1 adds epmin/epmax). */
const ATTRS = ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'] as const;

/** One CoAP request a command becomes; path is relative to the device's alternate path. */
export interface CoapRequest {
  method: number;
  /** Uri-Path segments (without the alternate path). */
  path: string[];
  query: string[];
  contentFormat: number | null;
  accept: number | null;
  /** 0 registers, 1 cancels (RFC 7641). */
  observe: 0 | 1 | null;
  payload: Buffer;
}

export interface Command {
  /** The command object as received: every top-level key is echoed in the answer. */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly msgType: MsgType;
  /** `path` or `basePath` of the command, query included. */
  readonly reqPath: string;
  readonly request: CoapRequest;
}

function bad(detail: string) {
  return lwm2mError('OUTPOST_ERR_LWM2M_BAD_COMMAND', detail);
}

/** "/3/0/1?foo=bar" -> path segments and query parts; undefined when the path part is not /O[/I[/R[/RI]]]. */
function splitPath(p: string): { segs: string[]; query: string[] } | undefined {
  const q = p.indexOf('?');
  const path = q < 0 ? p : p.slice(0, q);
  const ids = parsePath(path);
  if (ids === undefined || ids.length === 0) return undefined;
  return { segs: ids.map(String), query: q < 0 ? [] : p.slice(q + 1).split('&').filter((s) => s !== '') };
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

/**
 * A downlink command (B.5). `writeFormat` is the Content-Format the device takes writes in (TLV
 * unless it advertised another). Returns an error for JSON EMQX would drop as malformed.
 */
export function parseCommand(payload: Buffer, writeFormat: number): Result<Command> {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return bad('not JSON');
  }
  if (!isObject(doc)) return bad('not a JSON object');
  const msgType = doc.msgType;
  if (typeof msgType !== 'string' || !(MSG_TYPES as readonly string[]).includes(msgType)) return bad(`msgType ${JSON.stringify(msgType)}`);
  const data = doc.data;
  if (!isObject(data)) return bad('"data" is not an object');
  const t = msgType as MsgType;
  const base: CoapRequest = { method: Code.GET, path: [], query: [], contentFormat: null, accept: null, observe: null, payload: Buffer.alloc(0) };
  const withPath = (p: unknown): Result<{ reqPath: string; segs: string[]; query: string[] }> => {
    const s = str(p);
    const sp = s === undefined ? undefined : splitPath(s);
    if (s === undefined || sp === undefined) return bad(`path ${JSON.stringify(p)}`);
    return ok({ reqPath: s, ...sp });
  };
  switch (t) {
    case 'read':
    case 'discover':
    case 'delete':
    case 'observe':
    case 'cancel-observe':
    case 'execute': {
      const p = withPath(data.path);
      if (p.kind === 'error') return p;
      const req: CoapRequest = { ...base, path: p.value.segs, query: p.value.query };
      if (t === 'discover') req.accept = LINK_FORMAT_CONTENT_FORMAT;
      if (t === 'delete') req.method = Code.DELETE;
      if (t === 'observe') req.observe = 0;
      if (t === 'cancel-observe') req.observe = 1;
      if (t === 'execute') {
        req.method = Code.POST;
        const args = data.args;
        const a = typeof args === 'string' && args !== 'undefined' ? args : '';
        if (a !== '') {
          req.payload = Buffer.from(a, 'utf8');
          req.contentFormat = TEXT_CONTENT_FORMAT;
        }
      }
      return ok({ raw: doc, msgType: t, reqPath: p.value.reqPath, request: req });
    }
    case 'write-attr': {
      const p = withPath(data.path);
      if (p.kind === 'error') return p;
      const query = [...p.value.query];
      for (const k of ATTRS) {
        const v = data[k];
        if (v === undefined || v === null || v === '') continue;
        // EMQX takes strings; a number is accepted here too (it is unambiguous).
        if (typeof v !== 'string' && typeof v !== 'number') return bad(`${k} ${JSON.stringify(v)}`);
        query.push(`${k}=${v}`);
      }
      return ok({ raw: doc, msgType: t, reqPath: p.value.reqPath, request: { ...base, method: Code.PUT, path: p.value.segs, query } });
    }
    case 'write':
    case 'create': {
      const encoding = doc.encoding === 'hex' ? 'hex' : 'base64';
      const w = writeCommandResources(data, encoding);
      if (w.kind === 'error') return w;
      const reqPath = str(data.basePath) ?? str(data.path) ?? w.value.basePath;
      const sp = splitPath(reqPath);
      if (sp === undefined) return bad(`path ${JSON.stringify(reqPath)}`);
      const depth = sp.segs.length;
      if (t === 'create' && depth !== 1) return bad(`create needs an object path, got ${reqPath}`);
      if (t === 'write' && depth < 2) return bad(`write needs an instance or resource path, got ${reqPath}`);
      // B.5: a 2-level basePath is a partial update (POST); a resource (3-level) or single write replaces (PUT).
      const method = t === 'create' || (t === 'write' && typeof data.basePath === 'string' && depth === 2) ? Code.POST : Code.PUT;
      const body = encodeContent(writeFormat, w.value.resources, w.value.basePath);
      if (body.kind === 'error') return bad(body.detail);
      return ok({ raw: doc, msgType: t, reqPath, request: { ...base, method, path: sp.segs, query: sp.query, contentFormat: writeFormat, payload: body.value } });
    }
  }
}

export interface CoapAnswer {
  code: number;
  contentFormat: number | null;
  payload: Buffer;
  /** Observe option of the answer, when present. */
  observe: number | null;
}

export type EventJson = Record<string, unknown>;

/** Decode options: how to treat objects without an XML definition. */
export interface DecodeOptions {
  types: TypeLookup;
  /** EMQX answers 4.00 when the object has no definition. */
  isKnownObject(objectId: number): boolean;
  unknownObjectBadRequest: boolean;
}

function pathOnly(reqPath: string): string {
  const q = reqPath.indexOf('?');
  return q < 0 ? reqPath : reqPath.slice(0, q);
}

/** `content` for a read/observe/notify answer, or a 4.00 answer when it cannot be decoded (EMQX). */
function readData(reqPath: string, a: CoapAnswer, o: DecodeOptions): Record<string, unknown> {
  const code = formatCode(a.code);
  if (a.code >> 5 !== 2) return { ...responseData(reqPath, code) };
  const path = pathOnly(reqPath);
  const ids = parsePath(path);
  if (o.unknownObjectBadRequest && ids !== undefined && ids.length > 0 && !o.isKnownObject(ids[0]!)) return { ...responseData(reqPath, '4.00') };
  if (a.payload.length === 0) return { ...responseData(reqPath, code, []) };
  // No Content-Format: EMQX falls back to opaque for a resource, TLV otherwise.
  const cf = a.contentFormat ?? (ids !== undefined && ids.length >= 3 ? 42 : 11542);
  const r = decodeContent(cf, a.payload, path, o.types);
  if (r.kind === 'error') return { ...responseData(reqPath, '4.00') };
  return { ...responseData(reqPath, code, toEmqxContent(r.value)) };
}

/** The answer event for a command (B.4): the command with every top-level key kept and `data` replaced. */
export function answerEvent(cmd: Command, a: CoapAnswer, o: DecodeOptions): EventJson {
  const code = formatCode(a.code);
  let data: Record<string, unknown>;
  switch (cmd.msgType) {
    case 'read':
    case 'observe':
    case 'cancel-observe':
      data = readData(cmd.reqPath, a, o);
      break;
    case 'discover': {
      if (a.code >> 5 !== 2) {
        data = { ...responseData(cmd.reqPath, code) };
        break;
      }
      const links = parseLinks(a.payload);
      data = links.kind === 'error' ? { ...responseData(cmd.reqPath, '4.00') } : { ...responseData(cmd.reqPath, code, toEmqxDiscoverContent(links.value)) };
      break;
    }
    case 'write':
      // B.5: a 2.05 with payload reads as changed; 2.05 without payload is EMQX's 4.05.
      if (a.code === Code.CONTENT) data = { ...responseData(cmd.reqPath, a.payload.length > 0 ? '2.04' : '4.05') };
      else data = { ...responseData(cmd.reqPath, code) };
      break;
    default:
      data = { ...responseData(cmd.reqPath, code) };
  }
  const out: EventJson = { ...cmd.raw, msgType: cmd.msgType, data };
  if (cmd.msgType === 'observe' && a.observe !== null && a.observe !== 0) out.seqNum = a.observe;
  return out;
}

/** A notification (B.4): msgType "notify" with seqNum, content decoded as for read. */
export function notifyEvent(cmd: Command, a: CoapAnswer, o: DecodeOptions): EventJson {
  const out: EventJson = { ...cmd.raw, msgType: 'notify', data: readData(cmd.reqPath, a, o) };
  if (a.observe !== null) out.seqNum = a.observe;
  return out;
}

/** Transport events (B.4): ack, coap_timeout, coap_reset carry the original request data. */
export function transportEvent(cmd: Command, kind: 'ack' | 'coap_timeout' | 'coap_reset'): EventJson {
  return { ...cmd.raw, msgType: kind };
}

