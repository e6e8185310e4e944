import { describe, expect, it } from 'vitest';
import { PredefinedTopics, TopicRegistry, hasWildcard } from '../../../../gateways/mqttsn/registry.js';
import { publishTopic, rcFor, registerTopic, subscribeFilter } from '../../../../gateways/mqttsn/topics.js';
import { shortId } from '../../../../gateways/mqttsn/frame.js';

const pre = new PredefinedTopics([
  { id: 1, topic: 'predef/t1' },
  { id: 2, topic: 'only/dev1', clientid: 'dev1' },
]);

function fullRegistry(): TopicRegistry {
  const r = new TopicRegistry();
  let wrong = 0;
  for (let i = 1025; i <= 65535; i++) if (r.register(`t/${i}`) !== i) wrong++;
  expect(wrong).toBe(0);
  return r;
}

describe('topic ids (spec §2)', () => {
  it('allocates 1025.. sequentially, idempotently, and forgets/confirms ids', () => {
    const r = new TopicRegistry();
    expect(r.register('a')).toBe(1025);
    expect(r.register('b')).toBe(1026);
    expect(r.register('a')).toBe(1025);
    expect(r.isKnown(1025)).toBe(false);
    r.confirm(1025);
    expect(r.isKnown(1025)).toBe(true);
    r.forget(1025);
    expect(r.isKnown(1025)).toBe(false);
    r.clear();
    expect(r.register('b')).toBe(1025);
  });

  it('id space exhausted: REGISTER -> REGACK 0x03, SUBSCRIBE by name -> 0x83', () => {
    const r = fullRegistry();
    expect(r.register('one/more')).toBeNull();
    expect(registerTopic('one/more', r, pre, null)).toEqual({ topicId: 0, rc: 3 });
    expect(subscribeFilter({ idType: 0, name: 'one/more' }, true, r, pre, null)).toEqual({ rc: 0x83, topicId: 0 });
    // Known names keep working.
    expect(registerTopic('t/1025', r, pre, null)).toEqual({ topicId: 1025, rc: 0 });
  });

  it('predefined ids are per client where configured, global otherwise', () => {
    expect(pre.name(2, 'dev1')).toBe('only/dev1');
    expect(pre.name(2, 'dev2')).toBeUndefined();
    expect(pre.id('predef/t1', 'dev2')).toBe(1);
    const r = new TopicRegistry();
    expect(registerTopic('predef/t1', r, pre, 'x')).toEqual({ topicId: 1, rc: 0 });
    expect(publishTopic(1, 2, r, pre, 'dev1')).toBe('only/dev1');
    expect(publishTopic(1, 2, r, pre, 'dev2')).toBe(2);
  });

  it('publish topics: unknown normal id 0x02, short names as is, wildcard short 0x03, reserved 0x03', () => {
    const r = new TopicRegistry();
    expect(publishTopic(0, 1025, r, pre, null)).toBe(2);
    expect(publishTopic(2, shortId('ab'), r, pre, null)).toBe('ab');
    expect(publishTopic(2, shortId('+b'), r, pre, null)).toBe(3);
    expect(publishTopic(3, 1, r, pre, null)).toBe(3);
  });

  it('subscribe filters follow the SUBACK table (spec §5.2)', () => {
    const r = new TopicRegistry();
    expect(subscribeFilter({ idType: 0, name: 'a/+' }, true, r, pre, null)).toEqual({ filter: 'a/+', topicId: 0 });
    expect(subscribeFilter({ idType: 0, name: 'a/b' }, true, r, pre, null)).toEqual({ filter: 'a/b', topicId: 1025 });
    expect(subscribeFilter({ idType: 0, name: 'a/b' }, false, r, pre, null)).toEqual({ filter: 'a/b', topicId: 0 });
    expect(subscribeFilter({ idType: 1, id: 1 }, true, r, pre, null)).toEqual({ filter: 'predef/t1', topicId: 1 });
    expect(subscribeFilter({ idType: 1, id: 9 }, true, r, pre, null)).toEqual({ rc: 2, topicId: 9 });
    expect(subscribeFilter({ idType: 2, name: 'ab' }, true, r, pre, null)).toEqual({ filter: 'ab', topicId: 0 });
    expect(subscribeFilter({ idType: 3, raw: Buffer.alloc(2) }, true, r, pre, null)).toEqual({ rc: 3, topicId: 0 });
  });

  it('maps broker refusals to EMQX return codes', () => {
    expect(rcFor('not_authorized')).toBe(0x80);
    expect(rcFor('quota_exceeded')).toBe(0x83);
    expect(rcFor('topic_invalid')).toBe(0x03);
    expect(hasWildcard('a/#')).toBe(true);
    expect(hasWildcard('a/b')).toBe(false);
  });
});
