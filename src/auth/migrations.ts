// The auth component's tables in the shared SQLite file (store.migrate('auth', …)). Append new
// steps; never edit a released one.
export const AUTH_MIGRATIONS: readonly string[] = [
  `CREATE TABLE auth_users (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL, salt TEXT NOT NULL,
     algorithm TEXT NOT NULL, is_superuser INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE auth_acl (id INTEGER PRIMARY KEY AUTOINCREMENT, who_type TEXT NOT NULL, who TEXT NOT NULL,
     permission TEXT NOT NULL, action TEXT NOT NULL, topic TEXT NOT NULL, qos TEXT NOT NULL, retain TEXT NOT NULL);
   CREATE INDEX auth_acl_who ON auth_acl (who_type, who);
   CREATE TABLE auth_banned (as_type TEXT NOT NULL, who TEXT NOT NULL, by TEXT NOT NULL, reason TEXT NOT NULL,
     at INTEGER NOT NULL, until INTEGER, PRIMARY KEY (as_type, who)) WITHOUT ROWID;`,
  // Paired sensors (outpostctl pair, issue 21). The credentials live in auth_users and the scope in
  // auth_acl like any user's; this table remembers which users are devices, how they were paired,
  // and the MQTT-SN predefined topic ids handed to them.
  `CREATE TABLE auth_devices (name TEXT PRIMARY KEY, protocol TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
     username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, scope TEXT NOT NULL, topic_ids TEXT NOT NULL,
     created_at INTEGER NOT NULL, state TEXT NOT NULL) WITHOUT ROWID;`,
  // DTLS pre-shared keys handed to paired CoAP/MQTT-SN devices (issue 20). The key must be known to
  // the server in clear (PSK), so it is stored as is (hex); the identity is unique across devices.
  `ALTER TABLE auth_devices ADD COLUMN psk_identity TEXT;
   ALTER TABLE auth_devices ADD COLUMN psk_key TEXT;
   CREATE UNIQUE INDEX auth_devices_psk_identity ON auth_devices (psk_identity) WHERE psk_identity IS NOT NULL;`,
];
