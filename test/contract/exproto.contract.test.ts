import { exprotoDriver } from './drivers/exproto.js';
import { describeGatewayContract } from './gateway-contract.js';

describeGatewayContract(exprotoDriver);
