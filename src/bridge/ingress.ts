// Remote -> local: PUBLISH packets from the upstream become local messages tagged with the bridge
// as origin (so this bridge never sends them back, spec §5.7), mapped by the first matching ingress
// mapping. QoS 1/2 are acknowledged upstream only after the local group commit, so a message the
// upstream considers delivered is in our store.
import type { Logger } from 'pino';
import type { IPublishPacket, ISubscribePacket, Packet } from 'mqtt-packet';
import type { BrokerApi } from '../broker/api.js';
import { createMessage, type Message } from '../core/message.js';
import type { Link } from './link.js';
import { findIngress, type IngressMapping } from './mapping.js';
import { mappedMessage, type DropReason } from './outbound-log.js';
import { messageProps } from './wire.js';
import { pathContains } from './loop-marker.js';

export interface IngressEvents {
  received(): void;
  dropped(reason: DropReason, m: Message): void;
  loopPrevented(): void;
  /** This node's name when loop_marker is on: messages whose outpost-path names it are not republished. */
  marker: string | null;
}

export class Ingress {
  /** QoS 2 packet ids between PUBREC and PUBREL [MQTT-4.3.3]. */
  private readonly awaitingRel = new Set<number>();

  constructor(
    private readonly broker: BrokerApi,
    private readonly name: string,
    private readonly clientId: string,
    readonly mappings: readonly IngressMapping[],
    private readonly log: Logger,
    private readonly ev: IngressEvents,
  ) {}

  subscribePacket(pid: number, proto: 3 | 4 | 5): ISubscribePacket {
    return {
      cmd: 'subscribe',
      messageId: pid,
      subscriptions: this.mappings.map((m) =>
        // v5: no-local against echo, retain-as-published, retained messages only for new subscriptions [MQTT-3.8.3.1].
        proto === 5 ? { topic: m.subscribeFilter, qos: m.subQos, nl: m.noLocal, rap: true, rh: 1 } : { topic: m.subscribeFilter, qos: m.subQos },
      ),
    };
  }

  /** A new (not resumed) session starts without the QoS 2 receive state of the old one. */
  reset(): void {
    this.awaitingRel.clear();
  }

  /** `frame` is the PUBLISH's bytes, for its user properties in wire order. */
  onPublish(link: Link, p: IPublishPacket, now: number, frame: Buffer): void {
    const pid = p.messageId ?? 0;
    if (p.qos === 2 && this.awaitingRel.has(pid)) {
      // A DUP of a QoS 2 message we already took: acknowledge only [MQTT-4.3.3-9].
      link.write({ cmd: 'pubrec', messageId: pid });
      return;
    }
    this.ev.received();
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    const m = findIngress(this.mappings, p.topic);
    const pr = p.properties;
    const props = m && pr ? messageProps(pr, frame) : null;
    if (m && this.ev.marker !== null && pathContains(props, this.ev.marker)) this.ev.loopPrevented();
    else if (m) {
      const remote = createMessage({
        topic: p.topic,
        payload,
        qos: p.qos,
        retain: p.retain,
        props,
        from: this.clientId,
        origin: this.name,
        expiryInterval: pr?.messageExpiryInterval,
        now,
      });
      const mp = m.apply(remote);
      if (!mp) this.ev.dropped('topic_invalid', remote);
      else {
        const r = this.broker.publish(mappedMessage(remote, mp.topic, mp.qos, mp.retain, null));
        if (!r.ok) this.log.warn({ topic: mp.topic, reason: r.reason }, 'bridge_ingress_publish_failed');
      }
    } else this.log.debug({ topic: p.topic }, 'bridge_ingress_unmatched');
    if (p.qos === 0) return;
    if (p.qos === 2) this.awaitingRel.add(pid);
    const ack: Packet = p.qos === 1 ? { cmd: 'puback', messageId: pid } : { cmd: 'pubrec', messageId: pid };
    this.broker.store.afterCommit({ committed: () => link.write(ack) });
  }

  onPubrel(link: Link, pid: number): void {
    this.awaitingRel.delete(pid);
    link.write({ cmd: 'pubcomp', messageId: pid });
  }
}
