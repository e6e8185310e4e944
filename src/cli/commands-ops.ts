// outpostctl commands for operations: listeners, gateways, bridges, traces and reload.
import type { Command } from 'commander';
import { CliError, EXIT } from './client.js';
import { act, enc, footer, json, pageQuery, type Page, type Row } from './context.js';
import { emqxClientLine, humanDuration, parseDuration, table } from './format.js';

export function registerOpsCommands(program: Command): void {
  const listeners = program.command('listeners').description('listeners and their connections, as `emqx ctl listeners`');
  listeners
    .command('list', { isDefault: true })
    .description('list listeners')
    .action(
      act(async (c) => {
        const l = (await c.api.request('GET', '/api/v5/listeners')).body as Row[];
        if (c.json) return json(c, l);
        c.print(table(['ID', 'TYPE', 'BIND', 'RUNNING', 'CONNECTIONS', 'MAX'], l.map((x) => [x.id, x.type, x.bind, x.running, x.current_connections, x.max_connections] as string[])));
      }),
    );
  // The daemon keeps the change until it restarts; the config file is not touched.
  const done = { stop: 'Stop', start: 'Started', restart: 'Restarted' } as const;
  for (const action of ['stop', 'start', 'restart'] as const) {
    listeners
      .command(`${action} <id>`)
      .description(`${action} a listener, e.g. tcp:default (until the daemon restarts)`)
      .action(
        act(async (c, id: string) => {
          await c.api.request('POST', `/api/v5/listeners/${enc(id)}/${action}`);
          c.print(c.json ? JSON.stringify({ ok: true, id, action }) : `${done[action]} ${id} listener successfully.`);
        }),
      );
  }

  const gateways = program.command('gateways').description('protocol gateways');
  gateways
    .command('list', { isDefault: true })
    .description('list gateways')
    .action(
      act(async (c) => {
        const g = (await c.api.request('GET', '/api/v5/gateways')).body as Row[];
        if (c.json) return json(c, g);
        if (g.length === 0) return c.print('No gateways.');
        c.print(
          table(
            ['NAME', 'STATUS', 'CONNECTIONS', 'LISTENERS'],
            g.map((x) => [x.name as string, x.status as string, x.current_connections as number, (x.listeners as Row[]).map((l) => `${String(l.id)}@${String(l.bind)}`).join(' ')]),
          ),
        );
      }),
    );
  gateways
    .command('clients <name>')
    .description("a gateway's clients")
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, name: string, o: { page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `/api/v5/gateways/${enc(name)}/clients?${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No clients.' : table(['CLIENTID', 'USERNAME', 'PEER', 'CONNECTED', 'SUBS'], p.data.map((x) => [x.clientid as string, x.username as string, `${String(x.ip_address)}:${String(x.port)}`, x.connected as boolean, x.subscriptions_cnt as number])) + footer(p));
      }),
    );

  gateways
    .command('lookup <name> <clientid>')
    .description("one of a gateway's clients (`emqx ctl gateway-clients lookup`)")
    .action(
      act(async (c, name: string, id: string) => {
        const x = (await c.api.request('GET', `/api/v5/gateways/${enc(name)}/clients/${enc(id)}`)).body as Row;
        c.print(c.json ? JSON.stringify(x, null, 2) : emqxClientLine(x));
      }),
    );
  gateways
    .command('kick <name> <clientid>')
    .description("disconnect one of a gateway's clients (`emqx ctl gateway-clients kick`)")
    .action(
      act(async (c, name: string, id: string) => {
        await c.api.request('DELETE', `/api/v5/gateways/${enc(name)}/clients/${enc(id)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  const bridges = program.command('bridges').description('upstream bridges');
  bridges
    .command('list', { isDefault: true })
    .description('bridge status and counters')
    .action(
      act(async (c) => {
        const list = (await c.api.request('GET', '/api/v5/bridges')).body as Row[];
        const withMetrics: (Row & { metrics: Row })[] = await Promise.all(list.map(async (b) => ({ ...b, metrics: ((await c.api.request('GET', `/api/v5/bridges/${enc(String(b.id))}/metrics`)).body as Row).metrics as Row })));
        if (c.json) return json(c, withMetrics);
        if (list.length === 0) return c.print('No bridges.');
        c.print(
          table(
            ['ID', 'STATUS', 'ENABLE', 'MATCHED', 'SUCCESS', 'FAILED', 'DROPPED', 'QUEUING'],
            withMetrics.map((b) => [b.id as string, b.status as string, b.enable as boolean, b.metrics.matched as number, b.metrics.success as number, b.metrics.failed as number, b.metrics.dropped as number, b.metrics.queuing as number]),
          ),
        );
      }),
    );
  bridges
    .command('restart <id>')
    .description('reconnect a bridge')
    .action(
      act(async (c, id: string) => {
        await c.api.request('POST', `/api/v5/bridges/${enc(id)}/restart`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  const trace = program.command('trace').description('time-boxed traces to a file on the daemon');
  trace
    .command('list', { isDefault: true })
    .description('list traces')
    .action(
      act(async (c) => {
        const list = (await c.api.request('GET', '/api/v5/trace')).body as Record<string, unknown>[];
        if (c.json) return json(c, list);
        c.print(list.length === 0 ? 'No traces.' : table(['NAME', 'TYPE', 'FILTER', 'STATUS', 'END', 'SIZE'], list.map((t) => [t.name as string, t.type as string, t[t.type as string] as string, t.status as string, t.end_at as string, Object.values(t.log_size as Record<string, number>)[0] ?? 0])));
      }),
    );
  trace
    .command('start <name> <type> <filter>')
    .description('type is client, topic or ip_address, as `emqx ctl traces start`')
    .option('--duration <d>', 'how long, e.g. 90s, 10m, 2h', '10m')
    .action(
      act(async (c, name: string, type: string, filter: string, o: { duration: string }) => {
        const t = type === 'client' ? 'clientid' : type;
        if (!['clientid', 'topic', 'ip_address'].includes(t)) throw new CliError('type must be client, topic or ip_address', EXIT.USAGE);
        const ms = parseDuration(o.duration);
        if (ms === null || ms === 0) throw new CliError('--duration must look like 90s, 10m or 2h', EXIT.USAGE);
        const now = Date.now();
        const r = await c.api.request('POST', '/api/v5/trace', { name, type: t, [t]: filter, start_at: new Date(now).toISOString(), end_at: new Date(now + ms).toISOString() });
        c.print(c.json ? JSON.stringify(r.body, null, 2) : `trace ${name} started, ends ${String((r.body as Row).end_at)}`);
      }),
    );
  trace
    .command('stop <name>')
    .description('stop a trace (its log stays until deleted)')
    .action(
      act(async (c, name: string) => {
        const r = await c.api.request('PUT', `/api/v5/trace/${enc(name)}/stop`);
        c.print(c.json ? JSON.stringify(r.body, null, 2) : 'ok');
      }),
    );
  trace
    .command('log <name>')
    .description("print a trace's log")
    .action(
      act(async (c, name: string) => {
        const r = await c.api.request('GET', `/api/v5/trace/${enc(name)}/log`);
        process.stdout.write(r.text);
      }),
    );
  trace
    .command('delete <name>')
    .description('stop a trace and delete its log')
    .action(
      act(async (c, name: string) => {
        await c.api.request('DELETE', `/api/v5/trace/${enc(name)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  program
    .command('reload')
    .description('re-read the config file and apply what can change live (as SIGHUP)')
    .action(
      act(async (c) => {
        await c.api.request('POST', '/api/v5/reload');
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  const alarms = program.command('alarms').description('alarms (GET /api/v5/alarms)');
  alarms
    .command('list', { isDefault: true })
    .description('active alarms, or with --deactivated the ones that have cleared')
    .option('--deactivated', 'list deactivated alarms instead')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, o: { deactivated?: boolean; page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `/api/v5/alarms?activated=${o.deactivated ? 'false' : 'true'}&${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        if (p.data.length === 0) return c.print(o.deactivated ? 'No deactivated alarms.' : 'No active alarms.');
        const head = ['NAME', 'ACTIVATED_AT', ...(o.deactivated ? ['DEACTIVATED_AT'] : []), 'DURATION', 'MESSAGE'];
        const rows = p.data.map((a) => [a.name as string, a.activate_at as string, ...(o.deactivated ? [a.deactivate_at as string] : []), humanDuration(Number(a.duration)), a.message as string]);
        c.print(table(head, rows) + footer(p));
      }),
    );

  // API keys live in the daemon's store; the API lets only a login or the local key manage them.
  const keys = program.command('api_keys').alias('api-keys').description('API keys for the HTTP API (/api/v5/api_key)');
  keys
    .command('list', { isDefault: true })
    .description('list API keys')
    .action(
      act(async (c) => {
        const l = (await c.api.request('GET', '/api/v5/api_key')).body as Row[];
        if (c.json) return json(c, l);
        c.print(l.length === 0 ? 'No API keys.' : table(['NAME', 'API_KEY', 'ROLE', 'ENABLE', 'EXPIRED_AT', 'DESC'], l.map((k) => [k.name, k.api_key, k.role, k.enable, k.expired_at, k.desc] as string[])));
      }),
    );
  keys
    .command('add <name>')
    .description('create an API key; the secret is printed once')
    .option('--role <role>', 'administrator, viewer or publisher', 'administrator')
    .option('--desc <text>', 'description', '')
    .option('--expires <d>', 'lifetime, e.g. 30d or 12h (default: never)')
    .option('--disabled', 'create it disabled')
    .action(
      act(async (c, name: string, o: { role: string; desc: string; expires?: string; disabled?: boolean }) => {
        const body: Row = { name, role: o.role, desc: o.desc, enable: !o.disabled };
        if (o.expires) {
          const ms = parseDuration(o.expires);
          if (ms === null || ms === 0) throw new CliError('--expires must look like 90s, 30m, 2h or 30d', EXIT.USAGE);
          body.expired_at = new Date(Date.now() + ms).toISOString();
        }
        const k = (await c.api.request('POST', '/api/v5/api_key', body)).body as Row;
        if (c.json) return json(c, k);
        c.print(`api_key: ${String(k.api_key)}\napi_secret: ${String(k.api_secret)}\n(the secret is not shown again)`);
      }),
    );
  keys
    .command('del <name>')
    .alias('remove')
    .description('delete an API key')
    .action(
      act(async (c, name: string) => {
        await c.api.request('DELETE', `/api/v5/api_key/${enc(name)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  const log = program.command('log').description("the daemon's log, as `emqx ctl log`");
  log
    .command('set-level <level>')
    .description(`set the log level live until the next reload or restart: ${LOG_LEVELS.join(', ')}`)
    .action(
      act(async (c, level: string) => {
        if (!LOG_LEVELS.includes(level)) throw new CliError(`invalid level: ${level} (${LOG_LEVELS.join(', ')})`, EXIT.USAGE);
        const r = (await c.api.request('PUT', '/api/v5/log', { level })).body as Row;
        c.print(c.json ? JSON.stringify(r) : level);
      }),
    );
}

/** pino's level names and EMQX's (log.level takes both). */
const LOG_LEVELS = ['trace', 'debug', 'info', 'notice', 'warning', 'warn', 'error', 'critical', 'alert', 'emergency', 'fatal', 'all', 'none', 'silent'];
