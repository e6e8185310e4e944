// Every gateway the build ships runs the gateway contract (gateway-contract.ts) through its driver.
// A new gateway without a driver fails the first case here, so none can skip the contract.
import { describe, expect, it } from 'vitest';
import { GATEWAYS } from '../../gateways/index.js';
import { coapDriver } from './drivers/coap.js';
import { exprotoDriver } from './drivers/exproto.js';
import { lwm2mDriver } from './drivers/lwm2m.js';
import { mqttsnDriver } from './drivers/mqttsn.js';
import { stompDriver } from './drivers/stomp.js';
import { describeGatewayContract } from './gateway-contract.js';

const DRIVERS = [coapDriver, mqttsnDriver, stompDriver, exprotoDriver, lwm2mDriver];

describe('gateway contract coverage', () => {
  it('has a driver for every gateway the build ships', () => {
    expect(DRIVERS.map((d) => d.name).sort()).toEqual(GATEWAYS.map((g) => g.name).sort());
  });
});

for (const driver of DRIVERS) describeGatewayContract(driver);
