// outpostctl commands that talk to the running daemon over the HTTP API. Each prints a human form
// by default and the API's JSON with --json.
import type { Command } from 'commander';
import { ApiClient, CliError, EXIT, resolveAuth, resolveUrl, type GlobalOptions } from './client.js';
import { emqxClientLine, emqxSubscriptionLine, humanBytes, humanDuration, parseDuration, table } from './format.js';
import { readSecret } from './prompt.js';

type Row = Record<string, unknown>;
interface Page {
  data: Row[];
  meta: { count: number; page: number; limit: number; hasnext: boolean };
}

export interface Ctx {
  api: ApiClient;
  json: boolean;
  print(text: string): void;
}

const USERS = '/api/v5/authentication/password_based:built_in_database/users';

function ctxFor(cmd: Command): Ctx {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const timeout = Number(o.timeout ?? 10_000);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new CliError('--timeout must be a positive number of milliseconds', EXIT.USAGE);
  return {
    api: new ApiClient(resolveUrl(o, process.env), resolveAuth(o, process.env), timeout),
    json: Boolean(o.json),
    print: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  };
}

/** Wrap an action: build the context from global options and hand it the command's own args. */
function act<A extends unknown[]>(fn: (c: Ctx, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    await fn(ctxFor(cmd), ...(args.slice(0, -1) as A));
  };
}

const enc = encodeURIComponent;
const json = (c: Ctx, v: unknown) => c.print(JSON.stringify(v, null, 2));
const pageQuery = (o: { page?: string; limit?: string }) => `page=${enc(o.page ?? '1')}&limit=${enc(o.limit ?? '100')}`;
function intArg(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be an integer in ${min}..${max}`, EXIT.USAGE);
  return n;
}
function footer(p: Page): string {
  return p.meta.hasnext ? `\n(${p.data.length} of ${p.meta.count}; next: --page ${p.meta.page + 1})` : '';
}

export function registerCommands(program: Command): void {
  program
    .command('status')
    .description('is the daemon running (like `emqx ctl status`)')
    .action(
      act(async (c) => {
        const s = (await c.api.request('GET', '/api/v5/status?format=json', undefined, { anonymous: true })).body as Row;
        // Liveness must not depend on credentials: without them, print what /status tells anyone.
        const nodes = await c.api.request('GET', '/api/v5/nodes', undefined, { okStatuses: [401, 403] });
        const node = nodes.status === 200 ? (nodes.body as Row[])[0] : undefined;
        if (c.json) return json(c, { ...s, ...node });
        c.print(`Node '${String(s.node_name)}' ${node ? `${String(node.version)} ` : ''}is ${String(s.broker_status)}`);
        if (node) {
          c.print(`uptime      : ${humanDuration(Number(node.uptime))}`);
          c.print(`connections : ${String(node.connections)}`);
          c.print(`memory_used : ${humanBytes(Number(node.memory_used))}`);
        }
      }),
    );

  for (const what of ['stats', 'metrics'] as const) {
    program
      .command(what)
      .description(`broker ${what} as name : value lines`)
      .action(
        act(async (c) => {
          const body = (await c.api.request('GET', `/api/v5/${what}?aggregate=true`)).body as Record<string, number>;
          if (c.json) return json(c, body);
          const names = Object.keys(body).sort();
          const w = Math.max(...names.map((n) => n.length));
          c.print(names.map((n) => `${n.padEnd(w)} : ${body[n]}`).join('\n'));
        }),
      );
  }

  const clients = program.command('clients').description('connected clients and sessions');
  clients
    .command('list')
    .description('list clients')
    .option('--username <name>', 'only this username')
    .option('--protocol <name>', 'mqtt or a gateway name')
    .option('--connected', 'only connected clients')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, o: { username?: string; protocol?: string; connected?: boolean; page?: string; limit?: string }) => {
        let q = pageQuery(o);
        if (o.username) q += `&username=${enc(o.username)}`;
        if (o.protocol) q += `&protocol=${enc(o.protocol)}`;
        if (o.connected) q += '&conn_state=connected';
        const p = (await c.api.request('GET', `/api/v5/clients?${q}`)).body as Page;
        if (c.json) return json(c, p);
        if (p.data.length === 0) return c.print('No clients.');
        c.print(
          table(
            ['CLIENTID', 'USERNAME', 'PEER', 'PROTOCOL', 'CONNECTED', 'SUBS', 'INFLIGHT', 'QUEUED', 'DROPPED'],
            p.data.map((x) => [x.clientid as string, x.username as string, `${String(x.ip_address)}:${String(x.port)}`, `${String(x.protocol)}/${String(x.proto_ver)}`, x.connected as boolean, x.subscriptions_cnt as number, x.inflight_cnt as number, x.mqueue_len as number, x.mqueue_dropped as number]),
          ) + footer(p),
        );
      }),
    );
  clients
    .command('show <clientid>')
    .description('one client, as `emqx ctl clients show`')
    .action(
      act(async (c, id: string) => {
        const x = (await c.api.request('GET', `/api/v5/clients/${enc(id)}`)).body as Row;
        c.print(c.json ? JSON.stringify(x, null, 2) : emqxClientLine(x));
      }),
    );
  clients
    .command('kick <clientid>')
    .description('disconnect a client and discard its session')
    .action(
      act(async (c, id: string) => {
        await c.api.request('DELETE', `/api/v5/clients/${enc(id)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  const subs = program.command('subscriptions').description('subscriptions');
  subs
    .command('list', { isDefault: true })
    .description('list subscriptions')
    .option('--clientid <id>', 'only this client')
    .option('--match <topic>', 'only filters matching this topic')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, o: { clientid?: string; match?: string; page?: string; limit?: string }) => {
        let q = pageQuery(o);
        if (o.clientid) q += `&clientid=${enc(o.clientid)}`;
        if (o.match) q += `&match_topic=${enc(o.match)}`;
        const p = (await c.api.request('GET', `/api/v5/subscriptions?${q}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No subscriptions.' : p.data.map(emqxSubscriptionLine).join('\n') + footer(p));
      }),
    );
  subs
    .command('add <clientid> <topic> [qos]')
    .description('subscribe a client to a topic filter')
    .action(
      act(async (c, id: string, topic: string, qos: string | undefined) => {
        const r = await c.api.request('POST', `/api/v5/clients/${enc(id)}/subscribe`, { topic, qos: intArg(qos ?? '0', 'qos', 0, 2) });
        c.print(c.json ? JSON.stringify(r.body, null, 2) : 'ok');
      }),
    );
  subs
    .command('del <clientid> <topic>')
    .description('unsubscribe a client from a topic filter')
    .action(
      act(async (c, id: string, topic: string) => {
        await c.api.request('POST', `/api/v5/clients/${enc(id)}/unsubscribe`, { topic });
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

  program
    .command('topics')
    .description('topics with routes, as `emqx ctl topics list`')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '1000')
    .action(
      act(async (c, o: { page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `/api/v5/topics?${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No topics.' : p.data.map((t) => `${String(t.topic)} -> ${String(t.node)}`).join('\n') + footer(p));
      }),
    );

  program
    .command('publish <topic> [payload]')
    .description('publish a message through the broker')
    .option('-q, --qos <qos>', 'QoS 0, 1 or 2', '0')
    .option('-r, --retain', 'retain the message')
    .option('--base64', 'the payload argument is base64')
    .option('--clientid <id>', 'publish as this client id')
    .option('--expiry <seconds>', 'message expiry interval')
    .action(
      act(async (c, topic: string, payload: string | undefined, o: { qos: string; retain?: boolean; base64?: boolean; clientid?: string; expiry?: string }) => {
        const body: Row = { topic, payload: payload ?? '', qos: intArg(o.qos, 'qos', 0, 2), retain: Boolean(o.retain), payload_encoding: o.base64 ? 'base64' : 'plain' };
        if (o.clientid) body.clientid = o.clientid;
        if (o.expiry) body.properties = { message_expiry_interval: intArg(o.expiry, '--expiry', 0, 0xffffffff) };
        const r = await c.api.request('POST', '/api/v5/publish', body);
        const b = r.body as Row;
        if (c.json) return json(c, b);
        c.print(r.status === 202 ? `ok, no matching subscribers (id ${String(b.id)})` : `ok (id ${String(b.id)})`);
      }),
    );

  const retained = program.command('retained').description('retained messages');
  retained
    .command('list', { isDefault: true })
    .description('list retained messages')
    .option('--topic <filter>', 'topic filter', '#')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '100')
    .action(
      act(async (c, o: { topic: string; page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `/api/v5/mqtt/retainer/messages?topic=${enc(o.topic)}&${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(`Number of retained messages: ${p.meta.count}`);
        if (p.data.length > 0) c.print(table(['TOPIC', 'QOS', 'FROM', 'PUBLISHED'], p.data.map((m) => [m.topic as string, m.qos as number, m.from_clientid as string, m.publish_at as string])) + footer(p));
      }),
    );
  retained
    .command('show <topic>')
    .description('one retained message with its payload')
    .action(
      act(async (c, topic: string) => {
        const m = (await c.api.request('GET', `/api/v5/mqtt/retainer/message/${enc(topic)}`)).body as Row;
        if (c.json) return json(c, m);
        c.print(`topic: ${String(m.topic)}\nqos: ${String(m.qos)}\nfrom: ${String(m.from_clientid)}\npublished: ${String(m.publish_at)}\npayload: ${Buffer.from(String(m.payload), 'base64').toString('utf8')}`);
      }),
    );
  retained
    .command('delete <topic>')
    .description('delete a retained message')
    .action(
      act(async (c, topic: string) => {
        await c.api.request('DELETE', `/api/v5/mqtt/retainer/message/${enc(topic)}`);
        c.print(c.json ? '{"ok":true}' : 'ok');
      }),
    );

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

  program
    .command('listeners')
    .description('listeners and their connections')
    .action(
      act(async (c) => {
        const l = (await c.api.request('GET', '/api/v5/listeners')).body as Row[];
        if (c.json) return json(c, l);
        c.print(table(['ID', 'TYPE', 'BIND', 'RUNNING', 'CONNECTIONS', 'MAX'], l.map((x) => [x.id, x.type, x.bind, x.running, x.current_connections, x.max_connections] as string[])));
      }),
    );

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
        const p = (await c.api.request('GET', '/api/v5/trace?limit=10000')).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No traces.' : table(['NAME', 'TYPE', 'FILTER', 'STATUS', 'END', 'SIZE'], p.data.map((t) => [t.name as string, t.type as string, t[t.type as string] as string, t.status as string, t.end_at as string, Object.values(t.log_size as Record<string, number>)[0] ?? 0])));
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
}
