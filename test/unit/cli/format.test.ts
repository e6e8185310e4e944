// emqx ctl's `io:format("~-30s: ~w~n")` lines, which scripts written for EMQX parse.
import { describe, expect, it } from 'vitest';
import { emqxPairs, emqxSubscriptionLine } from '../../../src/cli/format.js';

describe('outpostctl emqx ctl formats', () => {
  it('pads names to the width and keeps longer names whole', () => {
    expect(emqxPairs([['connections.count', 2], ['a', 'x']], 30)).toBe('connections.count             : 2\na                             : x');
    expect(emqxPairs([['sysdescr', 'Outpost'], ['a.much.longer.name', 1]], 10)).toBe('sysdescr  : Outpost\na.much.longer.name: 1');
    expect(emqxPairs([], 10)).toBe('');
  });

  it('prints a subscription as `emqx ctl subscriptions show` does', () => {
    expect(emqxSubscriptionLine({ clientid: 'c1', topic: 't/1', qos: 1, nl: 0, rh: 2, rap: 1 })).toBe('c1 -> topic:t/1 qos:1 nl:0 rh:2 rap:1');
  });
});
