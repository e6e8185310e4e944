// Conversions between mqtt-packet's PUBLISH properties and the broker's MessageProperties.
import type { IPublishPacket } from 'mqtt-packet';
import type { MessageProperties, UserProperties } from '../core/types.js';
import { readUserProperties, readVarint } from '../core/user-properties.js';

/** The properties mqtt-packet generates; user properties go separately, in order (Link.write). */
export function wireProps(p: MessageProperties | null): IPublishPacket['properties'] | undefined {
  if (!p) return undefined;
  const o: NonNullable<IPublishPacket['properties']> = {};
  if (p.payloadFormatIndicator !== undefined) o.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.responseTopic !== undefined) o.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) o.correlationData = p.correlationData;
  return o;
}

/** `frame` is the PUBLISH's bytes: its user properties are read from there, in wire order [MQTT-3.3.2-18]. */
export function messageProps(pr: NonNullable<IPublishPacket['properties']>, frame: Buffer): MessageProperties | null {
  const o: MessageProperties = {};
  let any = false;
  if (pr.payloadFormatIndicator !== undefined) ((o.payloadFormatIndicator = pr.payloadFormatIndicator), (any = true));
  if (pr.contentType !== undefined) ((o.contentType = pr.contentType), (any = true));
  if (pr.responseTopic !== undefined) ((o.responseTopic = pr.responseTopic), (any = true));
  if (pr.correlationData !== undefined) ((o.correlationData = pr.correlationData), (any = true));
  if (pr.userProperties !== undefined) {
    const up = publishUserProperties(frame);
    if (up !== null && up.length > 0) ((o.userProperties = up), (any = true));
  }
  return any ? o : null;
}

/** The User Properties of a v5 PUBLISH frame in wire order, null when it cannot be read. */
export function publishUserProperties(frame: Buffer): UserProperties | null {
  const [, bodyAt] = readVarint(frame, 1, frame.length);
  if (bodyAt + 2 > frame.length) return null;
  const qos = (frame[0]! >> 1) & 3;
  return readUserProperties(frame, bodyAt + 2 + frame.readUInt16BE(bodyAt) + (qos > 0 ? 2 : 0), frame.length);
}
