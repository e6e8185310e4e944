export const repoRoot: string;
export const outpostMain: string;
export const BROKERS: readonly ['outpost', 'mosquitto', 'aedes'];
export type BrokerName = (typeof BROKERS)[number];
export interface BrokerOptions {
  env?: Record<string, string>;
  outpostMqtt?: Record<string, unknown>;
  mosquittoConf?: string;
  timeoutMs?: number;
  tmpRoot?: string;
}
export interface BrokerHandle {
  name: string;
  pid: number;
  port: number;
  readyMs: number;
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}
export function findMosquitto(): string | null;
export function unavailable(name: string): string | null;
export function versions(): Record<string, string | null>;
export function freePort(): Promise<number>;
export function startBroker(name: string, opts?: BrokerOptions): Promise<BrokerHandle>;
/** The driver's environment plus `extra`, without NODE_EXTRA_CA_CERTS unless OUTPOST_BENCH_KEEP_CA_ENV=1. */
export function brokerEnv(extra?: Record<string, string>): Record<string, string | undefined>;
export function outpostToml(mqttOverrides?: Record<string, unknown>): string;
export function mosquittoConf(port: number, extra?: string): string;
