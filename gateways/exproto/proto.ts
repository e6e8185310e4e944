// The emqx.exproto.v1 contract as grpc-js service definitions, plus the message shapes as
// proto-loader hands them over (keepCase, enums as names, uint64 as strings, proto3 defaults
// filled in, bytes as Buffers): the options spec §6 asks for, which EMQX handlers expect.
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { fromJSON, type Options } from '@grpc/proto-loader';
import { EXPROTO_JSON } from './proto-json.js';

export const LOADER_OPTIONS: Options = { keepCase: true, enums: String, longs: String, defaults: true, bytes: Buffer };

export const PACKAGE = 'emqx.exproto.v1';

export type ResultCode = 'SUCCESS' | 'UNKNOWN' | 'CONN_PROCESS_NOT_ALIVE' | 'REQUIRED_PARAMS_MISSED' | 'PARAMS_TYPE_ERROR' | 'PERMISSION_DENY';
export type SocketType = 'TCP' | 'SSL' | 'UDP' | 'DTLS';
export type TimerType = 'KEEPALIVE';

export interface CodeResponse {
  code: ResultCode;
  message: string;
}

export interface Address {
  host: string;
  port: number;
}

export interface ConnInfo {
  socktype: SocketType;
  peername: Address;
  sockname: Address;
  peercert?: { cn: string; dn: string } | null;
}

export interface ClientInfo {
  proto_name: string;
  proto_ver: string;
  clientid: string;
  username: string;
  mountpoint: string;
}

export interface ExprotoMessage {
  node: string;
  id: string;
  qos: number;
  from: string;
  topic: string;
  payload: Buffer;
  /** uint64 ms since epoch, as a decimal string (longs: String). */
  timestamp: string;
}

/** Requests the gateway receives (ConnectionAdapter), as decoded with LOADER_OPTIONS. */
export interface AdapterRequests {
  Send: { conn: string; bytes: Buffer };
  Close: { conn: string };
  Authenticate: { conn: string; clientinfo: ClientInfo | null; password: string };
  StartTimer: { conn: string; type: TimerType | number; interval: number };
  Publish: { conn: string; topic: string; qos: number; payload: Buffer };
  Subscribe: { conn: string; topic: string; qos: number };
  Unsubscribe: { conn: string; topic: string };
  RawPublish: { topic: string; qos: number; payload: Buffer };
}
export type AdapterMethod = keyof AdapterRequests;
export const ADAPTER_METHODS: readonly AdapterMethod[] = ['Send', 'Close', 'Authenticate', 'StartTimer', 'Publish', 'Subscribe', 'Unsubscribe', 'RawPublish'];

/** Events the gateway sends (ConnectionUnaryHandler). */
export interface HandlerRequests {
  OnSocketCreated: { conn: string; conninfo: ConnInfo };
  OnReceivedBytes: { conn: string; bytes: Buffer };
  OnTimerTimeout: { conn: string; type: TimerType };
  OnReceivedMessages: { conn: string; messages: ExprotoMessage[] };
  OnSocketClosed: { conn: string; reason: string };
}
export type HandlerMethod = keyof HandlerRequests;

/** One event for one connection, tagged with its rpc. */
export type HandlerEvent = { [M in HandlerMethod]: { method: M; req: HandlerRequests[M] } }[HandlerMethod];

export interface ExprotoServices {
  adapter: ServiceDefinition;
  unaryHandler: ServiceClientConstructor;
  /** The deprecated client-streaming ConnectionHandler. */
  streamHandler: ServiceClientConstructor;
}

let services: ExprotoServices | null = null;

/** The services, built once from the embedded JSON form of exproto.proto. */
export function exprotoServices(): ExprotoServices {
  if (services) return services;
  const pkg = loadPackageDefinition(fromJSON(EXPROTO_JSON as unknown as Parameters<typeof fromJSON>[0], LOADER_OPTIONS));
  const v1 = ((pkg['emqx'] as GrpcObject)['exproto'] as GrpcObject)['v1'] as GrpcObject;
  const adapter = v1['ConnectionAdapter'] as ServiceClientConstructor;
  services = { adapter: adapter.service, unaryHandler: v1['ConnectionUnaryHandler'] as ServiceClientConstructor, streamHandler: v1['ConnectionHandler'] as ServiceClientConstructor };
  return services;
}

export function code(c: ResultCode, message = ''): CodeResponse {
  return { code: c, message };
}
