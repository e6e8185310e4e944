// The MQTT front end: turns accepted connections from any listener into channels.
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { Authenticator, RateLimits } from '../broker/hooks.js';
import type { Clock } from '../broker/types.js';
import type { MqttConfig } from '../config/schema.js';
import { MqttChannel } from './channel.js';
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

  constructor(private readonly deps: FrontDeps) {}

  readonly accept = (c: AcceptedConnection): void => {
    const d = this.deps;
    const ch = new MqttChannel(c, {
      broker: d.broker,
      authenticator: d.authenticator(),
      rateLimits: d.rateLimits(),
      log: d.log,
      clock: d.clock,
      mqtt: d.mqtt,
      onClosed: (x) => this.channels.delete(x),
    });
    this.channels.add(ch);
  };

  get size(): number {
    return this.channels.size;
  }
}
