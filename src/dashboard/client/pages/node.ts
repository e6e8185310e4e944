// The node and its listeners: what the box runs and where it listens.
import { get } from '../api.js';
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
interface Listener {
  id: string;
  type: string;
  bind: string;
  running: boolean;
  current_connections: number;
  max_connections: number | string;
}

export function nodePage(ctx: PageCtx): void {
  const info = h('div');
  const listeners = h('div');
  ctx.root.append(h('h2', null, 'Node'), info, h('h3', null, 'Listeners'), listeners);
  ctx.every(5000, async () => {
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
    fill(listeners, table(['Listener', 'Bind', 'State', 'Connections', 'Max'], ls.map((l) => [h('span', { class: 'mono' }, l.id), h('span', { class: 'mono' }, l.bind), badge(l.running ? 'running' : 'stopped', l.running), l.current_connections, String(l.max_connections)])));
  });
}
