// The one effect runner for gateway channels. A channel is a state machine: frames, deliveries,
// timer firings, authentication answers and durability in; effects out. This runner carries out
// the effects every gateway shares (named timers on the injected clock, authentication through
// the broker's chain, waits for the group commit) and feeds their outcomes back as inputs; the
// effects only one protocol knows (send a frame, close, answer an API request) go to `apply`.
// It also fences each input: a defect in one channel ends that channel, never the listener, the
// process or the broker call that delivered to it.
import type { Logger } from 'pino';
import type { AuthOutcome, Clock, GatewayContext } from '../gateway.js';

type AuthRequest = Parameters<GatewayContext['authenticate']>[0];
type TimerHandle = ReturnType<Clock['setTimeout']>;

/** The effects the runner carries out itself. */
export type CoreEffect<T extends string> =
  | { type: 'set-timer'; name: T; ms: number }
  | { type: 'cancel-timer'; name: T }
  | { type: 'authenticate'; request: AuthRequest }
  | { type: 'await-durable'; id: number };

/** The inputs through which the runner answers a channel's core effects. */
export interface EffectInputs<T extends string, E> {
  handleTimer(name: T): readonly E[] | void;
  handleAuthResult(outcome: AuthOutcome): readonly E[] | void;
  handleDurable(id: number): readonly E[] | void;
}

export interface RunnerDeps<E> {
  clock: Clock;
  ctx: Pick<GatewayContext, 'authenticate' | 'whenDurable'>;
  log: Logger;
  /** The gateway's own effects ('send', 'close', …), in order with the core ones. */
  apply(effect: E): void;
  /** After each batch of effects (CoAP re-keys a device that moved). */
  settled?(): void;
  /** An input threw. The runner has stopped its timers; the owner ends the channel. */
  crashed(err: unknown): void;
  /**
   * When a local (synchronous) authentication answer is fed back: 'same-turn' (CoAP answers a
   * connectionless request in the turn it arrived) or 'next-turn' (MQTT-SN sends CONNACK after
   * the frames of the handshake that is still running).
   */
  localAuth?: 'same-turn' | 'next-turn';
}

const CORE = new Set(['set-timer', 'cancel-timer', 'authenticate', 'await-durable']);

export class ChannelRunner<T extends string, E extends { type: string }> {
  private readonly timers = new Map<T, TimerHandle>();
  private channel: EffectInputs<T, E> | null = null;
  private stopped = false;

  constructor(private readonly deps: RunnerDeps<E>) {}

  /** The channel whose inputs the runner calls (set once, after both exist). */
  bind(channel: EffectInputs<T, E>): this {
    this.channel = channel;
    return this;
  }

  /** true after dispose() or a crash: later firings and answers are dropped. */
  get disposed(): boolean {
    return this.stopped;
  }

  /** Feed one input to the channel and carry out what it returns. */
  input(fn: () => readonly E[] | void): void {
    if (this.stopped) return;
    let effects: readonly E[] | void;
    try {
      effects = fn();
    } catch (err) {
      this.dispose();
      this.deps.crashed(err);
      return;
    }
    if (effects) this.run(effects);
  }

  run(effects: readonly E[]): void {
    for (const eff of effects) {
      if (CORE.has(eff.type)) this.core(eff as unknown as CoreEffect<T>);
      else this.deps.apply(eff);
    }
    this.deps.settled?.();
  }

  // Imperative forms, for channels that act as they go instead of returning lists.

  /** One effect, core or the gateway's own, without a batch around it. */
  emit(effect: E): void {
    if (CORE.has(effect.type)) this.core(effect as unknown as CoreEffect<T>);
    else this.deps.apply(effect);
  }

  setTimer(name: T, ms: number): void {
    this.core({ type: 'set-timer', name, ms });
  }

  cancelTimer(name: T): void {
    this.core({ type: 'cancel-timer', name });
  }

  hasTimer(name: T): boolean {
    return this.timers.has(name);
  }

  authenticate(request: AuthRequest): void {
    this.core({ type: 'authenticate', request });
  }

  awaitDurable(id: number): void {
    this.core({ type: 'await-durable', id });
  }

  /** Cancel every named timer; the runner keeps serving. */
  clearTimers(): void {
    for (const h of this.timers.values()) this.deps.clock.clearTimeout(h);
    this.timers.clear();
  }

  /** Stop for good: timers cancelled, answers still on their way dropped. */
  dispose(): void {
    this.stopped = true;
    this.clearTimers();
  }

  private core(eff: CoreEffect<T>): void {
    switch (eff.type) {
      case 'set-timer': {
        const old = this.timers.get(eff.name);
        if (old !== undefined) this.deps.clock.clearTimeout(old);
        if (this.stopped) return;
        const name = eff.name;
        this.timers.set(
          name,
          this.deps.clock.setTimeout(() => {
            this.timers.delete(name);
            this.input(() => this.target().handleTimer(name));
          }, eff.ms),
        );
        return;
      }
      case 'cancel-timer': {
        const old = this.timers.get(eff.name);
        if (old !== undefined) this.deps.clock.clearTimeout(old);
        this.timers.delete(eff.name);
        return;
      }
      case 'authenticate':
        return this.authenticateNow(eff.request);
      case 'await-durable': {
        const id = eff.id;
        this.deps.ctx.whenDurable(() => this.input(() => this.target().handleDurable(id)));
        return;
      }
    }
  }

  private authenticateNow(request: AuthRequest): void {
    let outcome: AuthOutcome | Promise<AuthOutcome>;
    try {
      outcome = this.deps.ctx.authenticate(request);
    } catch (err) {
      outcome = Promise.reject(err);
    }
    const feed = (o: AuthOutcome): void => this.input(() => this.target().handleAuthResult(o));
    if (!(outcome instanceof Promise) && this.deps.localAuth !== 'next-turn') return feed(outcome);
    Promise.resolve(outcome).then(feed, (err: unknown) => {
      this.deps.log.warn({ reason: 'auth_error', err: err instanceof Error ? err.message : String(err) }, 'authenticate_failed');
      feed({ ok: false, reason: 'server_unavailable' });
    });
  }

  private target(): EffectInputs<T, E> {
    if (this.channel === null) throw new Error('ChannelRunner used before bind()');
    return this.channel;
  }
}
