// The contract's LwM2M device: the registration interface over real UDP (CoAP frames built with the
// shared codec). A device's "connection" is its registration: Register opens it (credentials in
// the query as EMQX reads them: imei = username, password), Update proves it alive, lifetime
// expiry is its keepalive. Its MQTT side is EMQX's fixed command protocol (dn/up JSON topics), so
// the contract's free-topic publish/subscribe/ACL cases do not apply: lwm2m-gateway.test.ts covers
// those topics, ACLs on them included.
import { Code, Opt, type CoapOption } from '../../../gateways/codecs/coap/frame.js';
import { RawDevice } from '../../fixtures/coap/clients.js';
import type { Daemon } from '../../helpers/daemon.js';
import type { ConnectResult, ContractDevice, GatewayDriver, Identity } from '../gateway-contract.js';

const path = (...segments: string[]): CoapOption[] => segments.map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(s) }));
const query = (q: Record<string, string>): CoapOption[] => Object.entries(q).map(([k, v]) => ({ number: Opt.URI_QUERY, value: Buffer.from(`${k}=${v}`) }));
const LINK_FORMAT = { number: Opt.CONTENT_FORMAT, value: Buffer.from([40]) };

class Lwm2mContractDevice implements ContractDevice {
  private mid = 100;
  constructor(
    private readonly dev: RawDevice,
    readonly clientId: string,
    private readonly location: string,
  ) {}

  publish(): Promise<'ok' | 'refused'> {
    return Promise.reject(new Error('LwM2M has no free-topic publish (pubsub: false)'));
  }

  subscribe(): Promise<'ok' | 'refused'> {
    return Promise.reject(new Error('LwM2M has no free-topic subscribe (pubsub: false)'));
  }

  nextMessage(): Promise<null> {
    return Promise.resolve(null);
  }

  /** Update (POST /rd/{location}): 2.04 while the registration lives. */
  async alive(): Promise<boolean> {
    const messageId = this.mid++;
    this.dev.send({ type: 'CON', code: Code.POST, messageId, token: Buffer.from([messageId & 0xff]), options: path('rd', this.location), payload: Buffer.alloc(0) });
    const r = await this.dev.waitFor((f) => f.type === 'ACK' && f.messageId === messageId, 3000);
    return r !== null && r.code === Code.CHANGED;
  }

  sendMalformed(): void {
    // A CON header whose token length is 9: a message format error (RFC 7252 §3), answered with RST.
    this.dev.sendRaw(Buffer.from([0x49, 0x02, 0x7f, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  }

  close(): Promise<void> {
    return this.dev.close();
  }
}

export const lwm2mDriver: GatewayDriver = {
  name: 'lwm2m',
  sysName: 'lwm2m',
  config: `
[gateway.lwm2m]
enable = true
lifetime_min = 1
auto_observe = false
[gateway.lwm2m.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`,
  canBeAnonymous: true,
  pubsub: false,
  duplicateId: 'reregister',
  malformed: 'reject',
  async connect(d: Daemon, who: Identity): Promise<ConnectResult> {
    const dev = await RawDevice.open(d.ports['lwm2m:udp:default']!);
    const q: Record<string, string> = { ep: who.clientId, lt: String(who.keepalive ?? 300), lwm2m: '1.1', b: 'U' };
    if (who.username !== null) q.imei = who.username;
    if (who.password !== null) q.password = who.password;
    dev.send({ type: 'CON', code: Code.POST, messageId: 1, token: Buffer.from('reg'), options: [...path('rd'), LINK_FORMAT, ...query(q)], payload: Buffer.from('</1/0>,</3/0>') });
    const r = await dev.waitFor((f) => f.type === 'ACK' && f.messageId === 1, 3000);
    if (r === null || r.code !== Code.CREATED) {
      await dev.close();
      return { ok: false, detail: r === null ? 'no answer' : `${r.code >> 5}.${String(r.code & 31).padStart(2, '0')} ${r.payload.toString()}` };
    }
    const location = r.options.filter((o) => o.number === 8).map((o) => o.value.toString());
    return { ok: true, device: new Lwm2mContractDevice(dev, who.clientId, location[1] ?? who.clientId) };
  },
};
