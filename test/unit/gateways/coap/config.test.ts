import { describe, expect, it } from 'vitest';
import { coapConfigSchema } from '../../../../gateways/coap/config.js';
import { coapGateway } from '../../../../gateways/coap/index.js';
import { validateConfig } from '../../../../src/config/load.js';

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
      listeners: { udp: { default: { enable: true, bind: '0.0.0.0', port: 5683 } } },
      blockwise: { enable: true, max_block_size: 1024, max_body_size: 4194304, exchange_lifetime: 247 },
      emqx_compat: { always_non_notify: false, retained_only_with_rh0: false, login_failure_bad_request: false, rst_keeps_observation: false },
    });
  });

  it("accepts EMQX 5's listener shape, gateway.coap.listeners.udp.<id>, with several ids", () => {
    const c = coapConfigSchema.parse({ enable: true, listeners: { udp: { default: { bind: '127.0.0.1', port: 0 }, lan: { bind: '::1', port: 5690 } } } });
    expect(c.listeners.udp).toEqual({ default: { enable: true, bind: '127.0.0.1', port: 0 }, lan: { enable: true, bind: '::1', port: 5690 } });
  });

  it('refuses the pre-framework form listeners.udp.{bind,port,enable}, naming the key to use instead', () => {
    const r = coapConfigSchema.safeParse({ listeners: { udp: { bind: '127.0.0.1', port: 5683 } } });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    expect(issues).toContainEqual({ path: 'listeners.udp.bind', message: expect.stringContaining('gateway.coap.listeners.udp.default.bind') });
    expect(issues).toContainEqual({ path: 'listeners.udp.port', message: expect.stringContaining('gateway.coap.listeners.udp.default.port') });
  });

  it('refuses the old form at daemon config load with the full key in the error', () => {
    expect(() => validateConfig({ gateway: { coap: { enable: true, listeners: { udp: { port: 5683 } } } } }, 'outpost.toml')).toThrow(
      /gateway\.coap\.listeners\.udp\.port: moved: use gateway\.coap\.listeners\.udp\.default\.port/,
    );
  });

  it('rejects unknown keys with their path, and bad values', () => {
    const r = coapConfigSchema.safeParse({ listeners: { udp: { default: { bnd: 'x' } } } });
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
