import { describe, expect, it } from 'vitest';
import { parseServer } from '../../../src/bridge/address.js';

describe('server addresses', () => {
  it.each([
    ['cloud.example.com:1883', false, { host: 'cloud.example.com', port: 1883, tls: false }],
    ['cloud.example.com', false, { host: 'cloud.example.com', port: 1883, tls: false }],
    ['cloud.example.com', true, { host: 'cloud.example.com', port: 8883, tls: true }],
    ['mqtts://cloud.example.com', false, { host: 'cloud.example.com', port: 8883, tls: true }],
    ['ssl://10.0.0.1:8884', false, { host: '10.0.0.1', port: 8884, tls: true }],
    ['mqtt://127.0.0.1:1884/', false, { host: '127.0.0.1', port: 1884, tls: false }],
    ['tcp://h:1', false, { host: 'h', port: 1, tls: false }],
    ['[::1]:1883', false, { host: '::1', port: 1883, tls: false }],
  ] as const)('%s (tls default %s)', (text, tls, want) => {
    expect(parseServer(text, tls)).toEqual({ ...want, text });
  });

  it.each(['ws://h:80', 'h:0', 'h:70000', 'h:port', '', 'a b:1'])('refuses %j', (text) => {
    expect(parseServer(text, false)).toBeNull();
  });
});
