// Composes each gateway's own config schema under [gateway.<name>].
import { z } from 'zod';
import { coapConfigSchema } from './coap/config.js';
import { mqttsnConfigSchema } from './mqttsn/config.js';
import { stompConfigSchema } from './stomp/config.js';
import { exprotoConfigSchema } from './exproto/config.js';
import { lwm2mConfigSchema } from './lwm2m/config.js';

export const gatewayConfigSchema = z
  .strictObject({
    coap: coapConfigSchema,
    mqttsn: mqttsnConfigSchema,
    stomp: stompConfigSchema,
    exproto: exprotoConfigSchema,
    lwm2m: lwm2mConfigSchema,
  })
  .prefault({});
