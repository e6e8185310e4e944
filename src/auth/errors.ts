// Stable error codes for the auth area. Callers (CLI, HTTP API) branch on `code`, never on text;
// `status` is the HTTP status the API should answer with.
export const AUTH_ERRORS = {
  OUTPOST_ERR_AUTH_USER_EXISTS: { status: 409, message: 'user already exists' },
  OUTPOST_ERR_AUTH_USER_NOT_FOUND: { status: 404, message: 'user not found' },
  OUTPOST_ERR_AUTH_BAD_INPUT: { status: 400, message: 'invalid input' },
  OUTPOST_ERR_AUTH_IMPORT_FORMAT: { status: 400, message: 'cannot parse the import file' },
  OUTPOST_ERR_AUTH_ACL_SYNTAX: { status: 400, message: 'invalid ACL rule' },
  OUTPOST_ERR_AUTH_BAN_NOT_FOUND: { status: 404, message: 'ban not found' },
  OUTPOST_ERR_AUTH_BAN_INVALID: { status: 400, message: 'invalid ban' },
} as const;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

export class AuthError extends Error {
  readonly status: number;
  constructor(
    readonly code: AuthErrorCode,
    detail?: string,
  ) {
    super(detail ? `${AUTH_ERRORS[code].message}: ${detail}` : AUTH_ERRORS[code].message);
    this.status = AUTH_ERRORS[code].status;
  }
}
