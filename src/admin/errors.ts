// The API's error catalogue. Codes and statuses follow EMQX's management API (emqx_mgmt_api_*.erl,
// emqx_dashboard_swagger.erl) so clients written for EMQX branch on the same `code` strings.

export const API_ERRORS = {
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  INVALID_PARAMETER: { status: 400, message: 'Invalid parameter' },
  PARAM_ERROR: { status: 400, message: 'Parameter error' },
  MESSAGE_ID_SCHEMA_ERROR: { status: 400, message: 'Message ID schema error' },
  INVALID_NODE: { status: 400, message: 'Invalid node' },
  INVALID_TOPIC: { status: 400, message: 'Invalid topic' },
  MESSAGE_ID_NOT_FOUND: { status: 404, message: 'Message ID not found' },
  MESSAGE_NOT_FOUND: { status: 404, message: 'Message not found' },
  NOT_ALLOWED: { status: 400, message: 'Not allowed' },
  ERROR_PWD_NOT_MATCH: { status: 400, message: 'Old password not match' },
  BAD_USERNAME_OR_PWD: { status: 401, message: 'Auth failed' },
  BAD_API_KEY_OR_SECRET: { status: 401, message: 'Check api_key/api_secret' },
  TOKEN_TIME_OUT: { status: 401, message: 'Token expired, get new token by POST /login' },
  FORBIDDEN: { status: 403, message: 'Not allowed for this role' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  CLIENTID_NOT_FOUND: { status: 404, message: 'Client ID not found' },
  TOPIC_NOT_FOUND: { status: 404, message: 'Topic not found' },
  USER_NOT_FOUND: { status: 404, message: 'User not found' },
  BRIDGE_NOT_FOUND: { status: 404, message: 'Bridge not found' },
  GATEWAY_NOT_FOUND: { status: 404, message: 'Gateway not found' },
  TRACE_NOT_FOUND: { status: 404, message: 'Trace not found' },
  BAD_LISTENER_ID: { status: 404, message: 'Listener id not found' },
  ALREADY_EXISTS: { status: 409, message: 'Already exists' },
  RELOAD_FAILED: { status: 400, message: 'Reload failed' },
  LOGIN_LOCKED: { status: 429, message: 'Too many failed logins; try again later' },
  NOT_SUPPORTED: { status: 501, message: 'Not supported by this node' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Service unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Thrown inside a handler; the error handler turns it into `{code, message}` with its status. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message?: string,
  ) {
    super(message ?? API_ERRORS[code].message);
    this.status = API_ERRORS[code].status;
  }
}
