export const PAYLOAD_HEADER: number;
export interface PublishTemplate {
  buf: Buffer;
  idOffset: number;
  payloadOffset: number;
}
export function publishTemplate(o: { topic: string; qos: 0 | 1 | 2; payloadSize: number; protocolVersion?: 4 | 5 }): PublishTemplate;
export interface BenchClientOptions {
  port: number;
  host?: string;
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  protocolVersion?: 4 | 5;
  onMessage?: (c: BenchClient, payload: Buffer, qos: number) => void;
  onAck?: (c: BenchClient) => void;
}
export class BenchClient {
  constructor(o: BenchClientOptions);
  onMessage: BenchClientOptions['onMessage'] | null;
  onAck: BenchClientOptions['onAck'] | null;
  closed: boolean;
  unexpectedClose: boolean;
  now: bigint;
  sent: number;
  acked: number;
  inflight: number;
  readonly done: boolean;
  connect(timeoutMs?: number): Promise<unknown>;
  subscribe(filter: string, qos: 0 | 1 | 2, timeoutMs?: number): Promise<unknown>;
  disconnect(): Promise<void>;
  destroy(): void;
  startPublishing(o: { topic: string; qos: 0 | 1 | 2; payloadSize?: number; window?: number; rate?: number; limit?: number }): void;
  stopPublishing(): void;
}
