// The alarm registry, as EMQX's emqx_alarm: an alarm is activated once by name (a second activate
// of an active alarm is refused), deactivated into a bounded history, and every change is logged
// and published on $SYS/brokers/{node}/alarms/activate|deactivate. The history keeps at most
// `sizeLimit` deactivated alarms and forgets them after `validityPeriod` (EMQX alarm.size_limit,
// alarm.validity_period).

export interface ActiveAlarm {
  name: string;
  message: string;
  details: Record<string, unknown>;
  /** ms since epoch. */
  activateAt: number;
}

export interface DeactivatedAlarm extends ActiveAlarm {
  deactivateAt: number;
}

export interface AlarmSink {
  /** Publish the change ($SYS); times in ms. */
  publish(name: string, activate: boolean, details: Record<string, unknown>, at: { activateAt: number; deactivateAt?: number; message: string }): void;
  /** Log the change (EMQX alarm.actions "log"). */
  log(event: 'alarm_is_activated' | 'alarm_is_deactivated', alarm: { name: string; message: string }): void;
}

export interface AlarmSettings {
  /** Most deactivated alarms kept. */
  sizeLimit: number;
  /** How long a deactivated alarm is kept, ms. */
  validityPeriod: number;
  actions: readonly ('log' | 'publish')[];
}

export class AlarmRegistry {
  private readonly active = new Map<string, ActiveAlarm>();
  /** Oldest first. */
  private history: DeactivatedAlarm[] = [];

  constructor(
    private readonly sink: AlarmSink,
    private readonly now: () => number,
    private settings: AlarmSettings,
  ) {}

  configure(settings: AlarmSettings): void {
    this.settings = settings;
    this.prune();
  }

  /** false when an alarm of that name is already active (EMQX {error, already_existed}). */
  activate(name: string, details: Record<string, unknown> = {}, message = ''): boolean {
    if (this.active.has(name)) return false;
    const alarm: ActiveAlarm = { name, message: message || name, details, activateAt: this.now() };
    this.active.set(name, alarm);
    if (this.settings.actions.includes('log')) this.sink.log('alarm_is_activated', alarm);
    if (this.settings.actions.includes('publish')) this.sink.publish(name, true, details, { activateAt: alarm.activateAt, message: alarm.message });
    return true;
  }

  /** false when no alarm of that name is active. Details/message replace the activation's when given. */
  deactivate(name: string, details?: Record<string, unknown>, message?: string): boolean {
    const a = this.active.get(name);
    if (!a) return false;
    this.active.delete(name);
    const d: DeactivatedAlarm = { ...a, ...(details && { details }), ...(message && { message }), deactivateAt: this.now() };
    this.history.push(d);
    this.prune();
    if (this.settings.actions.includes('log')) this.sink.log('alarm_is_deactivated', d);
    if (this.settings.actions.includes('publish')) this.sink.publish(name, false, d.details, { activateAt: d.activateAt, deactivateAt: d.deactivateAt, message: d.message });
    return true;
  }

  /** Raise or clear by a condition: the one call a periodic check makes. */
  ensure(name: string, on: boolean, details: Record<string, unknown> = {}, message = ''): void {
    if (on) this.activate(name, details, message);
    else if (this.active.has(name)) this.deactivate(name, details, message || undefined);
  }

  isActive(name: string): boolean {
    return this.active.has(name);
  }

  activated(): ActiveAlarm[] {
    return [...this.active.values()];
  }

  /** Newest first, as EMQX lists them. */
  deactivated(): DeactivatedAlarm[] {
    this.prune();
    return [...this.history].reverse();
  }

  /** DELETE /alarms: forget every deactivated alarm. */
  clearDeactivated(): number {
    const n = this.history.length;
    this.history = [];
    return n;
  }

  private prune(): void {
    const cutoff = this.now() - this.settings.validityPeriod;
    let drop = 0;
    while (drop < this.history.length && this.history[drop]!.deactivateAt < cutoff) drop++;
    drop = Math.max(drop, this.history.length - this.settings.sizeLimit);
    if (drop > 0) this.history = this.history.slice(drop);
  }
}
