// MQTT topic filter matching for the API's filters (subscriptions?match_topic, topic traces).
// Not on the data path: the broker's router has its own trie.

/** Does `filter` (with + and #) match `topic` [MQTT-4.7.1-1..3]; `$` topics need an explicit first level [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The filter without a `$share/{group}/` or `$queue/` prefix, and the group ('' when none). */
export function splitShared(filter: string): { group: string; filter: string } {
  if (filter.startsWith('$queue/')) return { group: '$queue', filter: filter.slice(7) };
  if (filter.startsWith('$share/')) {
    const slash = filter.indexOf('/', 7);
    if (slash > 7) return { group: filter.slice(7, slash), filter: filter.slice(slash + 1) };
  }
  return { group: '', filter };
}
