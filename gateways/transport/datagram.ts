// The one UDP socket driver and the datagram seam every UDP gateway stands on (CoAP's endpoint,
// and through UdpTransport the MQTT-SN mux, LwM2M, ExProto). Gateways only need "datagrams in,
// datagrams out", so a DTLS socket (one decrypted datagram per 'message' event, send() encrypting
// to that peer) drops in later without touching endpoints or channels. node:dgram is the UDP
// implementation.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** What a secure datagram transport (DTLS) proved about the peer; absent on plain UDP. */
export interface PeerSecurity {
  /** The PSK identity the peer completed the handshake with. */
  pskIdentity?: string;
  /** The peer's verified client certificate, in the fields AuthRequest.cert carries. */
  cert?: { commonName?: string; subject?: string; san?: string[]; fingerprint?: string };
}

export interface RemoteInfo {
  address: string;
  port: number;
  family?: 'IPv4' | 'IPv6';
  /** Set on every datagram a DTLS socket delivers (the same object for the life of the session). */
  security?: PeerSecurity;
}

export interface BindOptions {
  /** Allow sending to broadcast addresses (MQTT-SN ADVERTISE). */
  broadcast?: boolean;
  /** Only for IPv6 binds: refuse IPv4-mapped traffic. */
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface DatagramSocket {
  onMessage(listener: (msg: Buffer, from: RemoteInfo) => void): void;
  onError(listener: (err: Error) => void): void;
  send(msg: Buffer, port: number, address: string): void;
  address(): RemoteInfo;
  close(): Promise<void>;
  /**
   * Only on connection-like transports (DTLS): end the session with this peer (close_notify), as
   * closing a TCP connection would. A later datagram from it must handshake again.
   */
  closePeer?(address: string, port: number): void;
}

export type SocketFactory = (bind: string, port: number, opts?: BindOptions) => Promise<DatagramSocket>;

/** Wraps a bound node:dgram socket. */
export function dgramSocket(sock: Socket): DatagramSocket {
  const errorListeners: ((err: Error) => void)[] = [];
  sock.on('error', (err) => {
    for (const l of errorListeners) l(err);
  });
  // One send callback for the socket's life: no closure per datagram on the hot path.
  const sent = (err: Error | null): void => {
    if (err) for (const l of errorListeners) l(err);
  };
  return {
    onMessage: (l) => {
      sock.on('message', (msg, rinfo) => l(msg, { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 'IPv6' : 'IPv4' }));
    },
    onError: (l) => {
      errorListeners.push(l);
    },
    send: (msg, port, address) => {
      // Send errors (ICMP unreachable surfacing as ECONNREFUSED, a closed socket) concern one
      // peer only; they reach the error listeners, never the process.
      sock.send(msg, port, address, sent);
    },
    address: () => {
      const a = sock.address();
      return { address: a.address, port: a.port };
    },
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** Binds exclusively (a second Outpost on the same port fails to start instead of sharing it). */
export const bindUdp: SocketFactory = (bind, port, opts = {}) =>
  new Promise((resolve, reject) => {
    const v6 = isIPv6(bind);
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: false, ipv6Only: v6 ? (opts.ipv6Only ?? false) : undefined });
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.bind({ address: bind, port, exclusive: true }, () => {
      sock.off('error', onError);
      if (opts.broadcast) sock.setBroadcast(true);
      if (opts.recvBufferSize) sock.setRecvBufferSize(opts.recvBufferSize);
      if (opts.sendBufferSize) sock.setSendBufferSize(opts.sendBufferSize);
      resolve(dgramSocket(sock));
    });
  });
