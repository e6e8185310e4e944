import { coapDriver } from './drivers/coap.js';
import { describeGatewayContract } from './gateway-contract.js';

describeGatewayContract(coapDriver);
