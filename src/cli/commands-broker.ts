// outpostctl commands about the data plane: status, stats, clients, subscriptions, topics,
// publish and retained messages. Human output by default (emqx ctl lines where EMQX users script
// against them, src/broker/SPEC.md §10), the API's JSON with --json.
import type { Command } from 'commander';
import { act, enc, footer, intArg, json, pageQuery, type Page, type Row } from './context.js';
import { emqxClientLine, emqxSubscriptionLine, humanBytes, humanDuration, payloadPreview, table } from './format.js';

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
}
