// outpostctl commands that work without a daemon: config validation and the dashboard password.
import { mkdirSync } from 'node:fs';
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

  const admin = program.command('admin').description('the HTTP API / dashboard login');
  admin
    .command('passwd [username]')
    .description("set a dashboard user's password (bcrypt) in <data_dir>/admin-users.json; no daemon needed, no restart")
    .option('--password-stdin', 'read the password from stdin')
    .action(async (username: string | undefined, o: { passwordStdin?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const dir = dataDir(g, process.env);
      const user = username ?? 'admin';
      const { CredentialFileError, setAdminPassword } = await import('../admin/credentials.js');
      const password = await readSecret({ fromStdin: o.passwordStdin, prompt: `New password for ${user}: `, confirm: true });
      try {
        mkdirSync(dir, { recursive: true });
        await setAdminPassword(dir, user, password);
      } catch (err) {
        if (err instanceof CredentialFileError) throw new CliError(err.message, EXIT.USAGE);
        throw new CliError(`cannot write ${dir}: ${(err as Error).message}`);
      }
      process.stdout.write(g.json ? JSON.stringify({ ok: true, username: user }) + '\n' : `password for ${user} set\n`);
    });
}
