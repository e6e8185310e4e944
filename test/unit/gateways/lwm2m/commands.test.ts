// Downlink JSON -> CoAP requests (spec B.5) and answers -> uplink JSON (B.4).
import { describe, expect, it } from 'vitest';
import { Code } from '../../../../gateways/codecs/coap/frame.js';
import { answerEvent, notifyEvent, parseCommand, transportEvent, type DecodeOptions } from '../../../../gateways/lwm2m/commands.js';
import { loadObjectRegistry } from '../../../../gateways/lwm2m/object-registry.js';
import { builtinXmlDir } from '../../../../gateways/lwm2m/index.js';

const registry = loadObjectRegistry(builtinXmlDir()).registry;
const opts: DecodeOptions = { types: registry.typeOf, isKnownObject: (o) => registry.object(o) !== undefined, unknownObjectBadRequest: false };
const TLV = 11542;

function cmd(x: unknown, cf = TLV) {
  const r = parseCommand(Buffer.from(JSON.stringify(x)), cf);
  if (r.kind === 'error') throw new Error(r.detail);
  return r.value;
}

describe('parseCommand', () => {
  it('read, discover, delete, observe, cancel-observe', () => {
    expect(cmd({ reqID: 1, msgType: 'read', data: { path: '/3/0/1' } }).request).toMatchObject({ method: Code.GET, path: ['3', '0', '1'], observe: null, accept: null });
    expect(cmd({ msgType: 'discover', data: { path: '/3/0' } }).request).toMatchObject({ method: Code.GET, accept: 40 });
    expect(cmd({ msgType: 'delete', data: { path: '/31024/0' } }).request).toMatchObject({ method: Code.DELETE, path: ['31024', '0'] });
    expect(cmd({ msgType: 'observe', data: { path: '/3/0/9' } }).request.observe).toBe(0);
    expect(cmd({ msgType: 'cancel-observe', data: { path: '/3/0/9' } }).request.observe).toBe(1);
  });

  it('keeps a query in the path as Uri-Query and in reqPath', () => {
    const c = cmd({ msgType: 'read', data: { path: '/3/0?foo=bar' } });
    expect([c.reqPath, c.request.path, c.request.query]).toEqual(['/3/0?foo=bar', ['3', '0'], ['foo=bar']]);
  });

  it('write: single PUT TLV C2 01 01 2C; batch on an instance is POST; on a resource PUT with a multiple resource', () => {
    const w = cmd({ msgType: 'write', data: { path: '/1/0/1', type: 'Integer', value: 300 } });
    expect([w.request.method, w.request.contentFormat, w.request.payload.toString('hex')]).toEqual([Code.PUT, TLV, 'c201012c']);
    const b = cmd({ msgType: 'write', data: { basePath: '/3/0', content: [{ path: '9', type: 'Integer', value: '95' }] } });
    expect([b.request.method, b.request.path, b.request.payload.toString('hex')]).toEqual([Code.POST, ['3', '0'], 'c1095f']);
    const m = cmd({ msgType: 'write', data: { basePath: '/3/0/7', content: [{ path: '0', type: 'Integer', value: 3800 }, { path: '1', type: 'Integer', value: 5000 }] } });
    expect(m.request.method).toBe(Code.PUT);
    expect(m.request.payload.toString('hex')).toBe('88070842000ed842011388');
  });

  it('write in the format the device advertised (SenML JSON)', () => {
    const w = cmd({ msgType: 'write', data: { path: '/3/0/14', type: 'String', value: '+02' } }, 110);
    expect(w.request.contentFormat).toBe(110);
    expect(JSON.parse(w.request.payload.toString())).toEqual([{ bn: '/3/0/14', vs: '+02' }]);
  });

  it('write-attr, execute, create', () => {
    expect(cmd({ msgType: 'write-attr', data: { path: '/3/0/9', pmin: '10', pmax: '60', gt: '50', lt: '10', st: '5' } }).request).toMatchObject({ method: Code.PUT, query: ['pmin=10', 'pmax=60', 'gt=50', 'lt=10', 'st=5'], payload: Buffer.alloc(0) });
    const e = cmd({ msgType: 'execute', data: { path: '/3/0/4', args: "0='x'" } });
    expect([e.request.method, e.request.contentFormat, e.request.payload.toString()]).toEqual([Code.POST, 0, "0='x'"]);
    expect(cmd({ msgType: 'execute', data: { path: '/3/0/4', args: 'undefined' } }).request.payload.length).toBe(0);
    const c = cmd({ msgType: 'create', data: { basePath: '/31024', content: [{ path: '0/1', type: 'String', value: 'hi' }] } });
    expect([c.request.method, c.request.path, c.request.payload.toString('hex')]).toEqual([Code.POST, ['31024'], '0400c2016869']);
  });

  it('refuses what EMQX drops: not JSON, unknown msgType, missing data, bad paths and values', () => {
    for (const bad of ['nope', '[]', JSON.stringify({ msgType: 'x', data: {} }), JSON.stringify({ msgType: 'read' }), JSON.stringify({ msgType: 'read', data: { path: 'abc' } }), JSON.stringify({ msgType: 'write', data: { path: '/1/0/1', type: 'Integer', value: 'x' } }), JSON.stringify({ msgType: 'create', data: { basePath: '/3/0', content: [{ path: '1', type: 'String', value: 'a' }] } })]) {
      expect(parseCommand(Buffer.from(bad), TLV).kind).toBe('error');
    }
  });
});

describe('answer events', () => {
  const read = cmd({ reqID: 1, extra: 'kept', msgType: 'read', data: { path: '/3/0' } });

  it('read decodes TLV with the object definitions and echoes top-level keys', () => {
    const ev = answerEvent(read, { code: Code.CONTENT, contentFormat: TLV, payload: Buffer.from('C40041434D45C1095F', 'hex'), observe: null }, opts);
    expect(ev).toEqual({ reqID: 1, extra: 'kept', msgType: 'read', data: { reqPath: '/3/0', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/0', value: 'ACME' }, { path: '/3/0/9', value: 95 }] } });
  });

  it('an error code has no content; an undecodable payload is 4.00 bad_request', () => {
    expect(answerEvent(read, { code: Code.NOT_FOUND, contentFormat: null, payload: Buffer.alloc(0), observe: null }, opts).data).toEqual({ reqPath: '/3/0', code: '4.04', codeMsg: 'not_found' });
    expect(answerEvent(read, { code: Code.CONTENT, contentFormat: TLV, payload: Buffer.from('C4', 'hex'), observe: null }, opts).data).toEqual({ reqPath: '/3/0', code: '4.00', codeMsg: 'bad_request' });
  });

  it('an object without definition: raw base64 by default, 4.00 in EMQX mode', () => {
    const c = cmd({ reqID: 2, msgType: 'read', data: { path: '/31024/0/1' } });
    const a = { code: Code.CONTENT, contentFormat: 42, payload: Buffer.from('hi'), observe: null };
    expect(answerEvent(c, a, opts).data).toEqual({ reqPath: '/31024/0/1', code: '2.05', codeMsg: 'content', content: [{ path: '/31024/0/1', value: 'aGk=' }] });
    expect(answerEvent(c, a, { ...opts, unknownObjectBadRequest: true }).data).toEqual({ reqPath: '/31024/0/1', code: '4.00', codeMsg: 'bad_request' });
  });

  it('write: 2.05 with payload is changed, without payload is 4.05 (EMQX)', () => {
    const w = cmd({ msgType: 'write', data: { path: '/1/0/1', type: 'Integer', value: 1 } });
    expect(answerEvent(w, { code: Code.CONTENT, contentFormat: 0, payload: Buffer.from('1'), observe: null }, opts).data).toMatchObject({ code: '2.04', codeMsg: 'changed' });
    expect(answerEvent(w, { code: Code.CONTENT, contentFormat: null, payload: Buffer.alloc(0), observe: null }, opts).data).toMatchObject({ code: '4.05', codeMsg: 'method_not_allowed' });
  });

  it('observe carries seqNum when non-zero; notify always; transport events keep the request data', () => {
    const o = cmd({ reqID: 8, msgType: 'observe', data: { path: '/3/0/9' } });
    const a = { code: Code.CONTENT, contentFormat: 0, payload: Buffer.from('95'), observe: 0 };
    expect(answerEvent(o, a, opts).seqNum).toBeUndefined();
    expect(notifyEvent(o, { ...a, observe: 12 }, opts)).toEqual({ reqID: 8, msgType: 'notify', seqNum: 12, data: { reqPath: '/3/0/9', code: '2.05', codeMsg: 'content', content: [{ path: '/3/0/9', value: 95 }] } });
    expect(transportEvent(o, 'coap_timeout')).toEqual({ reqID: 8, msgType: 'coap_timeout', data: { path: '/3/0/9' } });
  });
});
