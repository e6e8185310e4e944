// UDP datagram driver (IPv4 and IPv6): owns the socket, feeds each datagram to the channel mux,
// writes each tick's replies. Generic over codec and channel; DTLS will wrap the same mux.
import dgram from 'node:dgram';
import { ChannelMux } from './mux.js';
import type { MuxOptions, Peer, TransportChannel } from './types.js';

export interface UdpOptions {
  /** Address to bind; an IPv6 address (contains ':') opens a udp6 socket. */
  bind: string;
  port: number;
  /** Allow sending to broadcast addresses (ADVERTISE). */
  broadcast?: boolean;
  /** Only for IPv6 binds: refuse IPv4-mapped traffic. */
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export class UdpTransport<F, C extends TransportChannel<F>> {
  readonly mux: ChannelMux<F, C>;
  private socket: dgram.Socket | null = null;
  private boundPort = 0;

  constructor(
    private readonly udp: UdpOptions,
    muxOpts: MuxOptions<F, C>,
  ) {
    this.mux = new ChannelMux<F, C>(muxOpts, (peer, bufs) => this.write(peer, bufs));
    this.log = muxOpts.log;
    this.count = muxOpts.count;
  }

  private readonly log: MuxOptions<F, C>['log'];
  private readonly count: MuxOptions<F, C>['count'];

  get running(): boolean {
    return this.socket !== null;
  }

  /** The bound port (after start), useful with port 0. */
  get port(): number {
    return this.boundPort;
  }

  get bindAddress(): string {
    return this.udp.bind.includes(':') ? `[${this.udp.bind}]:${this.boundPort}` : `${this.udp.bind}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    const v6 = this.udp.bind.includes(':');
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 ? (this.udp.ipv6Only ?? false) : undefined });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.bind({ address: this.udp.bind, port: this.udp.port, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    if (this.udp.broadcast) socket.setBroadcast(true);
    if (this.udp.recvBufferSize) socket.setRecvBufferSize(this.udp.recvBufferSize);
    if (this.udp.sendBufferSize) socket.setSendBufferSize(this.udp.sendBufferSize);
    socket.on('error', (err) => this.log.warn({ err: err.message, reason: 'socket_error' }, 'udp_socket_error'));
    socket.on('message', (msg, rinfo) => {
      const peer: Peer = { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 'IPv6' : 'IPv4' };
      this.mux.inputDatagram(peer, msg);
    });
    this.boundPort = socket.address().port;
    this.mux.localPort = this.boundPort;
    this.socket = socket;
  }

  /** Raw datagram to any address (ADVERTISE to broadcast addresses, stateless answers). */
  sendTo(peer: Peer, buf: Buffer): void {
    this.mux.sendRaw(peer, buf);
  }

  private write(peer: Peer, bufs: Buffer[]): void {
    const s = this.socket;
    if (!s) {
      this.count?.('transport.write_drop');
      return;
    }
    // One message per datagram (MQTT-SN §5.2, CoAP RFC 7252 §3): never concatenate.
    for (const b of bufs) s.send(b, peer.port, peer.address, this.sent);
  }

  /** One shared send callback: no closure per datagram. */
  private readonly sent = (err: Error | null): void => {
    if (!err) return;
    this.count?.('transport.write_error');
    this.log.debug({ err: err.message }, 'udp_send_failed');
  };

  async stop(): Promise<void> {
    this.mux.close();
    const s = this.socket;
    this.socket = null;
    if (!s) return;
    // Give the final flush (DISCONNECTs on shutdown) a tick to reach the socket before closing it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
