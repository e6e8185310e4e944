// A publish/subscribe tool: MQTT over WebSocket from the browser to the broker's ws/wss listener,
// with MQTT.js's browser build. It loads only when this page opens (its own chunk, ~340 KB), so the
// rest of the dashboard starts without it.
import type { IClientOptions, MqttClient } from 'mqtt';
import { get } from '../api.js';
import { h } from '../dom.js';
import { messageOf, type PageCtx } from '../page.js';

interface Listener {
  id: string;
  type: string;
  bind: string;
  running: boolean;
}

const MAX_LOG = 200;

/** The broker's WebSocket URL as this browser reaches it: the page's host, the listener's port. */
export function wsUrlFor(listeners: Listener[], pageProtocol: string, pageHost: string): string {
  const secure = pageProtocol === 'https:';
  const pick = listeners.find((l) => l.running && l.type === (secure ? 'wss' : 'ws')) ?? listeners.find((l) => l.running && (l.type === 'ws' || l.type === 'wss'));
  if (!pick) return '';
  const port = pick.bind.slice(pick.bind.lastIndexOf(':') + 1);
  const host = pageHost.includes(':') && !pageHost.startsWith('[') ? `[${pageHost}]` : pageHost;
  // mqtt_path is not in /api/v5/listeners; EMQX's and Outpost's default is /mqtt.
  return `${pick.type}://${host}:${port}/mqtt`;
}

export function pubsubPage(ctx: PageCtx): void {
  let client: MqttClient | null = null;
  const url = h('input', { name: 'url', class: 'wide', placeholder: 'ws://host:8083/mqtt', 'aria-label': 'WebSocket URL' });
  const clientId = h('input', { name: 'clientid', value: `dashboard-${Math.random().toString(16).slice(2, 10)}`, 'aria-label': 'Client ID' });
  const username = h('input', { name: 'mqtt-username', placeholder: 'username (optional)', autocomplete: 'off', 'aria-label': 'MQTT username' });
  const password = h('input', { name: 'mqtt-password', type: 'password', placeholder: 'password (optional)', autocomplete: 'off', 'aria-label': 'MQTT password' });
  const state = h('span', { class: 'badge bad', 'data-testid': 'mqtt-state' }, 'disconnected');
  const connectBtn = h('button', { type: 'submit' }, 'Connect');
  const subTopic = h('input', { name: 'sub-topic', value: '#', 'aria-label': 'Subscribe topic' });
  const subQos = qosSelect('sub-qos');
  const pubTopic = h('input', { name: 'pub-topic', value: 'dashboard/test', 'aria-label': 'Publish topic' });
  const pubQos = qosSelect('pub-qos');
  const retain = h('input', { name: 'retain', type: 'checkbox' });
  const payload = h('textarea', { name: 'payload', rows: 3, 'aria-label': 'Payload' }, '');
  const log = h('ol', { class: 'msglog', 'data-testid': 'msglog' });

  const setState = (text: string, ok: boolean | null) => {
    state.textContent = text;
    state.className = `badge ${ok === null ? 'warn' : ok ? 'ok' : 'bad'}`;
    connectBtn.textContent = client ? 'Disconnect' : 'Connect';
  };
  const note = (kind: string, topic: string, body: string) => {
    log.prepend(h('li', { class: kind }, h('span', { class: 'muted' }, new Date().toLocaleTimeString(), ` ${kind} `), h('span', { class: 'mono' }, topic), ' ', h('span', { class: 'mono' }, body)));
    while (log.childElementCount > MAX_LOG) log.lastElementChild!.remove();
  };
  const close = () => {
    client?.end(true);
    client = null;
    setState('disconnected', false);
  };
  ctx.onLeave(close);

  const connect = async () => {
    if (client) return close();
    ctx.error(null);
    setState('connecting', null);
    const { default: mqtt } = await import('mqtt');
    const opts: IClientOptions = { clientId: clientId.value, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 5 };
    if (username.value) opts.username = username.value;
    if (password.value) opts.password = password.value;
    const c = mqtt.connect(url.value, opts);
    client = c;
    c.on('connect', () => setState('connected', true));
    c.on('close', () => {
      if (client === c) {
        client = null;
        setState('disconnected', false);
      }
    });
    c.on('error', (err) => ctx.error(err));
    c.on('message', (topic, buf, packet) => note('received', topic, new TextDecoder().decode(buf) + (packet.retain ? ' (retained)' : '')));
  };

  const needClient = (): MqttClient | null => {
    if (client?.connected) return client;
    ctx.error('Connect first.');
    return null;
  };

  ctx.root.append(
    h('h2', null, 'Publish / Subscribe'),
    h('p', { class: 'muted' }, 'MQTT over WebSocket from this browser, as a client of its own.'),
    h(
      'form',
      {
        class: 'toolbar',
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          connect().catch((err) => {
            ctx.error(messageOf(err));
            close();
          });
        },
      },
      url,
      clientId,
      username,
      password,
      connectBtn,
      state,
    ),
    h(
      'form',
      {
        class: 'toolbar',
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          const c = needClient();
          if (!c) return;
          const topic = subTopic.value;
          c.subscribe(topic, { qos: Number(subQos.value) as 0 | 1 | 2 }, (err, granted) => {
            if (err) return ctx.error(err);
            const code = granted?.[0]?.qos ?? 0;
            note(code >= 0x80 ? 'refused' : 'subscribed', topic, code >= 0x80 ? `reason 0x${code.toString(16)}` : `QoS ${code}`);
          });
        },
      },
      h('strong', null, 'Subscribe'),
      subTopic,
      subQos,
      h('button', { type: 'submit' }, 'Subscribe'),
    ),
    h(
      'form',
      {
        class: 'pubform',
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          const c = needClient();
          if (!c) return;
          const topic = pubTopic.value;
          const body = payload.value;
          c.publish(topic, body, { qos: Number(pubQos.value) as 0 | 1 | 2, retain: retain.checked }, (err) => {
            if (err) return ctx.error(err);
            note('published', topic, body);
          });
        },
      },
      h('div', { class: 'toolbar' }, h('strong', null, 'Publish'), pubTopic, pubQos, h('label', { class: 'inline' }, retain, ' retain')),
      payload,
      h('button', { type: 'submit' }, 'Publish'),
    ),
    h('h3', null, 'Messages'),
    log,
  );

  void get<Listener[]>('/api/v5/listeners')
    .then((ls) => {
      if (url.value === '') url.value = wsUrlFor(ls, location.protocol, location.hostname);
      if (url.value === '') ctx.error('No MQTT WebSocket listener is running: enable one under [listeners.ws.<name>].');
    })
    .catch(ctx.error);
}

function qosSelect(name: string): HTMLSelectElement {
  return h('select', { name, 'aria-label': 'QoS' }, [0, 1, 2].map((q) => h('option', { value: q }, `QoS ${q}`)));
}
