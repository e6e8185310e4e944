// One CoAP listener: decodes datagrams, finds the device's channel (by UDP peer in connectionless
// mode, by `clientid` query in connection mode, gateways/coap/SPEC.md §1) and runs the channel's
// effects through the shared runner (gateways/transport/effects.ts): sends and closes here, named
// timers, auth and group-commit waits there.
import type { Logger } from 'pino';
import type { Clock, DeliverySink, GatewayContext } from '../gateway.js';
import { ChannelRunner } from '../transport/effects.js';
import { type ChannelEffect, CoapChannel, type Peer, type TimerName } from './channel.js';
import type { CoapConfig } from './config.js';
import { type CoapFrame, Code, decode, emptyFrame, encode, format, isRequestCode } from '../codecs/coap/frame.js';
import type { DatagramSocket, RemoteInfo } from '../transport/datagram.js';
import { type CoapCounter, type DeviceRequest, type DeviceResponse, MSG } from './types.js';
import { parseQuery, uriPath } from './uri.js';

interface Entry {
  ch: CoapChannel;
  fx: ChannelRunner<TimerName, ChannelEffect>;
  peerKey: string;
  clientKey: string;
  closed: boolean;
}

export interface EndpointOptions {
  listener: string;
  sockPort: number;
  clock: Clock;
  random: () => number;
}

const peerKey = (host: string, port: number): string => `${host}|${port}`;

export class CoapEndpoint {
  private readonly byPeer = new Map<string, Entry>();
  private readonly byClient = new Map<string, Entry>();
  private readonly pending = new Map<number, (r: DeviceResponse) => void>();
  private nextRequest = 1;
  private open_ = 0;
  private mid: number;
  private readonly log: Logger;

  constructor(
    private readonly ctx: GatewayContext,
    private config: CoapConfig,
    private readonly socket: DatagramSocket,
    private readonly opts: EndpointOptions,
  ) {
    this.mid = Math.floor(opts.random() * 0x10000);
    this.log = ctx.log.child({ listener: opts.listener });
    socket.onMessage((msg, from) => this.onDatagram(msg, from));
    socket.onError((err) => this.log.warn({ msg: 'socket_error', reason: (err as NodeJS.ErrnoException).code ?? err.message }));
  }

  get channelCount(): number {
    return this.open_;
  }

  /** New settings for every channel; the caller has checked that the listener and mode are unchanged. */
  setConfig(c: CoapConfig): void {
    this.config = c;
  }

  /** Channel of a device by client id (connection mode ids, or the random connectionless ones). */
  channel(clientId: string): CoapChannel | null {
    return this.byClient.get(clientId)?.ch ?? null;
  }

  /** Sends a CON request to a device and resolves with its response (§7 device-request API). */
  request(clientId: string, req: DeviceRequest): Promise<DeviceResponse> {
    const e = this.byClient.get(clientId);
    if (e === undefined) return Promise.resolve({ ok: false, reason: 'not_found' });
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.input(e, () => e.ch.handleDeviceRequest(id, req));
    });
  }

  /** Ends every channel (sessions closed with `reason`) and stops their timers. */
  closeAll(reason: 'server_shutdown' | 'normal' = 'server_shutdown'): void {
    const entries = new Set([...this.byPeer.values(), ...this.byClient.values()]);
    for (const e of entries) this.input(e, () => e.ch.stop(reason));
  }

  // ------------------------------------------------------------------------------------------

  private onDatagram(buf: Buffer, from: RemoteInfo): void {
    this.inc('coap.datagrams.received');
    const peer: Peer = from.security === undefined ? { host: from.address, port: from.port } : { host: from.address, port: from.port, security: from.security };
    const pk = peerKey(from.address, from.port);
    const r = decode(buf);
    if (r.kind === 'error') {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ msg: 'frame_decode_failed', reason: r.code, detail: r.detail, hex: buf.subarray(0, 64).toString('hex') });
      const e = this.byPeer.get(pk);
      if (e !== undefined) return this.input(e, () => e.ch.handleFrameError(r, peer));
      this.inc('coap.frames.malformed');
      if (r.header !== null && r.header.type === 'CON' && r.code !== 'bad_version') this.sendFrame(emptyFrame('RST', r.header.messageId), peer);
      return;
    }
    const f = r.frame;
    if (this.log.isLevelEnabled('debug')) this.log.debug({ msg: 'frame_in', peer: `${peer.host}:${peer.port}`, frame: format(f) });
    let e: Entry | undefined;
    if (this.config.connection_required && isRequestCode(f.code)) {
      e = this.routeByClientId(f, peer);
      if (e === undefined) return;
    } else {
      e = this.byPeer.get(pk);
      if (e === undefined) {
        // Only a request opens a channel; stray ACK/RST are ignored, a stray CON gets a RST (RFC 7252 §4.2).
        if (!isRequestCode(f.code) || this.config.connection_required) {
          if (f.type === 'CON') this.sendFrame(emptyFrame('RST', f.messageId), peer);
          return;
        }
        e = this.open(peer, null, f);
        if (e === undefined) return;
      }
    }
    this.input(e, () => e.ch.handleFrame(f, peer));
  }

  /** Connection mode: the request's `clientid` picks the channel (§1), so NAT rebinding keeps the session. */
  private routeByClientId(f: CoapFrame, peer: Peer): Entry | undefined {
    const clientId = parseQuery(f).get('clientid');
    const path = uriPath(f);
    const isConnection = path.length === 2 && path[0] === 'mqtt' && path[1] === 'connection';
    if (clientId === undefined || clientId === '') {
      const text = isConnection && f.code === Code.POST ? MSG.clientIdRequired : MSG.missingToken;
      this.directReply(f, peer, Code.BAD_REQUEST, text);
      return undefined;
    }
    const e = this.byClient.get(clientId);
    if (e !== undefined) return e;
    if (isConnection && f.code === Code.POST) return this.open(peer, clientId, f);
    // §3.2: DELETE for a client that has no channel answers 2.02; anything else needs a login first.
    if (isConnection && f.code === Code.DELETE) this.directReply(f, peer, Code.DELETED, '');
    else this.directReply(f, peer, Code.BAD_REQUEST, MSG.missingToken);
    return undefined;
  }

  private open(peer: Peer, clientId: string | null, f: CoapFrame): Entry | undefined {
    if (this.channelCount >= this.config.max_connections) {
      this.inc('coap.channels.rejected');
      this.directReply(f, peer, Code.SERVICE_UNAVAILABLE, '');
      return undefined;
    }
    const e = { peerKey: peerKey(peer.host, peer.port), clientKey: '', closed: false } as unknown as Entry;
    e.fx = new ChannelRunner<TimerName, ChannelEffect>({
      clock: this.opts.clock,
      ctx: this.ctx,
      log: this.log,
      apply: (eff) => this.apply(e, eff),
      settled: () => {
        if (!e.closed) this.reindexPeer(e);
      },
      crashed: (err) => this.crashed(e, err),
    });
    const sink: DeliverySink = {
      deliver: (d) => this.input(e, () => e.ch.handleDeliver(d)),
      kick: (reason) => this.input(e, () => e.ch.handleKick(reason)),
    };
    const self = this;
    e.ch = new CoapChannel({
      ctx: this.ctx,
      get config() {
        return self.config;
      },
      clock: this.opts.clock,
      random: this.opts.random,
      sink,
      listener: this.opts.listener,
      sockPort: this.opts.sockPort,
      peer,
    });
    e.fx.bind(e.ch);
    this.byPeer.set(e.peerKey, e);
    // Connection mode keys by the requested id; connectionless by the channel's random id (API lookups).
    e.clientKey = clientId ?? e.ch.clientId;
    this.byClient.set(e.clientKey, e);
    this.open_++;
    this.input(e, () => e.ch.start());
    return e;
  }

  /** Feeds one input to a channel; its effects run through the channel's runner. */
  private input(e: Entry, fn: () => ChannelEffect[]): void {
    e.fx.input(fn);
  }

  /**
   * A defect in a channel must not take the process (or the broker's publish path, which calls
   * the sink) down: it ends that channel only.
   */
  private crashed(e: Entry, err: unknown): void {
    this.log.error({ msg: 'channel_crashed', reason: 'internal_error', clientid: e.ch.clientId, err });
    let closing: ChannelEffect[] = [];
    try {
      closing = e.ch.stop('internal_error');
    } catch {
      // The channel is beyond repair; dropping it from the maps below is all that is left.
    }
    e.fx.run(closing);
    this.remove(e);
  }

  /** The effects only CoAP has; timers, authentication and durability are the runner's. */
  private apply(e: Entry, eff: ChannelEffect): void {
    switch (eff.type) {
      case 'send':
        this.sendFrame(eff.frame, eff.to);
        return;
      case 'request-done': {
        const resolve = this.pending.get(eff.id);
        this.pending.delete(eff.id);
        resolve?.(eff.result);
        return;
      }
      case 'close':
        this.remove(e);
        // Over DTLS the session is the device's connection: a kicked, refused or disconnected channel
        // ends it, as closing a TCP connection would (its last replies have gone out already). A
        // channel that merely went idle leaves the session to the engine's own idle eviction, so a
        // sensor that posts now and then does not pay a handshake each time.
        if (eff.reason !== 'idle_timeout') this.socket.closePeer?.(e.ch.peer.host, e.ch.peer.port);
        this.log.info({ msg: 'channel_closed', reason: eff.reason, clientid: e.ch.clientId, peer: `${e.ch.peer.host}:${e.ch.peer.port}` });
        return;
    }
  }

  /** The device moved (NAT rebinding): ACKs and RSTs from its new address must find the channel. */
  private reindexPeer(e: Entry): void {
    const k = peerKey(e.ch.peer.host, e.ch.peer.port);
    if (k === e.peerKey) return;
    if (this.byPeer.get(e.peerKey) === e) this.byPeer.delete(e.peerKey);
    const other = this.byPeer.get(k);
    // Another channel last seen at this address keeps its own key only for routing; the newest owner wins.
    if (other !== undefined && other !== e) other.peerKey = '';
    this.byPeer.set(k, e);
    e.peerKey = k;
  }

  private remove(e: Entry): void {
    if (e.closed) return;
    e.closed = true;
    this.open_--;
    e.fx.dispose();
    if (this.byPeer.get(e.peerKey) === e) this.byPeer.delete(e.peerKey);
    if (this.byClient.get(e.clientKey) === e) this.byClient.delete(e.clientKey);
  }

  /** A reply from the endpoint itself, for requests no channel takes (§1, §3.2). */
  private directReply(req: CoapFrame, to: Peer, c: number, text: string): void {
    const payload = text === '' ? Buffer.alloc(0) : Buffer.from(text);
    this.mid = (this.mid + 1) & 0xffff;
    const frame: CoapFrame =
      req.type === 'CON'
        ? { type: 'ACK', code: c, messageId: req.messageId, token: req.token, options: [], payload }
        : { type: 'NON', code: c, messageId: this.mid, token: req.token, options: [], payload };
    this.sendFrame(frame, to);
  }

  private sendFrame(f: CoapFrame, to: Peer): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ msg: 'frame_out', peer: `${to.host}:${to.port}`, frame: format(f) });
    this.socket.send(encode(f), to.port, to.host);
  }

  private inc(name: CoapCounter): void {
    this.ctx.metrics.inc(name);
  }
}
