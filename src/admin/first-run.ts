// First start with no dashboard user: make one, so a new install has a way in without a default
// password. The password is random, printed once on the console (stderr, outside the JSON log, which
// redacts passwords anyway) and kept in <data_dir>/initial-admin-password (mode 0600) for whoever can
// read the data dir, as EMQX prints its dashboard login. `outpostctl admin passwd` replaces it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readAdminUsers, scryptHash, writeFileAtomic } from './credentials.js';
import { ADMIN_USERS_FILE, INITIAL_PASSWORD_FILE } from './local-key.js';

export const INITIAL_ADMIN = 'admin';

export interface FirstRunAdmin {
  username: string;
  password: string;
  passwordFile: string;
  /** Settles once the user is in admin-users.json (the bcrypt hash is made off the start-up path). */
  ready: Promise<void>;
}

/** Null when a dashboard user exists already. */
export function ensureFirstAdmin(dataDir: string, log: Logger, print: (line: string) => void = (l) => void process.stderr.write(l + '\n')): FirstRunAdmin | null {
  if (readAdminUsers(dataDir).length > 0) return null;
  const password = randomBytes(12).toString('base64url');
  const passwordFile = join(dataDir, INITIAL_PASSWORD_FILE);
  writeFileAtomic(passwordFile, password + '\n', 0o600);
  print(`outpost: created API user "${INITIAL_ADMIN}" with password ${password} (also in ${passwordFile}; change it with: outpostctl admin passwd)`);
  log.info({ username: INITIAL_ADMIN, password_file: passwordFile }, 'api_admin_created');
  // scrypt, not bcrypt: Node's native one runs on the thread pool, where bcryptjs would cost ~100 ms of
  // JavaScript next to the start-up and leave ~7 MB of RSS (JIT code, heap) in an idle daemon. The API
  // answers only once the user is written (lazy.ts waits for `ready`).
  const ready = scryptHash(password).then((hash) => {
    // A password set meanwhile (outpostctl admin passwd) wins over the generated one.
    if (readAdminUsers(dataDir).length > 0) return;
    writeFileAtomic(join(dataDir, ADMIN_USERS_FILE), JSON.stringify([{ username: INITIAL_ADMIN, hash }], null, 2) + '\n', 0o600);
  });
  return { username: INITIAL_ADMIN, password, passwordFile, ready };
}
