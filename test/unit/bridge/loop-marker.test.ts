import { describe, expect, it } from 'vitest';
import { createMessage } from '../../../src/core/message.js';
import { PATH_PROPERTY, pathContains, withPathMarker } from '../../../src/bridge/loop-marker.js';
import { userPropertiesFromObject } from '../../../src/core/user-properties.js';

const msg = (up?: Record<string, string | string[]>) =>
  createMessage({ topic: 't', payload: Buffer.from('p'), qos: 1, retain: false, props: up ? { userProperties: userPropertiesFromObject(up), contentType: 'c' } : null, now: 1 });

describe('loop marker (outpost-path)', () => {
  it('appends this node, keeping other properties', () => {
    const a = withPathMarker(msg({ k: 'v' }), 'edge-a');
    expect(a.props).toEqual({ contentType: 'c', userProperties: [['k', 'v'], [PATH_PROPERTY, 'edge-a']] });
    const b = withPathMarker(a, 'agg-1');
    expect(b.props!.userProperties).toEqual([['k', 'v'], [PATH_PROPERTY, 'edge-a,agg-1']]);
    expect(withPathMarker(msg(), 'n').props).toEqual({ userProperties: [[PATH_PROPERTY, 'n']] });
  });

  it('keeps the place of every other pair, repeats included, and folds repeated paths into the first', () => {
    const m = createMessage({
      topic: 't', payload: Buffer.from('p'), qos: 1, retain: false, now: 1,
      props: { userProperties: [['b', '1'], [PATH_PROPERTY, 'x'], ['a', '2'], ['b', '3'], [PATH_PROPERTY, 'y']] },
    });
    expect(withPathMarker(m, 'n').props!.userProperties).toEqual([['b', '1'], [PATH_PROPERTY, 'x,y,n'], ['a', '2'], ['b', '3']]);
  });

  it('matches whole node names only, also in repeated properties', () => {
    expect(pathContains(msg({ [PATH_PROPERTY]: 'edge-a,agg-1' }).props, 'agg-1')).toBe(true);
    expect(pathContains(msg({ [PATH_PROPERTY]: 'edge-ab' }).props, 'edge-a')).toBe(false);
    expect(pathContains(msg({ [PATH_PROPERTY]: ['x', 'edge-a'] }).props, 'edge-a')).toBe(true);
    expect(pathContains(msg().props, 'edge-a')).toBe(false);
  });
});
