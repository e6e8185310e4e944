// Optional loop marker across Outpost nodes (spec §5.7, rmqtt #397): with `loop_marker = true` a v5
// bridge adds this node's name to the user property `outpost-path` of what it forwards, and never
// forwards (egress) or republishes (ingress) a message whose path already names this node. The
// origin tag stops echoes over one bridge; the path stops rings of several brokers. When the
// upstream is an Outpost node that names itself in its v5 CONNACK (user property outpost-node), a
// message whose path already contains that node is not sent to it either, so two nodes bridged to
// each other deliver each message once.
import { Message } from '../core/message.js';
import type { MessageProperties } from '../core/types.js';
import { userPropertyValues } from '../core/user-properties.js';

export const PATH_PROPERTY = 'outpost-path';
/** v5 CONNACK user property by which an Outpost upstream names itself (set by the MQTT front, when it does). */
export const NODE_PROPERTY = 'outpost-node';

function pathOf(props: MessageProperties | null | undefined): string | null {
  const v = userPropertyValues(props?.userProperties, PATH_PROPERTY);
  return v.length === 0 ? null : v.join(',');
}

/** Does the message's path already name `node`? */
export function pathContains(props: MessageProperties | null | undefined, node: string): boolean {
  const p = pathOf(props);
  if (p === null) return false;
  for (const hop of p.split(',')) if (hop === node) return true;
  return false;
}

/** The message with `node` appended to its path; everything else kept. */
export function withPathMarker(m: Message, node: string): Message {
  const old = pathOf(m.props);
  // The path is one pair, where the first one was (else last); every other pair keeps its place.
  const path: readonly [string, string] = [PATH_PROPERTY, old ? `${old},${node}` : node];
  const userProperties: (readonly [string, string])[] = [];
  let placed = false;
  for (const pair of m.props?.userProperties ?? []) {
    if (pair[0] !== PATH_PROPERTY) userProperties.push(pair);
    else if (!placed) {
      userProperties.push(path);
      placed = true;
    }
  }
  if (!placed) userProperties.push(path);
  return new Message(m.id, m.topic, m.payload, m.qos, m.retain, { ...(m.props ?? {}), userProperties }, m.from, m.fromUsername, m.origin, m.ts, m.expiresAt);
}
