// Optional loop marker across Outpost nodes (spec §5.7, rmqtt #397): with `loop_marker = true` a v5
// bridge adds this node's name to the user property `outpost-path` of what it forwards, and never
// forwards (egress) or republishes (ingress) a message whose path already names this node. The
// origin tag stops echoes over one bridge; the path stops rings of several brokers.
import { Message } from '../broker/message.js';
import type { MessageProperties } from '../broker/types.js';

export const PATH_PROPERTY = 'outpost-path';

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
