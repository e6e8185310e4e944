// Optional loop marker across Outpost nodes (spec §5.7, rmqtt #397): with `loop_marker = true` a v5
// bridge adds this node's name to the user property `outpost-path` of what it forwards, and never
// forwards (egress) or republishes (ingress) a message whose path already names this node. The
// origin tag stops echoes over one bridge; the path stops rings of several brokers. When the
// upstream is an Outpost node that names itself in its v5 CONNACK (user property outpost-node), a
// message whose path already contains that node is not sent to it either, so two nodes bridged to
// each other deliver each message once.
import { Message } from '../core/message.js';
import type { MessageProperties } from '../core/types.js';

export const PATH_PROPERTY = 'outpost-path';
/** v5 CONNACK user property by which an Outpost upstream names itself (set by the MQTT front, when it does). */
export const NODE_PROPERTY = 'outpost-node';

function pathOf(props: MessageProperties | null | undefined): string | null {
  const v = props?.userProperties?.[PATH_PROPERTY];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(',') : v;
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
  const userProperties = { ...(m.props?.userProperties ?? {}), [PATH_PROPERTY]: old ? `${old},${node}` : node };
  return new Message(m.id, m.topic, m.payload, m.qos, m.retain, { ...(m.props ?? {}), userProperties }, m.from, m.fromUsername, m.origin, m.ts, m.expiresAt);
}
