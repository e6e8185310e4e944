// Names shared by the daemon and outpostctl, kept apart from credentials.ts so the CLI does not
// load bcrypt just to find the local key.
export const ADMIN_USERS_FILE = 'admin-users.json';
export const LOCAL_KEY_FILE = 'api-local.key';
export const LOCAL_KEY_NAME = 'outpostctl-local';
