// Devices and pairing (issue 21's /api/v5/devices): paired and pending sensors with approve and
// unpair, a pair form that shows the generated password once with the sensor config (the JSON
// `outpostctl pair` writes) and a QR code of it for a phone, and the permit-join window with a live
// countdown. qrcode-generator is bundled into this page's chunk only.
import qrcode from 'qrcode-generator';
import { api, enc, get } from '../api.js';
import { badge, fill, fmtTime, h, table } from '../dom.js';
import type { PageCtx } from '../page.js';

type Protocol = 'coap' | 'mqttsn' | 'mqtt';
interface TopicId {
  id: number;
  topic: string;
}
interface Device {
  name: string;
  protocol: Protocol;
  client_id: string;
  username: string;
  scope: string;
  topic_ids: TopicId[];
  created_at: string;
  state: 'paired' | 'pending';
}
interface PermitJoin {
  open: boolean;
  remaining_s: number;
  until: string | null;
}

const BASE = '/api/v5/devices';
const DEFAULT_PORT: Record<Protocol, number> = { coap: 5683, mqttsn: 1884, mqtt: 1883 };
const SVG = 'http://www.w3.org/2000/svg';

function portOf(bind: unknown): number | null {
  const m = typeof bind === 'string' ? /:(\d+)$/.exec(bind) : null;
  return m ? Number(m[1]) : null;
}

/** The port the device should talk to: the running listener's, else the protocol's default (as the CLI does). */
async function gatewayPort(protocol: Protocol): Promise<number> {
  try {
    if (protocol === 'mqtt') {
      const ls = await get<{ id: string; bind: unknown }[]>('/api/v5/listeners');
      return portOf(ls.find((l) => l.id === 'tcp:default')?.bind) ?? DEFAULT_PORT.mqtt;
    }
    const gs = await get<{ name: string; listeners?: { bind: unknown }[] }[]>('/api/v5/gateways');
    return portOf(gs.find((g) => g.name === protocol)?.listeners?.[0]?.bind) ?? DEFAULT_PORT[protocol];
  } catch {
    return DEFAULT_PORT[protocol];
  }
}

/** A QR code as SVG built with DOM calls (no innerHTML, nothing the CSP has to allow). */
function qrSvg(text: string): SVGSVGElement {
  const qr = qrcode(0, 'M');
  // Byte mode keeps the low 8 bits of each char: hand it the UTF-8 bytes (a scope may be non-ASCII).
  qr.addData(String.fromCharCode(...new TextEncoder().encode(text)), 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  const size = n + quiet * 2;
  let d = '';
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'QR code of the sensor config');
  svg.dataset.testid = 'device-qr';
  svg.dataset.modules = String(n);
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', String(size));
  bg.setAttribute('height', String(size));
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}


export function devicesPage(ctx: PageCtx): void {
  const list = h('div');
  const result = h('div', { 'data-testid': 'pair-result' });
  const permitState = h('span', { 'data-testid': 'permit-state' }, '…');
  const countdown = h('span', { class: 'mono', 'data-testid': 'permit-countdown' });
  let closesAt = 0;

  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn();
      ctx.error(null);
      await load();
    } catch (err) {
      ctx.error(err);
    }
  };

  // The countdown ticks locally every half second from the server's remaining_s; each poll resyncs it.
  const tick = () => {
    const left = Math.max(0, Math.ceil((closesAt - Date.now()) / 1000));
    fill(permitState, left > 0 ? badge('open', null) : badge('closed', true));
    countdown.textContent = left > 0 ? `${left} s left` : '';
  };
  const timer = setInterval(tick, 500);
  ctx.onLeave(() => clearInterval(timer));
  const showPermit = (s: PermitJoin) => {
    closesAt = s.open ? Date.now() + s.remaining_s * 1000 : 0;
    tick();
  };

  const load = async () => {
    const [devices, permit] = await Promise.all([get<{ data: Device[] }>(BASE), get<PermitJoin>(`${BASE}/permit_join`)]);
    showPermit(permit);
    const rows = devices.data.map((d) => [
      h('span', { class: 'mono', 'data-testid': `device-${d.name}` }, d.name),
      d.protocol,
      h('span', { 'data-testid': `device-state-${d.name}` }, badge(d.state, d.state === 'paired' ? true : null)),
      h('span', { class: 'mono' }, d.client_id),
      h('span', { class: 'mono' }, d.scope),
      d.topic_ids.map((t) => `${t.id}=${t.topic}`).join(' '),
      fmtTime(d.created_at),
      h(
        'span',
        { class: 'actions' },
        d.state === 'pending' && h('button', { type: 'button', class: 'small', onclick: act(() => api('POST', `${BASE}/${enc(d.name)}/approve`)) }, 'Approve'),
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            onclick: () => {
              if (confirm(`Unpair ${d.name}? Its credentials and scope are removed.`)) void act(() => api('DELETE', `${BASE}/${enc(d.name)}`))();
            },
          },
          'Unpair',
        ),
      ),
    ]);
    fill(list, table(['Name', 'Protocol', 'State', 'Client ID', 'Scope', 'Topic IDs', 'Created', ''], rows, 'No devices paired.'));
  };

  const protocol = h('select', { name: 'device-protocol', 'aria-label': 'Protocol' }, ['mqtt', 'coap', 'mqttsn'].map((p) => h('option', { value: p }, p)));
  const name = h('input', { name: 'device-name', placeholder: 'name, e.g. greenhouse-1', required: true, autocomplete: 'off', 'aria-label': 'Name' });
  const scope = h('input', { name: 'device-scope', class: 'wide', placeholder: 'scope (default devices/NAME/#)', autocomplete: 'off', 'aria-label': 'Scope' });
  // MQTT-SN CONNECT carries no password: the gateway's clientinfo_override supplies one, so such a
  // device must be paired with that password (the CLI's --password-stdin); elsewhere leave it generated.
  const password = h('input', { name: 'device-secret', type: 'password', placeholder: 'password (default: generated)', autocomplete: 'new-password', 'aria-label': 'Password' });
  const pairButton = h('button', { type: 'submit' }, 'Pair');
  const pairForm = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        pairButton.disabled = true;
        void act(async () => {
          const p = protocol.value as Protocol;
          const body: Record<string, string> = { name: name.value.trim(), protocol: p };
          if (scope.value.trim()) body.scope = scope.value.trim();
          if (password.value !== '') body.password = password.value;
          const [d, port] = await Promise.all([api<Device & { password: string }>('POST', BASE, body), gatewayPort(p)]);
          // The same fields `outpostctl pair` writes to NAME.json.
          const config = { name: d.name, protocol: d.protocol, host: location.hostname, port, client_id: d.client_id, username: d.username, password: d.password, scope: d.scope, topic_ids: d.topic_ids };
          const text = JSON.stringify(config, null, 2);
          fill(
            result,
            h('h3', null, `Paired ${d.name}`),
            h('p', { class: 'error' }, 'The password is shown this once; the daemon keeps only its hash. Copy the config or scan the code now.'),
            h('div', { class: 'pair-out' }, h('div', null, h('p', null, 'Password: ', h('code', { 'data-testid': 'device-password' }, d.password)), h('pre', { class: 'payload', 'data-testid': 'device-config' }, text)), qrSvg(JSON.stringify(config))),
            d.topic_ids.length > 0 &&
              h('p', { class: 'muted', 'data-testid': 'device-predefined' }, `MQTT-SN predefined topic ids, taken by the gateway at the device's next CONNECT: ${d.topic_ids.map((t) => `${t.id} = ${t.topic}`).join(', ')}`),
            h('button', { type: 'button', class: 'small', onclick: () => fill(result) }, 'Hide'),
          );
          name.value = '';
          scope.value = '';
          password.value = '';
        })().finally(() => (pairButton.disabled = false));
      },
    },
    protocol,
    name,
    scope,
    password,
    pairButton,
  );

  const seconds = h('input', { name: 'permit-seconds', type: 'number', min: 1, max: 3600, value: 120, 'aria-label': 'Seconds', class: 'narrow' });
  const permitForm = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void act(async () => showPermit(await api<PermitJoin>('POST', `${BASE}/permit_join`, { seconds: Number(seconds.value) })))();
      },
    },
    'Permit-join: ',
    permitState,
    countdown,
    seconds,
    h('button', { type: 'submit' }, 'Open'),
    h('button', { type: 'button', onclick: act(async () => showPermit(await api<PermitJoin>('POST', `${BASE}/permit_join`, { seconds: 0 }))) }, 'Close'),
  );

  ctx.root.append(
    h('h2', null, 'Devices'),
    h('p', { class: 'muted' }, 'Paired sensors: each is a user confined to its scope. While permit-join is open, an unknown client with a username and password is admitted as pending; approve it or unpair it.'),
    permitForm,
    list,
    h('h3', null, 'Pair a device'),
    pairForm,
    h('p', { class: 'muted small-text' }, 'MQTT-SN: give the password of [gateway.mqttsn.clientinfo_override] (its CONNECT carries none).'),
    result,
  );
  ctx.every(3000, load);
}
