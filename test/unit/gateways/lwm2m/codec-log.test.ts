// The gateway's frame log form keeps registration secrets out of debug logs (issue 17).
import { describe, expect, it } from 'vitest';
import { Code, Opt } from '../../../../gateways/codecs/coap/frame.js';
import { coapCodec } from '../../../../gateways/lwm2m/index.js';

describe('coapCodec.format', () => {
  it('masks the password query parameter', () => {
    const q = ['ep=dev1', 'imei=359', 'password=s3cret', 'lt=60'].map((x) => ({ number: Opt.URI_QUERY, value: Buffer.from(x) }));
    const s = coapCodec.format({ type: 'CON', code: Code.POST, messageId: 1, token: Buffer.from([1]), options: [{ number: Opt.URI_PATH, value: Buffer.from('rd') }, ...q], payload: Buffer.alloc(0) });
    expect(s).toContain('/rd?ep=dev1&imei=359&password=***&lt=60');
    expect(s).not.toContain('s3cret');
  });
});
