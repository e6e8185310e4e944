// The contract's CoAP device: connection mode (gateways/coap/SPEC.md §3) over a real UDP socket,
// since that is the CoAP mode with a session to kick, ban and time out. Frames are built with the
// gateway's codec but sent and read by the test, so every answer is the daemon's.
import { Code, Opt, type CoapFrame, type CoapOption } from '../../../gateways/codecs/coap/frame.js';
import { RawDevice } from '../../fixtures/coap/clients.js';
import type { Daemon } from '../../helpers/daemon.js';
import type { ConnectResult, ContractDevice, GatewayDriver, Identity } from '../gateway-contract.js';

const path = (...segments: string[]): CoapOption[] => segments.map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(s) }));
const query = (q: Record<string, string>): CoapOption[] => Object.entries(q).map(([k, v]) => ({ number: Opt.URI_QUERY, value: Buffer.from(`${k}=${v}`) }));
const isSuccess = (code: number): boolean => code >> 5 === 2;

class CoapContractDevice implements ContractDevice {
  private mid = 1;
  private readonly observed = new Map<string, string>();
  constructor(
    private readonly dev: RawDevice,
    readonly clientId: string,
    private readonly token: string,
  ) {}

  /** One CON request; resolves its piggybacked response (or null after 3 s). */
  async request(code: number, options: CoapOption[], payload = ''): Promise<CoapFrame | null> {
    const messageId = this.mid++;
    const token = Buffer.from([messageId & 0xff, messageId >> 8]);
    this.dev.send({ type: 'CON', code, messageId, token, options, payload: Buffer.from(payload) });
    return this.dev.waitFor((f) => f.type === 'ACK' && f.messageId === messageId, 3000);
  }

  private auth(): CoapOption[] {
    return query({ clientid: this.clientId, token: this.token });
  }

  async publish(topic: string, payload: string, qos: 0 | 1): Promise<'ok' | 'refused'> {
    const r = await this.request(Code.POST, [...path('ps', ...topic.split('/')), ...this.auth(), ...query({ qos: String(qos) })], payload);
    return r !== null && isSuccess(r.code) ? 'ok' : 'refused';
  }

  async subscribe(topic: string, qos: 0 | 1): Promise<'ok' | 'refused'> {
    const messageId = this.mid++;
    const token = Buffer.from(`o${messageId}`);
    this.dev.send({ type: 'CON', code: Code.GET, messageId, token, options: [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }, ...path('ps', ...topic.split('/')), ...this.auth(), ...query({ qos: String(qos) })], payload: Buffer.alloc(0) });
    const r = await this.dev.waitFor((f) => f.type === 'ACK' && f.messageId === messageId, 3000);
    if (r === null || !isSuccess(r.code)) return 'refused';
    this.observed.set(token.toString('hex'), topic);
    return 'ok';
  }

  async nextMessage(ms: number): Promise<{ topic: string; payload: string } | null> {
    const n = await this.dev.waitFor((f) => f.code === Code.CONTENT && (f.type === 'NON' || f.type === 'CON') && this.observed.has(f.token.toString('hex')), ms);
    if (n === null) return null;
    if (n.type === 'CON') this.dev.send({ type: 'ACK', code: 0, messageId: n.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
    return { topic: this.observed.get(n.token.toString('hex'))!, payload: n.payload.toString() };
  }

  /** The connection-mode heartbeat (PUT /mqtt/connection): 2.04 while the session lives. */
  async alive(): Promise<boolean> {
    const r = await this.request(Code.PUT, [...path('mqtt', 'connection'), ...this.auth()]);
    return r !== null && r.code === Code.CHANGED;
  }

  sendMalformed(): void {
    // A CON header whose token length is 9: a message format error (RFC 7252 §3), answered with RST.
    this.dev.sendRaw(Buffer.from([0x49, 0x02, 0x7f, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  }

  close(): Promise<void> {
    return this.dev.close();
  }
}

export const coapDriver: GatewayDriver = {
  name: 'coap',
  sysName: 'coap',
  config: `
[gateway.coap]
enable = true
connection_required = true
heartbeat = 3
[gateway.coap.listeners.udp.default]
bind = "127.0.0.1"
port = 0
`,
  canBeAnonymous: true,
  duplicateId: 'refuse',
  malformed: 'reject',
  // The gateway-wide heartbeat (3 s x 1.5) stands for `who.keepalive`: CoAP has no per-device keepalive.
  async connect(d: Daemon, who: Identity): Promise<ConnectResult> {
    const dev = await RawDevice.open(d.ports['coap:udp:default']!);
    const creds: Record<string, string> = { clientid: who.clientId };
    if (who.username !== null) creds.username = who.username;
    if (who.password !== null) creds.password = who.password;
    dev.send({ type: 'CON', code: Code.POST, messageId: 0, token: Buffer.from('login'), options: [...path('mqtt', 'connection'), ...query(creds)], payload: Buffer.alloc(0) });
    const r = await dev.waitFor((f) => f.type === 'ACK' && f.messageId === 0, 3000);
    if (r === null || r.code !== Code.CREATED) {
      await dev.close();
      return { ok: false, detail: r === null ? 'no answer' : `${r.code >> 5}.${String(r.code & 31).padStart(2, '0')} ${r.payload.toString()}` };
    }
    return { ok: true, device: new CoapContractDevice(dev, who.clientId, r.payload.toString()) };
  },
};
