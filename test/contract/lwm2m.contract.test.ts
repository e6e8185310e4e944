import { lwm2mDriver } from './drivers/lwm2m.js';
import { describeGatewayContract } from './gateway-contract.js';

describeGatewayContract(lwm2mDriver);
