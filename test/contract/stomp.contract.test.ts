import { stompDriver } from './drivers/stomp.js';
import { describeGatewayContract } from './gateway-contract.js';

describeGatewayContract(stompDriver);
