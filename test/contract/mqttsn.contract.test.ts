import { mqttsnDriver } from './drivers/mqttsn.js';
import { describeGatewayContract } from './gateway-contract.js';

describeGatewayContract(mqttsnDriver);
