// UDP datagram driver (IPv4 and IPv6) for gateways whose channels are keyed by peer: the shared
// socket (datagram.ts) feeds each datagram to the channel mux, and each tick's replies go out in
// one pass. Generic over codec and channel; a DTLS socket factory drops in for the UDP one.
import { type DatagramSocket, type SocketFactory, bindUdp } from './datagram.js';
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
  /** Replaces node:dgram (DTLS later, in-memory sockets in tests). */
  socketFactory?: SocketFactory;
}

export class UdpTransport<F, C extends TransportChannel<F>> {
  readonly mux: ChannelMux<F, C>;
  private socket: DatagramSocket | null = null;
  private boundPort = 0;

  constructor(
    private readonly udp: UdpOptions,
    muxOpts: MuxOptions<F, C>,
  ) {
    // A channel that ends its link ends the peer's DTLS session too, as closing a TCP connection would.
    this.mux = new ChannelMux<F, C>({ ...muxOpts, onChannelClosed: (peer) => this.socket?.closePeer?.(peer.address, peer.port) }, (peer, bufs) => this.write(peer, bufs));
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
    const u = this.udp;
    const socket = await (u.socketFactory ?? bindUdp)(u.bind, u.port, { broadcast: u.broadcast, ipv6Only: u.ipv6Only, recvBufferSize: u.recvBufferSize, sendBufferSize: u.sendBufferSize });
    socket.onError((err) => {
      // Send errors (ICMP unreachable surfacing as ECONNREFUSED) concern one peer; count, never throw.
      this.count?.('transport.write_error');
      this.log.debug({ err: err.message, reason: 'socket_error' }, 'udp_socket_error');
    });
    socket.onMessage((msg, rinfo) => {
      const peer: Peer = { address: rinfo.address, port: rinfo.port, family: rinfo.family ?? (rinfo.address.includes(':') ? 'IPv6' : 'IPv4') };
      if (rinfo.security !== undefined) peer.security = rinfo.security;
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
    for (const b of bufs) s.send(b, peer.port, peer.address);
  }

  async stop(): Promise<void> {
    this.mux.close();
    const s = this.socket;
    this.socket = null;
    if (!s) return;
    // Give the final flush (DISCONNECTs on shutdown) a tick to reach the socket before closing it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await s.close();
  }
}
