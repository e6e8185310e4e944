// The node and its listeners: what the box runs and where it listens, with start/stop/restart (until
// the node restarts; the config file is not changed).
import { api, enc, get } from '../api.js';
import { badge, facts, fill, fmtBytes, fmtDuration, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

interface NodeInfo {
  node: string;
  version: string;
  edition: string;
  uptime: number;
  memory_used: number;
  memory_total: number;
  heap_used: number;
  load1: number;
  load5: number;
  load15: number;
  cpus: number;
  node_version: string;
  pid: number;
}
interface ListenerStatus {
  running: boolean;
  current_connections: number;
  max_connections: number | string;
}
/** EMQX nests the state in status{}; older Outposts had the same fields flat only. */
interface Listener extends Partial<ListenerStatus> {
  id: string;
  type: string;
  bind: string;
  enable?: boolean;
  status?: ListenerStatus;
}

export function nodePage(ctx: PageCtx): void {
  const info = h('div');
  const listeners = h('div');
  ctx.root.append(h('h2', null, 'Node'), info, h('h3', null, 'Listeners'), listeners);
  const load = async () => {
    const [nodes, ls] = await Promise.all([get<NodeInfo[]>('/api/v5/nodes'), get<Listener[]>('/api/v5/listeners')]);
    ctx.error(null);
    const n = nodes[0]!;
    fill(
      info,
      facts([
        ['Node', n.node],
        ['Version', `${n.version} (${n.edition})`],
        ['Uptime', fmtDuration(n.uptime)],
        ['Memory (RSS)', `${fmtBytes(n.memory_used)} of ${fmtBytes(n.memory_total)}`],
        ['Heap', fmtBytes(n.heap_used)],
        ['Load', `${n.load1} ${n.load5} ${n.load15} (${n.cpus} CPUs)`],
        ['Node.js', n.node_version],
        ['PID', String(n.pid)],
      ]),
    );
    const button = (l: Listener, action: 'start' | 'stop' | 'restart', danger = false) =>
      h(
        'button',
        {
          type: 'button',
          class: danger ? 'small danger' : 'small',
          onclick: async () => {
            try {
              if (action !== 'start' && !confirm(`${action} listener ${l.id}? Its clients are disconnected.`)) return;
              await api('POST', `/api/v5/listeners/${enc(l.id)}/${action}`);
              await load();
            } catch (err) {
              ctx.error(err);
            }
          },
        },
        action[0]!.toUpperCase() + action.slice(1),
      );
    fill(
      listeners,
      table(
        ['Listener', 'Bind', 'State', 'Connections', 'Max', ''],
        ls.map((l) => {
          const st: ListenerStatus = l.status ?? { running: l.running ?? false, current_connections: l.current_connections ?? 0, max_connections: l.max_connections ?? '—' };
          return [
            h('span', { class: 'mono' }, l.id),
            h('span', { class: 'mono' }, l.bind),
            h('span', { 'data-testid': `listener-state-${l.id}` }, badge(st.running ? 'running' : l.enable === false ? 'disabled' : 'stopped', st.running ? true : l.enable === false ? null : false)),
            st.current_connections,
            String(st.max_connections),
            h('span', { class: 'actions', 'data-testid': `listener-actions-${l.id}` }, st.running ? [button(l, 'restart'), button(l, 'stop', true)] : button(l, 'start')),
          ];
        }),
      ),
    );
  };
  ctx.every(5000, load);
}
