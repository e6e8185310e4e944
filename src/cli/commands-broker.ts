// outpostctl commands about the data plane: status, stats, clients, subscriptions, topics,
// publish and retained messages. Human output by default (emqx ctl lines where EMQX users script
// against them, src/broker/SPEC.md §10), the API's JSON with --json.
import type { Command } from 'commander';
import { act, enc, footer, intArg, json, pageQuery, type Page, type Row } from './context.js';
import { emqxClientLine, emqxPairs, emqxSubscriptionLine, humanBytes, humanDuration, payloadPreview, table } from './format.js';

/** A position-paged listing (mqueue_messages, inflight_messages). */
interface QueuePage {
  data: Row[];
  meta: { start: string; position: string };
}

export function registerBrokerCommands(program: Command): void {
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

  // `emqx ctl broker [stats|metrics]`; the top-level `stats` and `metrics` stay for existing scripts.
  const broker = program.command('broker').description('broker version and uptime, statistics and metrics, as `emqx ctl broker`');
  broker
    .command('info', { isDefault: true })
    .description('version, uptime and time (`emqx ctl broker`)')
    .action(
      act(async (c) => {
        const node = ((await c.api.request('GET', '/api/v5/nodes')).body as Row[])[0] ?? {};
        const info = { sysdescr: 'Outpost IoT edge gateway', version: String(node.version), datetime: new Date().toISOString(), uptime: humanDuration(Number(node.uptime)) };
        if (c.json) return json(c, { ...info, uptime: node.uptime });
        c.print(emqxPairs(Object.entries(info), 10));
      }),
    );
  for (const what of ['stats', 'metrics'] as const) {
    const action = act(async (c) => {
      const body = (await c.api.request('GET', `/api/v5/${what}?aggregate=true`)).body as Record<string, number>;
      if (c.json) return json(c, body);
      c.print(emqxPairs(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), 30));
    });
    broker.command(what).description(`broker ${what} as \`name : value\` lines (\`emqx ctl broker ${what}\`)`).action(action);
    program.command(what).description(`same as \`broker ${what}\``).action(action);
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

  for (const kind of ['mqueue', 'inflight'] as const) {
    clients
      .command(`${kind} <clientid>`)
      .description(kind === 'mqueue' ? "a client's queued messages, oldest first" : "a client's deliveries awaiting acknowledgement")
      .option('--limit <n>', 'page size', '100')
      .option('--position <pos>', 'continue after this position (from the previous page)')
      .action(
        act(async (c, id: string, o: { limit?: string; position?: string }) => {
          let q = `limit=${intArg(o.limit ?? '100', 'limit', 1, 10000)}`;
          if (o.position) q += `&position=${enc(o.position)}`;
          const p = (await c.api.request('GET', `/api/v5/clients/${enc(id)}/${kind}_messages?${q}`)).body as QueuePage;
          if (c.json) return json(c, p);
          if (p.data.length === 0) return c.print(kind === 'mqueue' ? 'No queued messages.' : 'No inflight messages.');
          const rows = p.data.map((m) => [m.inserted_at as string, m.topic as string, m.qos as number, m.from_clientid as string, payloadPreview(String(m.payload ?? ''))]);
          // Without a total, a full page is the hint that more may follow.
          const more = p.data.length === Number(o.limit ?? '100') ? `\n(next: --position ${p.meta.position})` : '';
          c.print(table(['INSERTED', 'TOPIC', 'QOS', 'FROM', 'PAYLOAD'], rows) + more);
        }),
      );
  }

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
    .command('show <clientid>')
    .description("a client's subscriptions (`emqx ctl subscriptions show`)")
    .action(
      act(async (c, id: string) => {
        const list = (await c.api.request('GET', `/api/v5/clients/${enc(id)}/subscriptions`)).body as Row[];
        if (c.json) return json(c, list);
        c.print(list.length === 0 ? 'No subscriptions.' : list.map(emqxSubscriptionLine).join('\n'));
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

  // `emqx ctl topics list|show`: one `topic -> node` line per route.
  const routeLines = (rows: Row[]) => rows.map((t) => `${String(t.topic)} -> ${String(t.node)}`).join('\n');
  const topics = program.command('topics').description('topics with routes, as `emqx ctl topics`');
  topics
    .command('list', { isDefault: true })
    .description('all topics with routes (`emqx ctl topics list`)')
    .option('--page <n>', 'page number', '1')
    .option('--limit <n>', 'page size', '1000')
    .action(
      act(async (c, o: { page?: string; limit?: string }) => {
        const p = (await c.api.request('GET', `/api/v5/topics?${pageQuery(o)}`)).body as Page;
        if (c.json) return json(c, p);
        c.print(p.data.length === 0 ? 'No topics.' : routeLines(p.data) + footer(p));
      }),
    );
  topics
    .command('show <topic>')
    .description('the routes of one topic or filter (`emqx ctl topics show`); exit 1 when it has none')
    .action(
      act(async (c, topic: string) => {
        const rows = (await c.api.request('GET', `/api/v5/topics/${enc(topic)}`)).body as Row[];
        c.print(c.json ? JSON.stringify(rows, null, 2) : routeLines(rows));
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

  // `emqx ctl retainer info|clean [topic]`. The API deletes one topic at a time, so clean lists what
  // the filter matches and deletes each, bounded by what was there when it started.
  const retainer = program.command('retainer').description('the retainer, as `emqx ctl retainer`');
  retainer
    .command('info')
    .description('how many messages are retained')
    .action(
      act(async (c) => {
        const p = (await c.api.request('GET', '/api/v5/mqtt/retainer/messages?page=1&limit=1')).body as Page;
        c.print(c.json ? JSON.stringify({ retained_count: p.meta.count }) : `Number of retained messages: ${p.meta.count}`);
      }),
    );
  retainer
    .command('clean [topic]')
    .description('delete all retained messages, or those whose topic matches a filter')
    .action(
      act(async (c, topic: string | undefined) => {
        const q = `${topic === undefined ? '' : `topic=${enc(topic)}&`}page=1&limit=${CLEAN_BATCH}`;
        let deleted = 0;
        let p = (await c.api.request('GET', `/api/v5/mqtt/retainer/messages?${q}`)).body as Page;
        // Each round deletes the first page; messages retained meanwhile may add rounds, but not forever.
        const rounds = Math.ceil(p.meta.count / CLEAN_BATCH) + 1;
        for (let i = 0; i < rounds && p.data.length > 0; i++) {
          for (const m of p.data) {
            const r = await c.api.request('DELETE', `/api/v5/mqtt/retainer/message/${enc(String(m.topic))}`, undefined, { okStatuses: [404] });
            if (r.status < 300) deleted++;
          }
          p = (await c.api.request('GET', `/api/v5/mqtt/retainer/messages?${q}`)).body as Page;
        }
        c.print(c.json ? JSON.stringify({ deleted }) : `Cleaned ${deleted} retained message${deleted === 1 ? '' : 's'}.`);
      }),
    );
}

const CLEAN_BATCH = 500;
