// The datagram socket seam. The endpoint only needs "datagrams in, datagrams out", so a DTLS
// socket (one decrypted datagram per 'message' event, send() encrypting to that peer) drops in
// later without touching the endpoint or the channels. node:dgram is the UDP implementation.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface RemoteInfo {
  address: string;
  port: number;
}

export interface DatagramSocket {
  onMessage(listener: (msg: Buffer, from: RemoteInfo) => void): void;
  onError(listener: (err: Error) => void): void;
  send(msg: Buffer, port: number, address: string): void;
  address(): RemoteInfo;
  close(): Promise<void>;
}

export type SocketFactory = (bind: string, port: number) => Promise<DatagramSocket>;

/** Wraps a bound node:dgram socket. */
export function dgramSocket(sock: Socket): DatagramSocket {
  const errorListeners: ((err: Error) => void)[] = [];
  sock.on('error', (err) => {
    for (const l of errorListeners) l(err);
  });
  return {
    onMessage: (l) => {
      sock.on('message', (msg, rinfo) => l(msg, { address: rinfo.address, port: rinfo.port }));
    },
    onError: (l) => {
      errorListeners.push(l);
    },
    send: (msg, port, address) => {
      // Send errors (ICMP unreachable surfacing as ECONNREFUSED, a closed socket) concern one
      // peer only; they reach the error listeners, never the process.
      sock.send(msg, port, address, (err) => {
        if (err) for (const l of errorListeners) l(err);
      });
    },
    address: () => {
      const a = sock.address();
      return { address: a.address, port: a.port };
    },
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

export const bindUdp: SocketFactory = (bind, port) =>
  new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(bind) ? 'udp6' : 'udp4', reuseAddr: false });
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.bind(port, bind, () => {
      sock.off('error', onError);
      resolve(dgramSocket(sock));
    });
  });
