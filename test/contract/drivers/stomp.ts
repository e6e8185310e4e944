// The contract's STOMP 1.2 client over a real TCP socket. Frames are built and read with the
// gateway's codec; every answer is the daemon's. The client id comes from a CONNECT header through
// `clientinfo_override.clientid` (EMQX's ${Packet.headers.X} templates), login/passcode are the
// credentials, and heart-beat cx = keepalive: the gateway drops a client silent for grace x cx.
import { connect as tcpConnect, type Socket } from 'node:net';
import { decodeStream, encode, header, type StompFrame } from '../../../gateways/stomp/frame.js';
import type { Daemon } from '../../helpers/daemon.js';
import type { ConnectResult, ContractDevice, GatewayDriver, Identity } from '../gateway-contract.js';

const LIMITS = { maxHeaders: 1000, maxHeaderLength: 1 << 20, maxBodyLength: 1 << 24 };
const frame = (command: string, headers: Record<string, string>, body = ''): StompFrame => ({ command, headers: Object.entries(headers), body: Buffer.from(body) });

/** Frames from one socket, in order; heart-beats are dropped. */
class StompWire {
  readonly frames: StompFrame[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  constructor(readonly sock: Socket) {
    sock.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      for (let i = 0; i < 1000; i++) {
        const r = decodeStream(this.buf, LIMITS);
        if (r.kind !== 'frame') break;
        this.buf = r.rest;
        if (r.frame.command !== '') this.frames.push(r.frame);
      }
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => undefined);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  send(f: StompFrame): void {
    if (!this.closed) this.sock.write(encode(f));
  }
  /** The first frame matching `pred` (removed), or null once closed or after `ms`. */
  async take(pred: (f: StompFrame) => boolean, ms: number): Promise<StompFrame | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

class StompContractDevice implements ContractDevice {
  private seq = 0;
  private readonly subs = new Map<string, string>();
  constructor(
    private readonly w: StompWire,
    readonly clientId: string,
  ) {}

  /** Sends `f` with a receipt header: 'ok' on RECEIPT, 'refused' on ERROR or a closed socket. */
  private async receipted(f: StompFrame): Promise<'ok' | 'refused'> {
    const id = `r${++this.seq}`;
    f.headers.push(['receipt', id]);
    this.w.send(f);
    const r = await this.w.take((x) => (x.command === 'RECEIPT' && header(x, 'receipt-id') === id) || x.command === 'ERROR', 3000);
    return r?.command === 'RECEIPT' ? 'ok' : 'refused';
  }

  publish(topic: string, payload: string, qos: 0 | 1): Promise<'ok' | 'refused'> {
    // persistent:true is the STOMP way to ask for a stored (QoS 1) message.
    return this.receipted(frame('SEND', { destination: topic, ...(qos === 1 ? { persistent: 'true' } : {}) }, payload));
  }

  async subscribe(topic: string, _qos: 0 | 1): Promise<'ok' | 'refused'> {
    const id = `s${++this.seq}`;
    const r = await this.receipted(frame('SUBSCRIBE', { id, destination: topic, ack: 'auto' }));
    if (r === 'ok') this.subs.set(id, topic);
    return r;
  }

  async nextMessage(ms: number): Promise<{ topic: string; payload: string } | null> {
    const m = await this.w.take((x) => x.command === 'MESSAGE', ms);
    return m === null ? null : { topic: header(m, 'destination') ?? '', payload: m.body.toString() };
  }

  /** An empty transaction with a receipt: the gateway answers while the session lives. */
  async alive(): Promise<boolean> {
    if (this.w.closed) return false;
    const tx = `t${++this.seq}`;
    this.w.send(frame('BEGIN', { transaction: tx }));
    return (await this.receipted(frame('ABORT', { transaction: tx }))) === 'ok';
  }

  sendMalformed(): void {
    // A header line without a colon: a malformed frame (STOMP 1.2 "Augmented BNF").
    this.w.sock.write(Buffer.from('SEND\ndestination:contract/x\nthis-line-has-no-colon\n\n\0'));
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (this.w.closed) return r();
      this.w.sock.once('close', () => r());
      this.w.sock.destroy();
    });
  }
}

export const stompDriver: GatewayDriver = {
  name: 'stomp',
  sysName: 'stomp',
  config: `
[gateway.stomp]
enable = true
[gateway.stomp.clientinfo_override]
clientid = "\${Packet.headers.clientid}"
[gateway.stomp.listeners.tcp.default]
bind = "127.0.0.1"
port = 0
`,
  canBeAnonymous: true,
  duplicateId: 'takeover',
  malformed: 'close',
  malformedReason: 'malformed_packet',
  async connect(d: Daemon, who: Identity): Promise<ConnectResult> {
    const sock = tcpConnect({ host: '127.0.0.1', port: d.ports['stomp:tcp:default']! });
    await new Promise<void>((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    const w = new StompWire(sock);
    const h: Record<string, string> = { 'accept-version': '1.2', host: 'outpost', clientid: who.clientId, 'heart-beat': `${(who.keepalive ?? 0) * 1000},0` };
    if (who.username !== null) h.login = who.username;
    if (who.password !== null) h.passcode = who.password;
    w.send(frame('CONNECT', h));
    const r = await w.take((f) => f.command === 'CONNECTED' || f.command === 'ERROR', 3000);
    const device = new StompContractDevice(w, who.clientId);
    if (r?.command !== 'CONNECTED') {
      await device.close();
      return { ok: false, detail: r === null ? 'no answer' : `ERROR ${header(r, 'message') ?? ''}` };
    }
    return { ok: true, device };
  },
};
