// The running config, read-only (GET /api/v5/configs, secrets shown as ******): one folding section
// per root with dotted keys, as they are written in the TOML file. Changes go through the file and
// a reload.
import { get } from '../api.js';
import { fill, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

type Tree = Record<string, unknown>;

/** Leaves as [dotted.key, value]; arrays of scalars stay one value. */
function flatten(v: unknown, prefix: string, out: [string, string][]): void {
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v as Tree)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.push([prefix, JSON.stringify(v) ?? 'null']);
  }
}

export function configPage(ctx: PageCtx): void {
  const filter = h('input', { name: 'config-filter', class: 'wide', type: 'search', placeholder: 'filter keys, e.g. mqtt.max', 'aria-label': 'Filter keys', oninput: () => render() });
  const list = h('div', { class: 'config' });
  let all: Tree = {};
  const render = () => {
    const f = filter.value.trim().toLowerCase();
    const sections = Object.entries(all).map(([root, v]) => {
      const rows: [string, string][] = [];
      flatten(v, '', rows);
      const shown = rows.filter(([k]) => !f || `${root}.${k}`.toLowerCase().includes(f));
      if (shown.length === 0) return null;
      return h(
        'details',
        { open: !!f, 'data-root': root },
        h('summary', null, h('span', { class: 'mono' }, root), h('span', { class: 'muted' }, ` ${shown.length}`)),
        table(
          ['Key', 'Value'],
          shown.map(([k, val]) => [h('span', { class: 'mono' }, k || root), h('span', { class: 'mono' }, val)]),
        ),
      );
    });
    fill(list, sections.some(Boolean) ? sections : h('p', { class: 'muted' }, 'No key matches.'));
  };
  ctx.root.append(
    h('h2', null, 'Config'),
    h('p', { class: 'muted' }, 'The running config, read-only; secrets are hidden. Edit the config file and reload (outpostctl reload) to change it.'),
    h('div', { class: 'toolbar' }, filter),
    list,
  );
  // The config changes only on a reload: read it once, and again when asked.
  const load = async () => {
    all = await get<Tree>('/api/v5/configs');
    ctx.error(null);
    render();
  };
  load().catch((err) => ctx.error(err));
}
