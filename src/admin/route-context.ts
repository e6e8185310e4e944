// What every route module gets from the server: its own module, so routes and server.ts do not
// import each other.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Credentials } from './credentials.js';
import type { AdminDeps } from './deps.js';
import type { PrometheusExporter } from './prometheus.js';
import type { TraceService } from './trace.js';

export interface RouteContext {
  deps: AdminDeps;
  config: Config;
  log: Logger;
  credentials: Credentials;
  trace: TraceService;
  prometheus: PrometheusExporter;
}
