// Conversions between mqtt-packet's PUBLISH properties and the broker's MessageProperties.
import type { IPublishPacket } from 'mqtt-packet';
import type { MessageProperties } from '../core/types.js';

export function wireProps(p: MessageProperties | null): IPublishPacket['properties'] | undefined {
  if (!p) return undefined;
  const o: NonNullable<IPublishPacket['properties']> = {};
  if (p.payloadFormatIndicator !== undefined) o.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.responseTopic !== undefined) o.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) o.correlationData = p.correlationData;
  if (p.userProperties !== undefined) o.userProperties = p.userProperties;
  return o;
}

export function messageProps(pr: NonNullable<IPublishPacket['properties']>): MessageProperties | null {
  const o: MessageProperties = {};
  let any = false;
  if (pr.payloadFormatIndicator !== undefined) ((o.payloadFormatIndicator = pr.payloadFormatIndicator), (any = true));
  if (pr.contentType !== undefined) ((o.contentType = pr.contentType), (any = true));
  if (pr.responseTopic !== undefined) ((o.responseTopic = pr.responseTopic), (any = true));
  if (pr.correlationData !== undefined) ((o.correlationData = pr.correlationData), (any = true));
  if (pr.userProperties !== undefined) ((o.userProperties = pr.userProperties), (any = true));
  return any ? o : null;
}
