// Topic filter matching used by API filters and traces [MQTT-4.7].
import { describe, expect, it } from 'vitest';
import { splitShared, topicMatches } from '../../../src/admin/topic-match.js';

describe('topicMatches', () => {
  const table: [string, string, boolean][] = [
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true], // '#' also matches the parent level [MQTT-4.7.1-2]
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+/+', 'a/b', true],
    ['+', '', true],
    ['a/b', 'a/c', false],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/#/c', 'a/b/c', false],
  ];
  it.each(table)('%s ~ %s -> %s', (filter, topic, want) => {
    expect(topicMatches(filter, topic)).toBe(want);
  });
});

describe('splitShared', () => {
  it('separates $share groups and $queue', () => {
    expect(splitShared('$share/g/a/b')).toEqual({ group: 'g', filter: 'a/b' });
    expect(splitShared('$queue/a')).toEqual({ group: '$queue', filter: 'a' });
    expect(splitShared('a/b')).toEqual({ group: '', filter: 'a/b' });
  });
});
