// outpostctl pair: the DTLS values the coap and mqttsn templates get from the daemon's answer.
import { describe, expect, it } from 'vitest';
import { cByteArray, templateValues } from '../../../src/cli/commands-devices.js';

const base = { client_id: 'x', username: 'x', password: 'pw', scope: 'devices/x/#', topic_ids: [] as { id: number; topic: string }[] };

describe('pairing values for DTLS', () => {
  it('writes the key as the body of a C byte array', () => {
    expect(cByteArray('00ffA1')).toBe('0x00, 0xff, 0xa1');
    expect(() => cByteArray('0g')).toThrow(/malformed PSK key/);
    expect(() => cByteArray('abc')).toThrow(/malformed PSK key/);
  });

  it('fills coap and mqttsn templates with the DTLS port, identity and key; refuses an answer without a key', () => {
    const coap = templateValues({ ...base, name: 'x', protocol: 'coap', psk_identity: 'x', psk_key: '0102' }, 'box', 5683, 15684);
    expect(coap).toMatchObject({ dtls_port: 15684, psk_identity: 'x', psk_key_bytes: '0x01, 0x02', gateway_port: 5683 });
    const sn = templateValues({ ...base, name: 'x', protocol: 'mqttsn', psk_identity: 'x', psk_key: 'ff', topic_ids: [{ id: 1, topic: 'a' }, { id: 2, topic: 'b' }] }, 'box', 1884);
    expect(sn).toMatchObject({ dtls_port: 1885, psk_key_bytes: '0xff' });
    expect(() => templateValues({ ...base, name: 'x', protocol: 'coap', psk_identity: null }, 'box', 5683)).toThrow(/no DTLS pre-shared key/);
    expect(templateValues({ ...base, name: 'x', protocol: 'mqtt', psk_identity: null }, 'box', 1883)).not.toHaveProperty('psk_identity');
  });
});
