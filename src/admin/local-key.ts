// Names shared by the daemon and outpostctl, kept apart from credentials.ts so the CLI does not
// load bcrypt just to find the local key.
export const ADMIN_USERS_FILE = 'admin-users.json';
export const LOCAL_KEY_FILE = 'api-local.key';
export const LOCAL_KEY_NAME = 'outpostctl-local';
/** The one-time admin password a first start writes (mode 0600) next to admin-users.json. */
export const INITIAL_PASSWORD_FILE = 'initial-admin-password';

/**
 * Where a daemon records its data dir for outpostctl of the same user ({ pid, data_dir }), so a
 * foreground daemon started anywhere is found without --data-dir. Per user: the installed service
 * runs as its own user, whose daemon is found at its fixed data dir instead.
 */
export function runtimePointerPath(env: NodeJS.ProcessEnv, tmp: string, uid: number): string {
  return `${env.XDG_RUNTIME_DIR || tmp}/outpost-${uid}.json`;
}
