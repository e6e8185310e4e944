// outpostctl commands that work without a daemon: config validation and the dashboard password.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, dataDir, EXIT, type GlobalOptions } from './client.js';
import { readSecret } from './prompt.js';

export const DEFAULT_CONFIG = '/etc/outpost/outpost.toml';

export function registerLocalCommands(program: Command): void {
  const config = program.command('config').description('configuration file');
  config
    .command('check [file]')
    .description(`validate a config file without starting anything (default ${DEFAULT_CONFIG}); OUTPOST_* env overrides apply`)
    .action(async (file: string | undefined, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const path = file ?? DEFAULT_CONFIG;
      // Loaded here, not at the top: every other command starts faster without the whole schema.
      const { ConfigError, loadConfig } = await import('../config/load.js');
      try {
        const cfg = loadConfig({ file: path, env: process.env });
        if (g.json) process.stdout.write(JSON.stringify({ ok: true, file: path, config: cfg }, null, 2) + '\n');
        else process.stdout.write(`${path}: OK\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (g.json) {
          process.stdout.write(JSON.stringify({ ok: false, file: path, message: err.message, issues: err.issues }, null, 2) + '\n');
          throw new CliError('', EXIT.ERROR);
        }
        const lines = err.issues.length > 0 ? err.issues.map((i) => `  ${i.env ? `${i.env}: ` : ''}${i.path}: ${i.message}`) : [`  ${err.message}`];
        throw new CliError(`${path}: invalid configuration\n${lines.join('\n')}`);
      }
    });

  // Dashboard admins (`emqx ctl admins`), kept in <data_dir>/admin-users.json. No daemon needed: it
  // reads the file at each login. `admin` and `admins` are the same command.
  const admin = program.command('admins').alias('admin').description('dashboard / HTTP API login users, as `emqx ctl admins`; no daemon needed');
  const secret = (given: string | undefined, o: { passwordStdin?: boolean }, user: string) =>
    readSecret({ value: given, fromStdin: o.passwordStdin, prompt: `New password for ${user}: `, confirm: true });
  // Loaded here, not at the top: every other command starts faster without bcrypt.
  const store = async (cmd: Command) => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    const creds = await import('../admin/credentials.js');
    return { g, dir: dataDir(g, process.env), creds };
  };
  const write = async (dir: string, fn: () => Promise<void> | void, CredentialFileError: new (m: string) => Error) => {
    try {
      mkdirSync(dir, { recursive: true });
      await fn();
    } catch (err) {
      if (err instanceof CredentialFileError) throw new CliError(err.message, EXIT.USAGE);
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot write ${dir}: ${(err as Error).message}`);
    }
  };
  const passwordOpt = ['--password-stdin', 'read the password from stdin'] as const;
  admin
    .command('passwd [username] [password]')
    .description("set (or add) a dashboard user's password (bcrypt); default user admin; prefer the prompt or --password-stdin to an argument")
    .option(...passwordOpt)
    .action(async (username: string | undefined, given: string | undefined, o: { passwordStdin?: boolean }, cmd: Command) => {
      const { g, dir, creds } = await store(cmd);
      const user = username ?? 'admin';
      const password = await secret(given, o, user);
      await write(dir, () => creds.setAdminPassword(dir, user, password), creds.CredentialFileError);
      process.stdout.write(g.json ? JSON.stringify({ ok: true, username: user }) + '\n' : `password for ${user} set\n`);
    });
  admin
    .command('add <username> [password]')
    .description('add a dashboard user; exit 1 if it exists')
    .option(...passwordOpt)
    .action(async (username: string, given: string | undefined, o: { passwordStdin?: boolean }, cmd: Command) => {
      const { g, dir, creds } = await store(cmd);
      if (creds.readAdminUsers(dir).some((u) => u.username === username)) throw new CliError(`dashboard user ${username} already exists (use passwd to change its password)`);
      const password = await secret(given, o, username);
      await write(dir, () => creds.setAdminPassword(dir, username, password), creds.CredentialFileError);
      process.stdout.write(g.json ? JSON.stringify({ ok: true, username }) + '\n' : 'ok\n');
    });
  admin
    .command('del <username>')
    .alias('remove')
    .description('delete a dashboard user; the last one is kept, so the dashboard stays reachable')
    .action(async (username: string, _o: unknown, cmd: Command) => {
      const { g, dir, creds } = await store(cmd);
      const users = creds.readAdminUsers(dir);
      if (!users.some((u) => u.username === username)) throw new CliError(`no dashboard user ${username}`);
      if (users.length === 1) throw new CliError(`${username} is the last dashboard user: add another before deleting it`);
      await write(dir, () => creds.writeFileAtomic(join(dir, creds.ADMIN_USERS_FILE), JSON.stringify(users.filter((u) => u.username !== username), null, 2) + '\n', 0o600), creds.CredentialFileError);
      process.stdout.write(g.json ? JSON.stringify({ ok: true, username }) + '\n' : 'ok\n');
    });
  admin
    .command('list', { isDefault: true })
    .description('list dashboard users')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, dir, creds } = await store(cmd);
      const names = creds.readAdminUsers(dir).map((u) => u.username);
      process.stdout.write(g.json ? JSON.stringify(names.map((username) => ({ username }))) + '\n' : names.length === 0 ? 'No dashboard users.\n' : names.join('\n') + '\n');
    });
}
