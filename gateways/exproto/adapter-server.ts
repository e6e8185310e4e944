// ConnectionAdapter, served by the gateway on [gateway.exproto.server] bind: the eight rpcs the
// user's handler calls. Application failures are CodeResponses, never gRPC error statuses (spec
// §6): handlers in every language branch on `code`. Each call is served on its own, so a handler
// may call in while one of the gateway's calls to it is still pending.
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ExprotoChannel } from './channel.js';
import type { ExprotoConfig } from './config.js';
import { ADAPTER_METHODS, code, exprotoServices, type AdapterMethod, type AdapterRequests, type CodeResponse } from './proto.js';
import { MSG } from './params.js';

/** What the adapter needs from the gateway. */
export interface AdapterBackend {
  /** The live connection of `conn`, undefined when gone; null when `conn` cannot be one of ours. */
  channel(conn: string): ExprotoChannel | undefined | null;
  rawPublish(topic: string, qos: number, payload: Buffer): CodeResponse;
  count(method: AdapterMethod): void;
}

type Req<M extends AdapterMethod> = AdapterRequests[M];

/** Dispatch one adapter call; exported for unit tests (no sockets). */
export async function serveAdapterCall<M extends AdapterMethod>(b: AdapterBackend, method: M, req: Req<M>): Promise<CodeResponse> {
  b.count(method);
  if (method === 'RawPublish') {
    const r = req as Req<'RawPublish'>;
    return b.rawPublish(r.topic, r.qos, r.payload);
  }
  const conn = (req as { conn: string }).conn;
  const ch = b.channel(conn);
  if (ch === null) return code('PARAMS_TYPE_ERROR', MSG.badConn);
  if (ch === undefined) return code(method === 'Authenticate' ? 'PERMISSION_DENY' : 'CONN_PROCESS_NOT_ALIVE', method === 'Authenticate' ? MSG.socketGone : MSG.notAlive);
  switch (method) {
    case 'Send':
      return ch.send((req as Req<'Send'>).bytes);
    case 'Close':
      return ch.close();
    case 'Authenticate': {
      const r = req as Req<'Authenticate'>;
      return ch.authenticate(r.clientinfo, r.password);
    }
    case 'StartTimer': {
      const r = req as Req<'StartTimer'>;
      return ch.startTimer(r.type, r.interval);
    }
    case 'Publish': {
      const r = req as Req<'Publish'>;
      return ch.publish(r.topic, r.qos, r.payload);
    }
    case 'Subscribe': {
      const r = req as Req<'Subscribe'>;
      return ch.subscribe(r.topic, r.qos);
    }
    case 'Unsubscribe':
      return ch.unsubscribe((req as Req<'Unsubscribe'>).topic);
    default:
      return code('UNKNOWN', `unknown method ${String(method)}`);
  }
}

function serverCredentials(ssl: ExprotoConfig['server']['ssl_options']): ServerCredentials {
  if (!ssl || !ssl.enable) return ServerCredentials.createInsecure();
  const read = (p: string, key: string): Buffer => {
    try {
      return readFileSync(p);
    } catch (err) {
      throw new Error(`gateway.exproto.server.ssl_options.${key}: cannot read ${p}: ${(err as Error).message}`);
    }
  };
  const ca = ssl.cacertfile ? read(ssl.cacertfile, 'cacertfile') : null;
  if (ssl.verify === 'verify_peer' && !ca) throw new Error('gateway.exproto.server.ssl_options: verify_peer needs cacertfile');
  return ServerCredentials.createSsl(ca, [{ private_key: read(ssl.keyfile, 'keyfile'), cert_chain: read(ssl.certfile, 'certfile') }], ssl.verify === 'verify_peer' && ssl.fail_if_no_peer_cert);
}

export class AdapterServer {
  private server: Server | null = null;
  private boundPort = 0;

  constructor(
    private readonly cfg: ExprotoConfig['server'],
    private readonly backend: AdapterBackend,
    private readonly log: Logger,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  get running(): boolean {
    return this.server !== null;
  }

  async start(): Promise<void> {
    const server = new Server();
    const impl: UntypedServiceImplementation = {};
    for (const m of ADAPTER_METHODS) {
      impl[m] = (call: ServerUnaryCall<Req<typeof m>, CodeResponse>, cb: sendUnaryData<CodeResponse>) => {
        serveAdapterCall(this.backend, m, call.request).then(
          (r) => cb(null, r),
          (err: unknown) => {
            this.log.error({ err, method: m }, 'exproto_adapter_call_failed');
            cb(null, code('UNKNOWN', err instanceof Error ? err.message : String(err)));
          },
        );
      };
    }
    server.addService(exprotoServices().adapter, impl);
    const creds = serverCredentials(this.cfg.ssl_options);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.cfg.bind, creds, (err, port) => (err ? reject(new Error(`gateway.exproto.server.bind ${this.cfg.bind}: ${err.message}`)) : resolve(port)));
    });
    this.server = server;
    this.log.info({ bind: this.cfg.bind, port: this.boundPort, tls: !!this.cfg.ssl_options?.enable }, 'exproto_adapter_started');
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.forceShutdown();
        resolve();
      }, 2000);
      s.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
