// The MQTT front end: turns accepted connections from any listener into channels.
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { Authenticator, RateLimits } from '../core/hooks.js';
import type { Clock } from '../core/types.js';
import type { MqttConfig } from '../config/schema.js';
import { MqttChannel, type ChannelDeps } from './channel.js';
import type { AcceptedConnection } from './listener.js';

export interface FrontDeps {
  broker: Broker;
  authenticator: () => Authenticator;
  rateLimits: () => RateLimits;
  log: Logger;
  clock: Clock;
  mqtt: () => MqttConfig;
}

export class MqttFront {
  readonly channels = new Set<MqttChannel>();

  /**
   * What every channel gets, one object for all of them until a reload swaps the authenticator or the
   * limits (a channel keeps those it was accepted with): an object and a closure per connection were
   * part of each idle connection's memory (bench idle-conns).
   */
  private shared: ChannelDeps | null = null;
  private readonly forget = (ch: MqttChannel): void => {
    this.channels.delete(ch);
  };

  constructor(private readonly deps: FrontDeps) {}

  readonly accept = (c: AcceptedConnection): void => {
    this.channels.add(new MqttChannel(c, this.channelDeps()));
  };

  private channelDeps(): ChannelDeps {
    const d = this.deps;
    const authenticator = d.authenticator();
    const rateLimits = d.rateLimits();
    let s = this.shared;
    if (s === null || s.authenticator !== authenticator || s.rateLimits !== rateLimits) {
      s = this.shared = { broker: d.broker, authenticator, rateLimits, log: d.log, clock: d.clock, mqtt: d.mqtt, onClosed: this.forget };
    }
    return s;
  }

  get size(): number {
    return this.channels.size;
  }
}
