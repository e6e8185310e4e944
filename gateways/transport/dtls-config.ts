// `[gateway.<name>.listeners.dtls.<id>]` for the UDP gateways (CoAP 5684, LwM2M 5784, MQTT-SN),
// named as EMQX 5's gateway DTLS listeners: bind, enable, dtls_options { certfile, keyfile,
// cacertfile, verify, fail_if_no_peer_cert, ciphers, versions, handshake_timeout }. PSK suites are
// offered when the cipher list names one (the default does); the keys come from
// [psk_authentication] and from pairing. An enabled listener on a build without the native DTLS
// addon refuses to start with the engine's reason, naming the listener.
import { z } from 'zod';
import { secondsFrom, splitListenerBind } from '../gateway.js';
import { dtlsSupport } from './dtls/index.js';
import { offersPsk } from './dtls-listener.js';

const certAs = z.enum(['disabled', 'cn', 'dn', 'san']).default('disabled');

export const dtlsOptionsSchema = z
  .strictObject({
    certfile: z.string().default(''),
    keyfile: z.string().default(''),
    /** CA bundle used to verify client certificates (verify_peer). */
    cacertfile: z.string().default(''),
    verify: z.enum(['verify_none', 'verify_peer']).default('verify_none'),
    /** With verify_peer: refuse clients that send no certificate. */
    fail_if_no_peer_cert: z.boolean().default(false),
    /** OpenSSL cipher names; empty = the default list (PSK and ECDHE suites). */
    ciphers: z.array(z.string().min(1)).default([]),
    /** EMQX's gateway default is ["dtlsv1.2", "dtlsv1"]; OpenSSL 3 here speaks DTLS 1.2 only. */
    versions: z
      .array(z.enum(['dtlsv1.2', 'dtlsv1']))
      .min(1)
      .default(['dtlsv1.2'])
      .refine((v) => v.includes('dtlsv1.2'), 'only dtlsv1.2 is supported: include "dtlsv1.2"'),
    /** Seconds an unfinished handshake is kept (EMQX default 15s). */
    handshake_timeout: z.preprocess(secondsFrom(false), z.number().min(0.1)).default(15),
  })
  .prefault({});

const dtlsListenerObject = (defaultPort: number) =>
  z
    .strictObject({
      enable: z.boolean().default(true),
      bind: z.string().min(1).default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(defaultPort),
      /** Established DTLS sessions at most (the engine's peer cap). */
      max_connections: z.number().int().min(1).default(10000),
      dtls_options: dtlsOptionsSchema,
      /** As on MQTT TLS listeners: a verified client certificate's CN, DN or first SAN becomes the username / client id. */
      peer_cert_as_username: certAs,
      peer_cert_as_clientid: certAs,
    })
    .superRefine((l, ctx) => {
      if (!l.enable) return;
      const o = l.dtls_options;
      if ((o.certfile === '') !== (o.keyfile === '')) ctx.addIssue({ code: 'custom', path: ['dtls_options', o.certfile === '' ? 'certfile' : 'keyfile'], message: 'certfile and keyfile go together' });
      // An empty list means the engine's defaults, which offer PSK (CCM_8 first) and ECDHE suites.
      if (o.certfile === '' && o.ciphers.length > 0 && !offersPsk(o.ciphers)) ctx.addIssue({ code: 'custom', path: ['dtls_options', 'ciphers'], message: 'no PSK cipher and no certfile/keyfile: the listener could complete no handshake' });
      if (o.verify === 'verify_peer' && o.cacertfile === '') ctx.addIssue({ code: 'custom', path: ['dtls_options', 'cacertfile'], message: 'required with verify = "verify_peer"' });
      // Checked here, with the config, so the daemon refuses to start instead of running without the listener.
      const support = dtlsSupport();
      if (!support.ok) ctx.addIssue({ code: 'custom', path: ['enable'], message: `DTLS is not available on this build: ${support.reason}` });
    });

/** `listeners.dtls` of a UDP gateway: named listeners; `default` is declared off (it needs keys or certificates). */
export function dtlsListenersSchema(defaultPort: number) {
  return z.record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'listener names are letters, digits, _ and -'), z.preprocess(splitListenerBind('0.0.0.0'), dtlsListenerObject(defaultPort))).prefault({ default: { enable: false } });
}

export type DtlsOptionsConfig = z.infer<typeof dtlsOptionsSchema>;
export type DtlsListenerConfig = z.infer<ReturnType<typeof dtlsListenerObject>>;
