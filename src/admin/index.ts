// The admin component: HTTP API, Prometheus metrics and traces. The runtime calls startAdmin().
export { apiConfigShape, apiSchema, type ApiConfig } from './config.js';
export type { AdminDeps, BanAdmin, BanKind, BanRecord, BridgeAdmin, BridgeStatus, GatewayAdmin, GatewaySummary, ListenerSummary, ReloadResult, UserDbAdmin, UserRecord } from './deps.js';
export { buildAdmin, type AdminService } from './server.js';
export { startAdmin } from './lazy.js';
export { TraceService, type TraceContext, type TraceInfo, type TraceSpec } from './trace.js';
export { setAdminPassword } from './credentials.js';
