// The LwM2M gateway (specs/lwm2m-gateway.md): CoAP/UDP listeners on the shared transport, the
// registration interface (/rd), the 1.1 Send operation (/dp), one Lwm2mDevice per registration
// with its broker session, and registrations kept in the store across restarts.
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthOutcome, Gateway, GatewayContext, GatewayModule, ListenerInfo } from '../gateway.js';
import { UdpTransport } from '../transport/udp.js';
import { DtlsGatewayListener, dtlsRestartShape, dtlsStats } from '../transport/dtls-listener.js';
import { authSecurity } from '../transport/peer-security.js';
import type { PeerSecurity } from '../transport/datagram.js';
import { peerKey } from '../transport/mux.js';
import type { Codec, Link, TransportChannel, TransportCounter } from '../transport/types.js';
import { Code, Opt, code, decode, decodeBlock, decodeUint, encode, encodeBlock, format, getOption, isRequestCode, optionStrings, type CoapFrame, type CoapOption } from '../codecs/coap/frame.js';
import { DedupCache } from '../codecs/coap/exchange.js';
import { Block1Assembler } from '../codecs/coap/blockwise.js';
import { EXCHANGE_LIFETIME_MS } from '../codecs/coap/params.js';
import type { Lwm2mConfig, lwm2mConfigSchema } from './config.js';
import { Lwm2mDevice, type Address, type DeviceDeps } from './device.js';
import type { DecodeOptions } from './commands.js';
import { applyUpdate, checkRegister, queryMap, type Registration, type RegisterRules } from './registration.js';
import { RegistrationStore } from './registration-store.js';
import { loadObjectRegistry, type ObjectRegistry } from './object-registry.js';
import { registrationEventData, toEmqxContent } from './json-shape.js';
import { decodeContent } from './content-format.js';
import { SENML_JSON_CONTENT_FORMAT } from './senml-json.js';
import { BootstrapRegistry, BootstrapRun, bootstrapRequests, type BootstrapEntry } from './bootstrap.js';

export type { Lwm2mConfig } from './config.js';

export const coapCodec: Codec<CoapFrame> = {
  decode(buf) {
    const r = decode(buf);
    return r.kind === 'frame' ? r : { kind: 'error', code: r.code, detail: r.detail };
  },
  encode,
  // Debug frame logs show the Uri-Query; EMQX's `password` extension must not reach the logs (issue 17).
  format: (f) => format(f).replace(/password=[^&\s]*/g, 'password=***'),
};

/** Crypto-grade randomness: tokens and message ids guard against off-path response spoofing. */
const secureRandom = (): number => randomInt(0, 2 ** 32) / 2 ** 32;

/** The object definitions shipped with Outpost (gateways/lwm2m/objects), found from the running file upward. */
export function builtinXmlDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, 'gateways', 'lwm2m', 'objects');
    if (existsSync(cand)) return cand;
    const here = join(dir, 'objects');
    if (existsSync(join(here, '3-device.xml'))) return here;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), 'objects');
}

const EMPTY = Buffer.alloc(0);
/** RFC 7252 §5.10: Location-Path; §12.1.2: 4.15. */
const LOCATION_PATH = 8;
const UNSUPPORTED_CONTENT_FORMAT = code(4, 15);
/** Largest Register/Update/Send body reassembled from Block1 (RFC 7959). */
const MAX_BLOCK1_BODY = 64 * 1024;

type Reply = (code: number, options?: CoapOption[], payload?: Buffer) => void;

/** One UDP peer: duplicate detection and the piggybacked replies; devices live in the gateway. */
class Lwm2mChannel implements TransportChannel<CoapFrame> {
  private readonly dedup = new DedupCache();
  private requests = 0;
  private block1: Block1Assembler | null = null;

  constructor(
    private readonly gw: Lwm2mGateway,
    readonly link: Link<CoapFrame>,
  ) {}

  handleFrame(f: CoapFrame): void {
    const now = this.gw.ctx.clock.now();
    if (isRequestCode(f.code)) {
      if (f.type === 'ACK' || f.type === 'RST') return;
      const key = String(f.messageId);
      const seen = this.dedup.get(key);
      if (seen !== undefined) {
        this.gw.count('coap.requests.duplicate');
        if (seen.reply !== null && f.type === 'CON') this.link.send(seen.reply);
        return;
      }
      this.dedup.add(key, f.type === 'CON', now);
      if (++this.requests % 64 === 0) this.dedup.sweep(now);
      let extra: CoapOption[] = [];
      const reply: Reply = (code, options = [], payload = EMPTY) => {
        if (this.link.closed && this.gw.stopped) return;
        const frame: CoapFrame = { type: f.type === 'CON' ? 'ACK' : 'NON', code, messageId: f.type === 'CON' ? f.messageId : this.gw.mid(), token: f.token, options: [...options, ...extra], payload };
        this.dedup.setReply(key, frame);
        this.link.send(frame);
      };
      const b1 = getOption(f, Opt.BLOCK1);
      if (b1 !== undefined) {
        // A long object list or Send payload comes block-wise (RFC 7959 §2.5).
        const blk = decodeBlock(b1);
        if (blk === null) return reply(Code.BAD_OPTION);
        this.block1 ??= new Block1Assembler(MAX_BLOCK1_BODY, 6, EXCHANGE_LIFETIME_MS);
        this.block1.sweep(now);
        const r = this.block1.add(optionStrings(f, Opt.URI_PATH).join('/') + '?' + optionStrings(f, Opt.URI_QUERY).join('&'), blk, f.payload, now);
        switch (r.kind) {
          case 'continue':
            return reply(Code.CONTINUE, [{ number: Opt.BLOCK1, value: encodeBlock(r.block) }]);
          case 'incomplete':
            return reply(Code.REQUEST_ENTITY_INCOMPLETE);
          case 'too_large':
            return reply(Code.REQUEST_ENTITY_TOO_LARGE);
          case 'bad_block':
            return reply(Code.BAD_REQUEST);
          case 'complete':
            extra = [{ number: Opt.BLOCK1, value: encodeBlock(r.block) }];
            f = { ...f, payload: r.body };
        }
      }
      try {
        this.gw.request(this.link, f, reply);
      } catch (err) {
        this.gw.ctx.log.error({ gw: 'lwm2m', err, peer: this.link.key }, 'request_failed');
        reply(Code.INTERNAL_SERVER_ERROR);
      }
      return;
    }
    if (this.gw.bootstrapAt(this.link)?.handle(f)) return;
    const dev = this.gw.deviceAt(this.link);
    if (dev !== undefined) {
      const mine = dev.handleResponse(f, (fr) => this.link.send(fr));
      dev.heard();
      if (mine) return;
    }
    // A CON response nobody waits for (an observation we forgot): RST stops it (RFC 7641 §3.6).
    if (f.type === 'CON') this.link.send({ type: 'RST', code: 0, messageId: f.messageId, token: EMPTY, options: [], payload: EMPTY });
  }

  handleFrameError(code: string): void {
    this.gw.count('coap.frames.malformed');
    this.gw.ctx.log.debug({ gw: 'lwm2m', peer: this.link.key, code }, 'frame_malformed');
  }

  handleIdle(): boolean {
    return true;
  }

  handleTransportClosed(): void {}
}

/** "host:port" a device can reach for a listener bound to `bind` (a wildcard bind: the first external IPv4). */
function hostFor(bind: string): string {
  const i = bind.lastIndexOf(':');
  const host = bind.slice(0, i).replace(/^\[|\]$/g, '');
  const port = bind.slice(i + 1);
  if (host !== '0.0.0.0' && host !== '::') return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return `${a.address}:${port}`;
  return `127.0.0.1:${port}`;
}

export class Lwm2mGateway implements Gateway {
  private readonly transports = new Map<string, UdpTransport<CoapFrame, Lwm2mChannel>>();
  /** The DTLS side of each dtls listener, by listener id. */
  private readonly dtls = new Map<string, DtlsGatewayListener>();
  private readonly byLocation = new Map<string, Lwm2mDevice>();
  private readonly byPeer = new Map<string, Lwm2mDevice>();
  private readonly bootstraps = new Map<string, BootstrapRun>();
  private registry: ObjectRegistry;
  private regStore: RegistrationStore | null = null;
  private bootstrapRegistry: BootstrapRegistry | null = null;
  private readonly deps: DeviceDeps;
  private nextMid = Math.floor(Math.random() * 0x10000);
  stopped = false;

  constructor(
    readonly ctx: GatewayContext,
    private cfg: Lwm2mConfig,
    private readonly random: () => number = secureRandom,
    private readonly opts: { dtlsEngine?: ConstructorParameters<typeof DtlsGatewayListener>[4] } = {},
  ) {
    this.registry = this.loadRegistry(cfg);
    const decodeOpts = (): DecodeOptions => ({
      types: this.registry.typeOf,
      isKnownObject: (o) => this.registry.object(o) !== undefined,
      unknownObjectBadRequest: this.cfg.emqx_compat.unknown_object_bad_request,
    });
    this.deps = {
      ctx,
      config: () => this.cfg,
      decode: decodeOpts,
      objectKnown: (o) => this.registry.object(o) !== undefined,
      random: this.random,
      send: (addr, frame) => this.send(addr, frame),
      ended: (dev) => this.forget(dev),
      changed: (dev) => this.persist(dev),
      count: (n) => this.count(n),
    };
  }

  private loadRegistry(cfg: Lwm2mConfig): ObjectRegistry {
    const dir = cfg.xml_dir === '' ? builtinXmlDir() : cfg.xml_dir;
    const loaded = loadObjectRegistry(dir);
    for (const e of loaded.errors) this.ctx.log.warn({ gw: 'lwm2m', file: e.file, code: e.code, detail: e.detail }, 'object_definition_skipped');
    if (loaded.registry.objectIds.length === 0) {
      // A configured directory without definitions is a config error (as in EMQX); a build that
      // lost its shipped files still serves devices, every value passing through untyped.
      if (cfg.xml_dir !== '') throw new Error(`gateway.lwm2m.xml_dir: no object definitions in ${dir}`);
      this.ctx.log.error({ gw: 'lwm2m', dir }, 'object_definitions_missing: values pass through untyped');
    }
    return loaded.registry;
  }

  /** The host prefixes `gateway.lwm2m.`. */
  count(name: string): void {
    this.ctx.metrics.inc(name);
  }

  mid(): number {
    this.nextMid = (this.nextMid + 1) & 0xffff;
    return this.nextMid;
  }

  private rules(): RegisterRules {
    const c = this.cfg;
    return { lifetimeMax: c.lifetime_max, requireLt: c.emqx_compat.require_lt, refuse12: c.emqx_compat.refuse_lwm2m_1_2 };
  }

  private static peerId(listener: string, key: string): string {
    return `${listener}|${key}`;
  }

  deviceAt(link: Link<CoapFrame>): Lwm2mDevice | undefined {
    return this.byPeer.get(Lwm2mGateway.peerId(link.listener, link.key));
  }

  bootstrapAt(link: Link<CoapFrame>): BootstrapRun | undefined {
    return this.bootstraps.get(Lwm2mGateway.peerId(link.listener, link.key));
  }

  /** Registered devices (tests, diagnostics). */
  devices(): Lwm2mDevice[] {
    return [...this.byLocation.values()];
  }

  private send(addr: Address, frame: CoapFrame): void {
    const t = this.transports.get(addr.listener);
    if (!t) return;
    t.sendTo(addr.peer, encode(frame));
  }

  // ---- the registration interface -----------------------------------------------------------

  request(link: Link<CoapFrame>, f: CoapFrame, reply: Reply): void {
    const path = optionStrings(f, Opt.URI_PATH);
    const query = optionStrings(f, Opt.URI_QUERY);
    if (path[0] === 'rd') {
      if (path.length === 1 && f.code === Code.POST) return this.register(link, query, f.payload, reply);
      if (path.length === 2 && f.code === Code.POST) return this.update(link, path[1]!, query, f.payload, reply);
      if (path.length === 2 && f.code === Code.DELETE) return this.deregister(link, path[1]!, reply);
      return reply(path.length <= 2 ? Code.METHOD_NOT_ALLOWED : Code.NOT_FOUND);
    }
    if (path.length === 1 && path[0] === 'dp' && f.code === Code.POST) return this.dataPush(link, f, reply);
    if (path.length === 1 && path[0] === 'bs' && f.code === Code.POST && this.cfg.bootstrap.enable) return this.bootstrap(link, query, reply);
    // EMQX has no bootstrap server and answers /bs with 4.04, as we do when it is off.
    reply(Code.NOT_FOUND);
  }

  /** [[gateway.lwm2m.bootstrap.devices]] into the registry (config wins over an older row). */
  private seedBootstrap(): void {
    for (const x of this.cfg.bootstrap.devices) {
      const e: BootstrapEntry = { endpoint: x.endpoint, securityMode: x.security_mode };
      if (x.psk_identity !== undefined) e.pskIdentity = x.psk_identity;
      if (x.psk_key !== undefined) e.pskKey = x.psk_key;
      if (x.server_uri !== undefined) e.serverUri = x.server_uri;
      if (x.lifetime !== undefined) e.lifetime = x.lifetime;
      this.bootstrapRegistry?.put(e);
    }
  }

  /** Bootstrap-Request (POST /bs?ep=): 2.04, then Delete, Write Security and Server, Finish. */
  private bootstrap(link: Link<CoapFrame>, query: string[], reply: Reply): void {
    const ep = queryMap(query).ep;
    if (ep === undefined || ep === '') return reply(Code.BAD_REQUEST);
    // A Bootstrap-Request carries no credentials, but a banned endpoint or address gets no account.
    if (this.ctx.isBanned({ clientId: ep, username: null, peerHost: link.peer.address, peerPort: link.peer.port, listener: link.listener })) {
      this.count('bootstrap.refused');
      return reply(Code.FORBIDDEN);
    }
    const b = this.cfg.bootstrap;
    let entry: BootstrapEntry | undefined;
    try {
      entry = this.bootstrapRegistry?.get(ep);
    } catch (err) {
      this.ctx.log.error({ gw: 'lwm2m', err }, 'bootstrap_registry_failed');
    }
    if (!entry && b.allow_unknown) entry = { endpoint: ep, securityMode: 'nosec' };
    if (!entry) {
      this.count('bootstrap.refused');
      this.ctx.log.info({ gw: 'lwm2m', ep, peer: link.key }, 'bootstrap_refused: unknown endpoint');
      return reply(Code.BAD_REQUEST);
    }
    const t = this.transports.get(link.listener);
    const serverUri = b.server_uri !== '' ? b.server_uri : `coap://${hostFor(t?.bindAddress ?? '127.0.0.1:5783')}`;
    const key = Lwm2mGateway.peerId(link.listener, link.key);
    this.bootstraps.get(key)?.stop();
    const peer = link.peer;
    const run = new BootstrapRun(
      this.ctx,
      ep,
      bootstrapRequests(entry, { serverUri, lifetime: b.lifetime, binding: b.binding, shortServerId: b.short_server_id }),
      (fr) => this.send({ listener: link.listener, peer }, fr),
      this.random,
      (ok, detail) => {
        if (this.bootstraps.get(key) === run) this.bootstraps.delete(key);
        this.count(ok ? 'bootstrap.finished' : 'bootstrap.failed');
        this.ctx.log.info({ gw: 'lwm2m', ep, peer: link.key, server_uri: serverUri, security: entry.securityMode, detail }, ok ? 'bootstrap_finished' : 'bootstrap_failed');
      },
    );
    this.bootstraps.set(key, run);
    reply(Code.CHANGED);
    run.start();
  }

  private authenticate(reg: Registration, link: { peer: { address: string; port: number; security?: PeerSecurity }; listener: string }): AuthOutcome | Promise<AuthOutcome> {
    const password = reg.query.password;
    try {
      return this.ctx.authenticate({
        clientId: reg.clientId,
        username: reg.imei,
        password: password === undefined ? null : Buffer.from(password),
        peerHost: link.peer.address,
        peerPort: link.peer.port,
        listener: link.listener,
        // Over DTLS the PSK identity (or certificate) authenticates the device, and is its username.
        ...authSecurity(link.peer.security),
      });
    } catch (err) {
      this.ctx.log.error({ gw: 'lwm2m', err }, 'authenticate_failed');
      return { ok: false, reason: 'server_unavailable' };
    }
  }

  private register(link: Link<CoapFrame>, query: string[], payload: Buffer, reply: Reply): void {
    const c = checkRegister(query, payload, this.rules());
    if (!c.ok) {
      this.count('register.refused');
      return reply(c.code, [], Buffer.from(c.message));
    }
    const reg = c.reg;
    const addr: Address = { listener: link.listener, peer: link.peer };
    void Promise.resolve(this.authenticate(reg, link)).then((a) => {
      if (this.stopped) return;
      if (!a.ok) {
        this.count('register.refused');
        return reply(Code.BAD_REQUEST, [], Buffer.from(`Login Failed: ${a.reason}`));
      }
      const old = this.byLocation.get(reg.location);
      if (old && old.clientId === reg.clientId) {
        // Re-registration: the new session takes the old one over (same client id).
        old.dispose();
        this.forget(old);
      } else if (old) {
        old.end('takenover');
      }
      const dev = new Lwm2mDevice(this.deps, reg, addr);
      this.track(dev);
      this.open(dev, a);
      dev.refreshLifetime();
      this.persist(dev);
      // EMQX answers a Register repeated from the same address with 2.04 Changed.
      const again = old !== undefined && this.cfg.emqx_compat.reregister_changed && old.addr.listener === link.listener && peerKey(old.addr.peer) === link.key;
      reply(again ? Code.CHANGED : Code.CREATED, [
        { number: LOCATION_PATH, value: Buffer.from('rd') },
        { number: LOCATION_PATH, value: Buffer.from(reg.location) },
      ]);
      this.count('register.accepted');
      this.ctx.log.info({ gw: 'lwm2m', ep: reg.endpoint, clientid: reg.clientId, peer: peerKey(link.peer), lwm2m: reg.clientVersion, lt: reg.lifetime, b: reg.binding }, 'client_registered');
      dev.publish('register', { msgType: 'register', data: registrationEventData(reg.query, reg.links) });
      dev.heard();
      if (this.cfg.auto_observe) dev.autoObserve();
    }).catch((err: unknown) => this.failed(err, reply));
  }

  /** A bug in a handler answers 5.00 to that one request and is logged; the gateway goes on. */
  private failed(err: unknown, reply: Reply): void {
    this.ctx.log.error({ gw: 'lwm2m', err }, 'request_failed');
    reply(Code.INTERNAL_SERVER_ERROR);
  }

  /** Open (or resume) the device's broker session; it persists for the registration lifetime. */
  private open(dev: Lwm2mDevice, a: Extract<AuthOutcome, { ok: true }>): void {
    const reg = dev.reg;
    const t = this.transports.get(dev.addr.listener);
    const session = this.ctx.openSession(
      {
        clientId: reg.clientId,
        username: a.username ?? reg.imei ?? reg.endpoint,
        peerHost: dev.addr.peer.address,
        peerPort: dev.addr.peer.port,
        listener: dev.addr.listener,
        sockPort: t?.port ?? 0,
        endpointName: reg.endpoint,
        protoName: 'LwM2M',
        protoVer: reg.clientVersion,
        keepalive: reg.lifetime,
        superuser: a.superuser,
      },
      // The session lives as long as the registration: commands published while a queue-mode device
      // sleeps, or not yet answered when the daemon stops, wait in it, in the store.
      { cleanStart: false, expiryInterval: reg.lifetime, inflightWindow: 32 },
      dev,
    );
    dev.bind(session);
  }

  private update(link: Link<CoapFrame>, location: string, query: string[], payload: Buffer, reply: Reply): void {
    const dev = this.byLocation.get(location);
    if (!dev) return reply(Code.NOT_FOUND);
    const moved = dev.addr.listener !== link.listener || peerKey(dev.addr.peer) !== link.key;
    if (moved && this.cfg.emqx_compat.update_requires_same_address) return reply(Code.NOT_FOUND);
    const u = applyUpdate(dev.reg, query, payload, this.rules());
    if (!u.ok) return reply(u.code, [], Buffer.from(u.message));
    const relocate = (): void => {
      const now = Lwm2mGateway.peerId(link.listener, link.key);
      const was = Lwm2mGateway.peerId(dev.addr.listener, peerKey(dev.addr.peer));
      if (now === was) return;
      // NAT rebinding: the registration follows its location to the new address (spec A.1).
      if (this.byPeer.get(was) === dev) this.byPeer.delete(was);
      dev.addr = { listener: link.listener, peer: link.peer };
      this.byPeer.set(now, dev);
      this.ctx.log.info({ gw: 'lwm2m', clientid: dev.clientId, peer: link.key }, 'client_address_changed');
    };
    const finish = (): void => {
      relocate();
      dev.reg = u.reg;
      dev.refreshLifetime();
      this.persist(dev);
      reply(Code.CHANGED);
      if (this.cfg.update_msg_publish_condition === 'always' || payload.length > 0) {
        dev.publish('update', { msgType: 'update', data: registrationEventData(u.reg.query, u.reg.links) });
      }
      dev.heard();
    };
    if (dev.session !== null) return finish();
    // Restored after a restart and not yet talking (queue mode): authenticate again (bans) and resume.
    void Promise.resolve(this.authenticate(dev.reg, link)).then((a) => {
      if (this.stopped || this.byLocation.get(location) !== dev) return;
      if (!a.ok) {
        reply(Code.FORBIDDEN);
        dev.end('not_authorized');
        return;
      }
      if (dev.session === null) {
        relocate();
        this.open(dev, a);
      }
      finish();
    }).catch((err: unknown) => this.failed(err, reply));
  }

  private deregister(link: Link<CoapFrame>, location: string, reply: Reply): void {
    const dev = this.byLocation.get(location);
    if (!dev) return reply(Code.NOT_FOUND);
    reply(Code.DELETED);
    this.ctx.log.info({ gw: 'lwm2m', clientid: dev.clientId, peer: link.key }, 'client_deregistered');
    dev.end('normal');
  }

  /** LwM2M 1.1 Send (POST /dp, Transport §6.4): SenML (or any value format) published on the notify topic. */
  private dataPush(link: Link<CoapFrame>, f: CoapFrame, reply: Reply): void {
    const dev = this.deviceAt(link);
    if (!dev || dev.session === null) return reply(Code.NOT_FOUND);
    dev.heard();
    const cfOpt = getOption(f, Opt.CONTENT_FORMAT);
    const cf = cfOpt === undefined ? SENML_JSON_CONTENT_FORMAT : decodeUint(cfOpt) ?? -1;
    const r = decodeContent(cf, f.payload, '/', this.registry.typeOf);
    if (r.kind === 'error') return reply(r.code === 'OUTPOST_ERR_LWM2M_UNSUPPORTED_FORMAT' ? UNSUPPORTED_CONTENT_FORMAT : Code.BAD_REQUEST);
    reply(Code.CHANGED);
    dev.publish('notify', { msgType: 'send', data: { reqPath: '/dp', content: toEmqxContent(r.value) } });
  }

  private track(dev: Lwm2mDevice): void {
    this.byLocation.set(dev.reg.location, dev);
    this.byPeer.set(Lwm2mGateway.peerId(dev.addr.listener, peerKey(dev.addr.peer)), dev);
  }

  private forget(dev: Lwm2mDevice, keepStored = false): void {
    if (this.byLocation.get(dev.reg.location) === dev) {
      this.byLocation.delete(dev.reg.location);
      if (!keepStored) this.regStore?.delete(dev.reg.location);
    }
    const pk = Lwm2mGateway.peerId(dev.addr.listener, peerKey(dev.addr.peer));
    if (this.byPeer.get(pk) === dev) this.byPeer.delete(pk);
  }

  private persist(dev: Lwm2mDevice): void {
    if (this.byLocation.get(dev.reg.location) !== dev) return;
    this.regStore?.save({ reg: dev.reg, addr: dev.addr, expiresAt: dev.expiresAt, observations: dev.observationList() });
  }

  /** Registrations from before a restart: still valid ones come back, non-queue-mode ones online. */
  private restore(): void {
    if (!this.regStore) return;
    const now = this.ctx.clock.now();
    for (const s of this.regStore.load()) {
      if (s.expiresAt <= now || !this.transports.has(s.addr.listener)) {
        this.regStore.delete(s.reg.location);
        continue;
      }
      const dev = new Lwm2mDevice(this.deps, s.reg, s.addr);
      this.track(dev);
      dev.refreshLifetime(s.expiresAt - now);
      dev.restoreObservations(s.observations ?? []);
      if (s.reg.queueMode) continue;
      const a = this.authenticate(s.reg, { peer: s.addr.peer, listener: s.addr.listener });
      void Promise.resolve(a).then((x) => {
        if (this.stopped || dev.session !== null || this.byLocation.get(s.reg.location) !== dev) return;
        if (!x.ok) return dev.end('not_authorized');
        this.open(dev, x);
      }).catch((err: unknown) => this.ctx.log.error({ gw: 'lwm2m', err, ep: s.reg.endpoint }, 'restore_failed'));
    }
    this.ctx.log.info({ gw: 'lwm2m', registrations: this.byLocation.size }, 'registrations_restored');
  }

  // ---- Gateway ------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.stopped = false;
    try {
      this.regStore = new RegistrationStore(this.ctx.store);
      this.bootstrapRegistry = new BootstrapRegistry(this.ctx.store);
      this.seedBootstrap();
    } catch (err) {
      this.ctx.log.error({ gw: 'lwm2m', err }, 'registration_store_unavailable');
      this.regStore = null;
    }
    try {
      const listeners = [
        ...Object.entries(this.cfg.listeners.udp).map(([name, l]) => ({ id: `udp:${name}`, l, dtls: null })),
        ...Object.entries(this.cfg.listeners.dtls).map(([name, l]) => ({ id: `dtls:${name}`, l, dtls: l.enable ? new DtlsGatewayListener(`gateway.lwm2m.listeners.dtls.${name}`, l, this.ctx.psk, this.ctx.log, this.opts.dtlsEngine) : null })),
      ];
      for (const { id, l, dtls } of listeners) {
        if (!l.enable) continue;
        if (dtls !== null) this.dtls.set(id, dtls);
        const t = new UdpTransport<CoapFrame, Lwm2mChannel>(
          { bind: l.bind, port: l.port, ...(dtls !== null ? { socketFactory: dtls.factory } : {}) },
          {
            codec: coapCodec,
            listener: id,
            clock: this.ctx.clock,
            log: this.ctx.log.child({ gw: 'lwm2m', listener: id }),
            idleMs: this.cfg.idle_timeout * 1000,
            maxChannels: l.max_connections,
            open: (link) => new Lwm2mChannel(this, link),
            count: (n: TransportCounter) => this.count(n),
          },
        );
        await t.start();
        this.transports.set(id, t);
        this.ctx.log.info({ gw: 'lwm2m', listener: id, bind: t.bindAddress }, 'listener_started');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.restore();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const b of [...this.bootstraps.values()]) b.stop();
    for (const dev of [...this.byLocation.values()]) {
      dev.shutdown();
      this.forget(dev, true);
    }
    const ts = [...this.transports.values()];
    this.transports.clear();
    this.dtls.clear();
    await Promise.all(ts.map((t) => t.stop()));
  }

  /** Object definitions, timings, translators and compat switches apply live; listeners need a restart. */
  async reload(config: unknown): Promise<void> {
    const next = (await import('./config.js')).lwm2mConfigSchema.parse(config);
    if (JSON.stringify({ ...next.listeners, dtls: dtlsRestartShape(next.listeners.dtls) }) !== JSON.stringify({ ...this.cfg.listeners, dtls: dtlsRestartShape(this.cfg.listeners.dtls) })) throw new Error('gateway.lwm2m.listeners changed: restart to apply');
    if (next.translators.command.topic !== this.cfg.translators.command.topic) throw new Error('gateway.lwm2m.translators.command changed: restart to apply');
    this.registry = this.loadRegistry(next);
    this.cfg = next;
    // Certificates and keys are reread for new handshakes; established DTLS sessions stay up.
    for (const [id, d] of this.dtls) d.reload(next.listeners.dtls[id.slice('dtls:'.length)]!);
    this.seedBootstrap();
  }

  /**
   * POST /api/v5/gateways/lwm2m/clients/{clientid}/request with a command JSON as on the dn topic:
   * 200 with the answer event once the device answered (or the exchange timed out), 400 for a
   * malformed command, 404 for a client that is not registered. A sleeping queue-mode device answers
   * when it next wakes, so the call may wait up to `timeout` seconds (body field, default 95).
   */
  async deviceRequest(clientId: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const dev = [...this.byLocation.values()].find((x) => x.clientId === clientId);
    if (!dev || dev.session === null) return { status: 404, body: { code: 'CLIENT_NOT_FOUND', message: `${clientId} is not registered` } };
    const timeout = typeof body === 'object' && body !== null && typeof (body as { timeout?: unknown }).timeout === 'number' ? (body as { timeout: number }).timeout : 95;
    return new Promise((resolve) => {
      let done = false;
      const timer = this.ctx.clock.setTimeout(() => {
        done = true;
        resolve({ status: 504, body: { code: 'TIMEOUT', message: 'no answer from the device in time' } });
      }, timeout * 1000);
      const r = dev.request(Buffer.from(JSON.stringify(body ?? null)), (ev) => {
        if (done) return;
        done = true;
        this.ctx.clock.clearTimeout(timer);
        resolve({ status: 200, body: ev });
      });
      if (!r.ok) {
        done = true;
        this.ctx.clock.clearTimeout(timer);
        resolve({ status: 400, body: { code: 'BAD_REQUEST', message: r.detail } });
      }
    });
  }

  listeners(): ListenerInfo[] {
    return [...this.transports.entries()].map(([id, t]) => ({ id, type: this.dtls.has(id) ? ('dtls' as const) : ('udp' as const), bind: t.bindAddress, running: t.running, ...dtlsStats(this.dtls.get(id)) }));
  }
}

export const lwm2mGateway: GatewayModule<typeof lwm2mConfigSchema> = {
  name: 'lwm2m',
  protoName: 'LwM2M',
  sysName: 'lwm2m',
  loadConfigSchema: async () => (await import('./config.js')).lwm2mConfigSchema,
  create(ctx, config) {
    return new Lwm2mGateway(ctx, config);
  },
};

