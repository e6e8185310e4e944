// $SYS/brokers/{node}/… : version, uptime, datetime, stats and metrics on an interval, and the
// client connected/disconnected/subscribed/unsubscribed events with EMQX's JSON fields.
import type { DisconnectReason, SubscriptionOptions } from '../core/types.js';
import type { Session } from './session.js';

export interface SysSettings {
  sys_msg_interval: number;
  sys_heartbeat_interval: number;
  client_connected: boolean;
  client_disconnected: boolean;
  client_subscribed: boolean;
  client_unsubscribed: boolean;
}

export interface SysSink {
  readonly node: string;
  readonly version: string;
  readonly startedAt: number;
  now(): number;
  publishSys(topic: string, payload: string, retain: boolean): void;
  /** Replace (payload) or remove (null) a retained $SYS message without sending anything to subscribers. */
  setRetainedSys(topic: string, payload: string | null): void;
  statsForSys(): Record<string, number>;
  metricsForSys(): Record<string, number>;
}

/** When an alarm was raised and cleared (ms since epoch) and its message, from the alarm registry. */
export interface AlarmTimes {
  activateAt: number;
  deactivateAt?: number;
  message?: string;
}

export class SysPublisher {
  private timers: NodeJS.Timeout[] = [];
  private readonly prefix: string;
  /** Active alarms (name -> body of its activate message), in activation order. */
  private readonly activeAlarms = new Map<string, string>();
  /** The alarm whose deactivate message is the retained one, if any. */
  private retainedDeactivation: string | null = null;

  constructor(
    private readonly sink: SysSink,
    private settings: SysSettings,
  ) {
    this.prefix = `$SYS/brokers/${sink.node}`;
  }

  start(): void {
    const s = this.sink;
    s.publishSys('$SYS/brokers', s.node, true);
    s.publishSys(`${this.prefix}/version`, s.version, true);
    s.publishSys(`${this.prefix}/sysdescr`, 'Outpost IoT edge gateway', true);
    // Alarms of the previous run are not this run's: whatever is still wrong is raised again.
    s.setRetainedSys(`${this.prefix}/alarms/activate`, null);
    s.setRetainedSys(`${this.prefix}/alarms/deactivate`, null);
    this.heartbeat();
    if (this.settings.sys_heartbeat_interval > 0) {
      const t = setInterval(() => this.heartbeat(), this.settings.sys_heartbeat_interval * 1000);
      t.unref();
      this.timers.push(t);
    }
    if (this.settings.sys_msg_interval > 0) {
      const t = setInterval(() => this.tick(), this.settings.sys_msg_interval * 1000);
      t.unref();
      this.timers.push(t);
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  heartbeat(): void {
    const s = this.sink;
    s.publishSys(`${this.prefix}/uptime`, String(s.now() - s.startedAt), false);
    s.publishSys(`${this.prefix}/datetime`, new Date(s.now()).toISOString(), false);
  }

  tick(): void {
    const s = this.sink;
    for (const [k, v] of Object.entries(s.statsForSys())) s.publishSys(`${this.prefix}/stats/${k.replace(/\./g, '/')}`, String(v), false);
    for (const [k, v] of Object.entries(s.metricsForSys())) s.publishSys(`${this.prefix}/metrics/${k.replace(/\./g, '/')}`, String(v), false);
  }

  private base(sess: Session): string {
    return sess.protocol === 'mqtt' ? `${this.prefix}/clients/${sess.clientId}` : `${this.prefix}/gateway/${sess.sysName}/clients/${sess.clientId}`;
  }

  private common(sess: Session, now: number) {
    return {
      clientid: sess.clientId,
      username: sess.username,
      ipaddress: sess.peerHost,
      sockport: sess.sockPort,
      protocol: sess.protocol,
      proto_name: sess.protoName,
      proto_ver: sess.protoVer,
      connected_at: sess.connectedAt,
      ts: now,
    };
  }

  connected(sess: Session): void {
    if (!this.settings.client_connected) return;
    const now = this.sink.now();
    const body = {
      ...this.common(sess, now),
      keepalive: sess.keepalive,
      clean_start: sess.cleanStart,
      expiry_interval: sess.expiryInterval >= 0xffffffff ? 0xffffffff * 1000 : sess.expiryInterval * 1000,
    };
    this.sink.publishSys(`${this.base(sess)}/connected`, JSON.stringify(body), false);
  }

  disconnected(sess: Session, reason: DisconnectReason): void {
    if (!this.settings.client_disconnected) return;
    const now = this.sink.now();
    const body = { ...this.common(sess, now), reason, disconnected_at: now };
    this.sink.publishSys(`${this.base(sess)}/disconnected`, JSON.stringify(body), false);
  }

  subscribed(sess: Session, topic: string, opts: SubscriptionOptions, isNew: boolean): void {
    if (!this.settings.client_subscribed) return;
    const body = {
      clientid: sess.clientId,
      username: sess.username,
      protocol: sess.protocol,
      topic,
      subopts: { qos: opts.qos, nl: opts.nl ? 1 : 0, rap: opts.rap ? 1 : 0, rh: opts.rh, is_new: isNew, sub_props: opts.subId ? { 'Subscription-Identifier': opts.subId } : {} },
      ts: this.sink.now(),
    };
    this.sink.publishSys(`${this.base(sess)}/subscribed`, JSON.stringify(body), false);
  }

  unsubscribed(sess: Session, topic: string): void {
    if (!this.settings.client_unsubscribed) return;
    const body = { clientid: sess.clientId, username: sess.username, protocol: sess.protocol, topic, ts: this.sink.now() };
    this.sink.publishSys(`${this.base(sess)}/unsubscribed`, JSON.stringify(body), false);
  }

  /**
   * Raise or clear an alarm. Both messages are retained, so monitoring that connects later sees an
   * active alarm (EMQX does not retain); the retained activate message only ever shows an alarm that
   * is still active: when one clears, it becomes the latest alarm still active, or goes away, without
   * a new message to live subscribers (they already saw the deactivation).
   */
  alarm(name: string, activate: boolean, details: Record<string, unknown>, at?: AlarmTimes): void {
    const s = this.sink;
    // EMQX's payload (emqx_alarm:normalize/1): times in microseconds, deactivate_at "infinity" while active.
    const activateAt = (at?.activateAt ?? s.now()) * 1000;
    const deactivateAt = activate ? 'infinity' : (at?.deactivateAt ?? s.now()) * 1000;
    const message = at?.message ?? String(details.message ?? name);
    const body = JSON.stringify({ name, details, message, activate_at: activateAt, deactivate_at: deactivateAt, activated: activate });
    const activateTopic = `${this.prefix}/alarms/activate`;
    const deactivateTopic = `${this.prefix}/alarms/deactivate`;
    if (activate) {
      this.activeAlarms.delete(name);
      this.activeAlarms.set(name, body);
      if (this.retainedDeactivation === name) {
        s.setRetainedSys(deactivateTopic, null);
        this.retainedDeactivation = null;
      }
      s.publishSys(activateTopic, body, true);
      return;
    }
    s.publishSys(deactivateTopic, body, true);
    this.retainedDeactivation = name;
    if (!this.activeAlarms.delete(name)) return;
    let latest: string | null = null;
    for (const b of this.activeAlarms.values()) latest = b;
    s.setRetainedSys(activateTopic, latest);
  }

  /** Names of the alarms active now. */
  active(): string[] {
    return [...this.activeAlarms.keys()];
  }
}
