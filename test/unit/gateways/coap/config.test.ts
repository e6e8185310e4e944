import { describe, expect, it } from 'vitest';
import { coapConfigSchema } from '../../../../gateways/coap/config.js';
import { coapGateway } from '../../../../gateways/coap/index.js';

describe('[gateway.coap] config', () => {
  it('defaults to a disabled gateway with EMQX defaults and spec-correct behaviour', () => {
    const c = coapConfigSchema.parse(undefined);
    expect(c).toMatchObject({
      enable: false,
      mountpoint: '',
      heartbeat: 30,
      keepalive_multiplier: 1.5,
      connection_required: false,
      notify_type: 'qos',
      subscribe_qos: 'coap',
      publish_qos: 'coap',
      idle_timeout: 30,
      notify_queue_len: 100,
      listeners: { udp: { enable: true, bind: '0.0.0.0', port: 5683 } },
      blockwise: { enable: true, max_block_size: 1024, max_body_size: 4194304, exchange_lifetime: 247 },
      emqx_compat: { always_non_notify: false, retained_only_with_rh0: false, login_failure_bad_request: false, rst_keeps_observation: false },
    });
  });

  it('accepts the documented listener shape', () => {
    const c = coapConfigSchema.parse({ enable: true, listeners: { udp: { bind: '127.0.0.1', port: 0 } } });
    expect(c.listeners.udp).toEqual({ enable: true, bind: '127.0.0.1', port: 0 });
  });

  it('rejects unknown keys with their path, and bad values', () => {
    const r = coapConfigSchema.safeParse({ listeners: { udp: { bnd: 'x' } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('bnd');
    expect(coapConfigSchema.safeParse({ notify_type: 'sometimes' }).success).toBe(false);
    expect(coapConfigSchema.safeParse({ blockwise: { max_block_size: 1000 } }).success).toBe(false);
    expect(coapConfigSchema.safeParse({ heartbeat: 0 }).success).toBe(false);
  });

  it('is the schema the gateway module exports', async () => {
    expect(coapGateway.name).toBe('coap');
    expect(await coapGateway.loadConfigSchema()).toBe(coapConfigSchema);
  });
});
