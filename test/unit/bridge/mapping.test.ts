import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { EgressMapping, IngressMapping, captureWildcards, compileTemplate, findIngress } from '../../../src/bridge/mapping.js';
import { egressMappingSchema, ingressMappingSchema } from '../../../src/bridge/config.js';
import { filtersOverlap } from '../../../src/bridge/loop-check.js';

const msg = (topic: string, qos: 0 | 1 | 2 = 1, retain = false) =>
  createMessage({ topic, payload: Buffer.from('p'), qos, retain, from: 'dev1', fromUsername: 'u1', now: 1_700_000_000_000 });
const eg = (o: Record<string, unknown>) => new EgressMapping(egressMappingSchema.parse(o));
const ing = (o: Record<string, unknown>) => new IngressMapping(ingressMappingSchema.parse(o));

describe('egress mapping', () => {
  it('site1/${topic} with qos ${qos} forwards a/b QoS 1 as site1/a/b QoS 1 [spec §7.1]', () => {
    expect(eg({ filter: 'a/#', topic: 'site1/${topic}' }).apply(msg('a/b', 1))).toEqual({ topic: 'site1/a/b', qos: 1, retain: false, payload: null });
  });

  it('${flags.retain} keeps the retain flag, retain=false clears it [spec §7.2]', () => {
    expect(eg({ filter: '#', retain: '${flags.retain}' }).apply(msg('t', 1, true))!.retain).toBe(true);
    expect(eg({ filter: '#', retain: false }).apply(msg('t', 1, true))!.retain).toBe(false);
  });

  it('fixed QoS, prefix/suffix and strip_prefix', () => {
    const m = eg({ filter: 'local/#', strip_prefix: 'local/', prefix: 'up/', suffix: '/v1', qos: 0 });
    expect(m.apply(msg('local/x/y', 2))).toMatchObject({ topic: 'up/x/y/v1', qos: 0 });
  });

  it('renders clientid and qos placeholders, refuses a rendered wildcard', () => {
    expect(eg({ filter: '#', topic: 'c/${clientid}/q${qos}/${topic}' }).apply(msg('t/1', 2))!.topic).toBe('c/dev1/q2/t/1');
    expect(eg({ filter: '#', topic: '${topic}/#' }).apply(msg('t'))).toBeNull();
  });

  it('empty payload template sends EMQX rule-output JSON, ${payload} the raw bytes [spec §7.1]', () => {
    const j = eg({ filter: '#', payload: '' }).apply(msg('a/b'))!;
    expect(JSON.parse(j.payload!.toString())).toMatchObject({ topic: 'a/b', payload: 'p', qos: 1, clientid: 'dev1', username: 'u1', flags: { retain: false } });
    expect(eg({ filter: '#' }).apply(msg('a/b'))!.payload).toBeNull();
    expect(eg({ filter: '#', payload: '{"v":"${payload}"}' }).apply(msg('a/b'))!.payload!.toString()).toBe('{"v":"p"}');
  });
});

describe('ingress mapping', () => {
  it('matches without the $share group and maps to a local template', () => {
    const list = [ing({ filter: '$share/g/site1/cmd/#', strip_prefix: 'site1/', topic: 'cmd/${topic}' })];
    const m = findIngress(list, 'site1/cmd/reboot')!;
    expect(m.subscribeFilter).toBe('$share/g/site1/cmd/#');
    expect(m.apply(msg('site1/cmd/reboot', 2))).toMatchObject({ topic: 'cmd/cmd/reboot', qos: 2 });
    expect(findIngress(list, 'other/x')).toBeNull();
  });

  it('NanoMQ wildcard remap: +/nanomq/# -> ${match.#} sends cmd/nanomq/a/b to a/b', () => {
    expect(ing({ filter: '+/nanomq/#', topic: '${match.#}' }).apply(msg('cmd/nanomq/a/b'))!.topic).toBe('a/b');
    expect(captureWildcards('+/x/+/#', 'a/x/b/c/d')).toEqual({ plus: ['a', 'b'], hash: 'c/d' });
  });
});

describe('templates and overlap', () => {
  it('refuses unknown placeholders and unterminated ones', () => {
    expect(() => compileTemplate('${foo}')).toThrow(/unknown placeholder/);
    expect(() => compileTemplate('a/${topic')).toThrow(/unterminated/);
    expect(compileTemplate('${topic}').identity).toBe(true);
  });

  it('filtersOverlap follows wildcard and $ rules', () => {
    expect(filtersOverlap('a/#', 'a/b/c')).toBe(true);
    expect(filtersOverlap('a/+/c', 'a/b/+')).toBe(true);
    expect(filtersOverlap('a/b', 'a/c')).toBe(false);
    expect(filtersOverlap('#', '$SYS/x')).toBe(false);
    expect(filtersOverlap('a', 'a/b')).toBe(false);
    expect(filtersOverlap('a/#', 'a')).toBe(true);
  });
});
