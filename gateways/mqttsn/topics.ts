// How a device's topic references map to MQTT topics and filters (gateways/mqttsn/SPEC.md §2,
// §5.1, §5.2): pure functions over the session registry and the predefined table.
import { ReturnCode, shortName, type SnTopic, type TopicIdType } from './frame.js';
import { hasWildcard, type PredefinedTopics, type TopicRegistry } from './registry.js';

/** EMQX-compatible PUBACK/SUBACK code for a broker refusal (spec §1.3, §5.1). */
export function rcFor(reason: string): number {
  switch (reason) {
    case 'not_authorized':
      return ReturnCode.NOT_AUTHORIZED;
    case 'quota_exceeded':
      return ReturnCode.EXCEEDS_LIMITATION;
    default:
      return ReturnCode.NOT_SUPPORTED;
  }
}

/** REGACK for a device REGISTER: existing or predefined id, a new id, or 0x03 (wildcard, full). */
export function registerTopic(name: string, registry: TopicRegistry, predefined: PredefinedTopics, clientId: string | null): { topicId: number; rc: number } {
  if (name === '' || hasWildcard(name)) return { topicId: 0, rc: ReturnCode.NOT_SUPPORTED };
  const pre = predefined.id(name, clientId);
  if (pre !== undefined) return { topicId: pre, rc: ReturnCode.ACCEPTED };
  const id = registry.register(name);
  if (id === null) return { topicId: 0, rc: ReturnCode.NOT_SUPPORTED };
  // The device asked for it, so it knows it: no gateway REGISTER needed before deliveries.
  registry.confirm(id);
  return { topicId: id, rc: ReturnCode.ACCEPTED };
}

/** Topic name for a PUBLISH, or the PUBACK code that refuses it (spec §5.1). */
export function publishTopic(
  idType: TopicIdType,
  topicId: number,
  registry: TopicRegistry,
  predefined: PredefinedTopics,
  clientId: string | null,
): string | number {
  switch (idType) {
    case 0:
      return registry.name(topicId) ?? ReturnCode.INVALID_TOPIC_ID;
    case 1:
      return predefined.name(topicId, clientId) ?? ReturnCode.INVALID_TOPIC_ID;
    case 2: {
      const n = shortName(topicId);
      return n === null || hasWildcard(n) ? ReturnCode.NOT_SUPPORTED : n;
    }
    case 3:
      return ReturnCode.NOT_SUPPORTED;
  }
}

/**
 * MQTT filter and SUBACK TopicId for a SUBSCRIBE (allocate = true) or UNSUBSCRIBE topic, or the
 * refusing code (spec §5.2 table).
 */
export function subscribeFilter(
  t: SnTopic,
  allocate: boolean,
  registry: TopicRegistry,
  predefined: PredefinedTopics,
  clientId: string | null,
): { filter: string; topicId: number } | { rc: number; topicId: number } {
  switch (t.idType) {
    case 0: {
      if (hasWildcard(t.name) || !allocate) return { filter: t.name, topicId: 0 };
      const pre = predefined.id(t.name, clientId);
      if (pre !== undefined) return { filter: t.name, topicId: pre };
      const id = registry.register(t.name);
      return id === null ? { rc: ReturnCode.EXCEEDS_LIMITATION, topicId: 0 } : { filter: t.name, topicId: id };
    }
    case 1: {
      const name = predefined.name(t.id, clientId);
      return name === undefined ? { rc: ReturnCode.INVALID_TOPIC_ID, topicId: t.id } : { filter: name, topicId: t.id };
    }
    case 2:
      return { filter: t.name, topicId: 0 };
    case 3:
      return { rc: ReturnCode.NOT_SUPPORTED, topicId: 0 };
  }
}
