// outpostctl commands for access control: built-in database users and bans.
import type { Command } from 'commander';
import { CliError, EXIT } from './client.js';
import { act, enc, footer, json, pageQuery, USERS, type Page, type Row } from './context.js';
import { parseDuration, table } from './format.js';
import { readSecret } from './prompt.js';

export function registerAccessCommands(program: Command): void {
  const users = program.command('users').description('users of the built-in database authenticator');
  users
    .command('list', { isDefault: true })
    .description('list users')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, o: { page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `${USERS}?${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No users.' : table(['USER_ID', 'SUPERUSER'], p.data.map((u) => [u.user_id as string, u.is_superuser as boolean])) + footer(p));
      }),
    );
  const pw = (o: { password?: string; passwordStdin?: boolean }) => readSecret({ value: o.password, fromStdin: o.passwordStdin, prompt: 'Password: ' });
  users
    .command('add <user_id>')
    .description('add a user')
    .option('--password <password>', 'the password (prefer --password-stdin or the prompt)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--superuser', 'bypass authorization')
    .action(
      act(async (c, id: string, o: { password?: string; passwordStdin?: boolean; superuser?: boolean }) => {
        const r = await c.api.request('POST', USERS, { user_id: id, password: await pw(o), is_superuser: Boolean(o.superuser) });
        c.print(c.json ? JSON.stringify(r.body, null, 2) : 'ok');
      }),
    );
  users
    .command('passwd <user_id>')
    .description("change a user's password")
    .option('--password <password>', 'the new password')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      act(async (c, id: string, o: { password?: string; passwordStdin?: boolean }) => {
        await c.api.request('PUT', `${USERS}/${enc(id)}`, { password: await pw(o) });
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );
  users
    .command('remove <user_id>')
    .alias('del')
    .description('remove a user')
    .action(
      act(async (c, id: string) => {
        await c.api.request('DELETE', `${USERS}/${enc(id)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  const banned = program.command('banned').description('banned clients, users and addresses');
  banned
    .command('list', { isDefault: true })
    .description('list bans')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, o: { page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `/api/v5/banned?${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No bans.' : table(['AS', 'WHO', 'BY', 'REASON', 'AT', 'UNTIL'], p.data.map((b) => [b.as, b.who, b.by, b.reason, b.at, b.until] as string[])) + footer(p));
      }),
    );
  banned
    .command('add <as> <who>')
    .description('ban: as is clientid, username, peerhost, clientid_re, username_re or peerhost_net')
    .option('--reason <text>', 'why', '')
    .option('--duration <d>', 'e.g. 30m, 2h, 1d (default: forever)')
    .action(
      act(async (c, as: string, who: string, o: { reason: string; duration?: string }) => {
        const body: Row = { as, who, reason: o.reason, by: 'outpostctl' };
        if (o.duration) {
          const ms = parseDuration(o.duration);
          if (ms === null || ms === 0) throw new CliError('--duration must look like 90s, 30m, 2h or 1d', EXIT.USAGE);
          body.until = new Date(Date.now() + ms).toISOString();
        }
        const r = await c.api.request('POST', '/api/v5/banned', body);
        c.print(c.json ? JSON.stringify(r.body, null, 2) : 'ok');
      }),
    );
  banned
    .command('remove <as> <who>')
    .alias('del')
    .description('lift a ban')
    .action(
      act(async (c, as: string, who: string) => {
        await c.api.request('DELETE', `/api/v5/banned/${enc(as)}/${enc(who)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );
}
