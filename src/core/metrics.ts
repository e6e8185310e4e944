// Counters are plain integers bumped on the hot path and read at scrape/$SYS time only.
// Names follow EMQX's metric names so dashboards and $SYS consumers carry over.

export const BROKER_COUNTERS = [
  'bytes.received',
  'bytes.sent',
  'packets.received',
  'packets.sent',
  'packets.connect.received',
  'packets.publish.received',
  'packets.publish.sent',
  'packets.malformed',
  'messages.received',
  'messages.sent',
  'messages.qos0.received',
  'messages.qos1.received',
  'messages.qos2.received',
  'messages.delivered',
  'messages.acked',
  'messages.retained',
  'messages.delayed',
  'messages.publish',
  'messages.dropped',
  'messages.dropped.no_subscribers',
  'messages.dropped.await_pubrel_timeout',
  'messages.forward',
  'delivery.dropped',
  'delivery.dropped.queue_full',
  'delivery.dropped.expired',
  'delivery.dropped.too_large',
  'delivery.dropped.qos0_msg',
  'delivery.dropped.no_local',
  'client.connect',
  'client.connack',
  'client.connected',
  'client.disconnected',
  'client.auth.anonymous',
  'client.subscribe',
  'client.unsubscribe',
  'session.created',
  'session.resumed',
  'session.takenover',
  'session.discarded',
  'session.terminated',
  'authentication.success',
  'authentication.failure',
  'authorization.allow',
  'authorization.deny',
  'authorization.superuser',
  'authorization.cache_hit',
  'authorization.nomatch',
  /** Outpost's own: a publisher stopped reading while a subscriber's queue drained (mqtt.publisher_flow_control). */
  'mqtt.flow_control.waits',
  /** Outpost's own: a connection closed because its topic aliases held too many bytes of topic names. */
  'mqtt.topic_alias.quota_exceeded',
  'store.commits',
  'store.quarantined',
] as const;

export type BrokerCounter = (typeof BROKER_COUNTERS)[number];

export class Metrics {
  /** Fixed-shape counters; bump with `metrics.c['messages.received']++`. */
  readonly c: Record<BrokerCounter, number>;
  /** Counters declared at run time by gateways, bridges and auth (e.g. `gateway.coap.messages.received`). */
  readonly extra = new Map<string, number>();
  /** Gauges sampled at read time (queue depths, store size, …). */
  private readonly gauges = new Map<string, () => number>();

  constructor() {
    const c = {} as Record<BrokerCounter, number>;
    for (const name of BROKER_COUNTERS) c[name] = 0;
    this.c = c;
  }

  inc(name: string, by = 1): void {
    if (name in this.c) this.c[name as BrokerCounter] += by;
    else this.extra.set(name, (this.extra.get(name) ?? 0) + by);
  }

  get(name: string): number {
    if (name in this.c) return this.c[name as BrokerCounter];
    return this.extra.get(name) ?? 0;
  }

  registerGauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  unregisterGauge(name: string): void {
    this.gauges.delete(name);
  }

  /** Every counter, broker and dynamic, as one object (EMQX `/metrics?aggregate=true` shape). */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = { ...this.c };
    for (const [k, v] of this.extra) out[k] = v;
    return out;
  }

  gaugeSnapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, read] of this.gauges) out[k] = read();
    return out;
  }
}
