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

  // Dashboard admins (`emqx ctl admins add|passwd|del`), kept in <data_dir>/admin-users.json. No
  // daemon needed: it reads the file at each login. `admin` and `admins` are the same command.
  const admin = program.command('admins').alias('admin').description('dashboard / HTTP API login users, as `emqx ctl admins`; no daemon needed');
  const secret = (given: string | undefined, o: { passwordStdin?: boolean }, user: string) =>
    readSecret({ value: given, fromStdin: o.passwordStdin, prompt: `New password for ${user}: `, confirm: true });
  const passwordOpt = ['--password-stdin', 'read the password from stdin'] as const;
  const done = (g: GlobalOptions, username: string, text: string) => process.stdout.write(g.json ? JSON.stringify({ ok: true, username }) + '\n' : text + '\n');

  admin
    .command('passwd [username] [password]')
    .description("set (or add) a dashboard user's password (bcrypt); default user admin; prefer the prompt or --password-stdin to an argument")
    .option(...passwordOpt)
    .action(async (username: string | undefined, given: string | undefined, o: { passwordStdin?: boolean }, cmd: Command) => {
      const a = await adminFile(cmd);
      const user = username ?? 'admin';
      const password = await secret(given, o, user);
      // setAdminPassword rewrites the entry: keep its description.
      const description = a.users().find((u) => u.username === user)?.description;
      await a.write(async () => {
        await a.creds.setAdminPassword(a.dir, user, password);
        if (description !== undefined) a.save(a.users().map((u) => (u.username === user ? { ...u, description } : u)));
      });
      done(a.g, user, `password for ${user} set`);
    });
  admin
    .command('add <username> [password] [description]')
    .description('add a dashboard user (`emqx ctl admins add`); exit 1 if it exists')
    .option(...passwordOpt)
    .action(async (username: string, given: string | undefined, description: string | undefined, o: { passwordStdin?: boolean }, cmd: Command) => {
      const a = await adminFile(cmd);
      if (a.users().some((u) => u.username === username)) throw new CliError(`dashboard user ${username} already exists (use passwd to change its password)`);
      const password = await secret(given, o, username);
      await a.write(async () => {
        await a.creds.setAdminPassword(a.dir, username, password);
        if (description) a.save(a.users().map((u) => (u.username === username ? { ...u, description } : u)));
      });
      done(a.g, username, 'ok');
    });
  admin
    .command('del <username>')
    .alias('remove')
    .description('delete a dashboard user (its live login tokens stop working at once); the last user is kept, so the dashboard stays reachable')
    .action(async (username: string, _o: unknown, cmd: Command) => {
      const a = await adminFile(cmd);
      const users = a.users();
      if (!users.some((u) => u.username === username)) throw new CliError(`no dashboard user ${username}`);
      if (users.length === 1) throw new CliError(`${username} is the last dashboard user: add another before deleting it`);
      await a.write(() => a.save(users.filter((u) => u.username !== username)));
      done(a.g, username, 'ok');
    });
  admin
    .command('list', { isDefault: true })
    .description('list dashboard users')
    .action(async (_o: unknown, cmd: Command) => {
      const a = await adminFile(cmd);
      const users = a.users().map((u) => ({ username: u.username, description: u.description ?? '' }));
      if (a.g.json) return void process.stdout.write(JSON.stringify(users) + '\n');
      process.stdout.write(users.length === 0 ? 'No dashboard users.\n' : users.map((u) => (u.description ? `${u.username}  ${u.description}` : u.username)).join('\n') + '\n');
    });
}

type AdminEntry = { username: string; hash: string; description?: string };

/** <data_dir>/admin-users.json for the admins commands: read and write errors as CliErrors. */
async function adminFile(cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const dir = dataDir(g, process.env);
  // Loaded here, not at the top: every other command starts faster without bcrypt.
  const creds = await import('../admin/credentials.js');
  const path = join(dir, creds.ADMIN_USERS_FILE);
  return {
    g,
    dir,
    creds,
    users(): AdminEntry[] {
      try {
        return creds.readAdminUsers(dir) as AdminEntry[];
      } catch (err) {
        throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
      }
    },
    save(users: AdminEntry[]): void {
      creds.writeFileAtomic(path, JSON.stringify(users, null, 2) + '\n', 0o600);
    },
    async write(fn: () => Promise<void> | void): Promise<void> {
      try {
        mkdirSync(dir, { recursive: true });
        await fn();
      } catch (err) {
        if (err instanceof creds.CredentialFileError) throw new CliError(err.message, EXIT.USAGE);
        if (err instanceof CliError) throw err;
        throw new CliError(`cannot write ${dir}: ${(err as Error).message}`);
      }
    },
  };
}
