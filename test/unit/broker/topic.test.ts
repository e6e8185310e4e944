import { describe, expect, it } from 'vitest';
import { isValidFilter, isValidTopicName, parseFilter, topicMatches, renderPlaceholders } from '../../../src/broker/topic.js';

describe('topic names and filters', () => {
  it.each([
    ['a/b', true],
    ['/', true],
    ['a/+', false],
    ['a/#', false],
    ['', false],
    ['a\u0000b', false],
  ])('topic name %j valid=%s [MQTT-4.7.3-1]', (t, ok) => expect(isValidTopicName(t)).toBe(ok));

  it.each([
    ['a/#', true],
    ['#', true],
    ['+', true],
    ['+/+/#', true],
    ['a/b#', false],
    ['a/#/b', false],
    ['a+/b', false],
    ['a/+b', false],
    ['', false],
  ])('filter %j valid=%s [MQTT-4.7.1-2]', (f, ok) => expect(isValidFilter(f)).toBe(ok));

  it('enforces max topic levels', () => {
    expect(isValidTopicName('a/b/c', 2)).toBe(false);
    expect(isValidFilter('a/b', 2)).toBe(true);
  });

  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+/+', 'a/b', true],
    ['+/+', 'a', false],
    ['+', '/a', false],
    ['+/a', '/a', true],
    ['/+', '/', true],
    ['a/+/c', 'a//c', true],
    ['a/b', 'a/bc', false],
    ['a/bc', 'a/b', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/+', 'a/', true],
    ['a/#', 'b', false],
  ])('%j matches %j: %s [MQTT-4.7.2-1]', (f, t, ok) => expect(topicMatches(f, t)).toBe(ok));

  it('parses shared and queue subscriptions', () => {
    expect(parseFilter('$share/g1/a/+')).toEqual({ filter: 'a/+', group: 'g1', exclusive: false });
    expect(parseFilter('$queue/a')).toEqual({ filter: 'a', group: '$queue', exclusive: false });
    expect(parseFilter('$share//a')).toBeNull();
    expect(parseFilter('$share/g+/a')).toBeNull();
    expect(parseFilter('$share/g')).toBeNull();
    expect(parseFilter('$share/g/')).toBeNull();
    expect(parseFilter('a/b')).toEqual({ filter: 'a/b', group: null, exclusive: false });
  });

  it('renders placeholders and refuses missing values', () => {
    expect(renderPlaceholders('d/${clientid}/x', { clientid: 'c1' })).toBe('d/c1/x');
    expect(renderPlaceholders('u/${username}', { username: null })).toBeNull();
  });
});
