// outpostctl commands for sensor pairing (issue 21): pair, unpair, devices, permit-join. Pairing
// registers the device over the HTTP API, then writes what to flash onto it: a JSON file and a C
// header rendered from firmware-config/templates with scripts/render-template.mjs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, EXIT } from './client.js';
import { act, enc, intArg, json, type Ctx, type Row } from './context.js';
import { table } from './format.js';
import { readSecret } from './prompt.js';

const PROTOCOLS = ['coap', 'mqttsn', 'mqtt'] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** Relative to dist/src/cli/ (and src/cli/ under tsx): the package root holds both folders. */
const ROOT = new URL('../../../', import.meta.url);
const TEMPLATES = new URL('firmware-config/templates/', ROOT);
const DEFAULT_PORT: Record<Protocol, number> = { coap: 5683, mqttsn: 1884, mqtt: 1883 };
/** EMQX's DTLS ports (CoAP 5684) and the MQTT-SN convention (1885), when no dtls listener runs. */
const DEFAULT_DTLS_PORT: Record<'coap' | 'mqttsn', number> = { coap: 5684, mqttsn: 1885 };
/** coap and mqttsn have sensor templates of their own; MQTT devices use the generic one. */
const TEMPLATE: Record<Protocol, string> = { coap: 'coap-sensor.h.tmpl', mqttsn: 'mqttsn-sensor.h.tmpl', mqtt: 'device-config.h.tmpl' };

interface Renderer {
  renderTemplate(text: string, values: Record<string, string | number>, source?: string): string;
}

interface PairOptions {
  name: string;
  out?: string;
  host?: string;
  port?: string;
  scope?: string;
  password?: string;
  passwordStdin?: boolean;
  pskKey?: string;
}

interface Paired {
  name: string;
  protocol: Protocol;
  client_id: string;
  username: string;
  password: string;
  scope: string;
  topic_ids: { id: number; topic: string }[];
  /** DTLS PSK (coap, mqttsn): the identity, and the 16-byte key in hex, shown once at pairing. */
  psk_identity: string | null;
  psk_key?: string;
}

function portOf(bind: unknown): number | null {
  const m = typeof bind === 'string' ? /:(\d+)$/.exec(bind) : null;
  return m ? Number(m[1]) : null;
}

/** The ports the device should talk to: the running listeners', else the protocol's defaults. */
async function gatewayPorts(c: Ctx, protocol: Protocol): Promise<{ port: number; dtlsPort: number | null }> {
  if (protocol === 'mqtt') {
    const ls = (await c.api.request('GET', '/api/v5/listeners')).body as Row[];
    return { port: portOf(ls.find((l) => l.id === 'tcp:default')?.bind) ?? DEFAULT_PORT.mqtt, dtlsPort: null };
  }
  const gs = (await c.api.request('GET', '/api/v5/gateways')).body as Row[];
  const ls = (gs.find((x) => x.name === protocol)?.listeners as Row[] | undefined) ?? [];
  const udp = ls.find((l) => l.type === 'udp') ?? ls.find((l) => l.type !== 'dtls');
  const dtls = ls.find((l) => l.type === 'dtls');
  return { port: portOf(udp?.bind) ?? DEFAULT_PORT[protocol], dtlsPort: portOf(dtls?.bind) ?? DEFAULT_DTLS_PORT[protocol] };
}

/** The key as the body of a C array initializer: "0x1f, 0x2e, ...". */
export function cByteArray(hex: string): string {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new CliError('the daemon returned a malformed PSK key', EXIT.ERROR);
  return (hex.match(/../g) ?? []).map((b) => `0x${b.toLowerCase()}`).join(', ');
}

/** The DTLS values of a coap/mqttsn template. */
function pskValues(d: Paired, dtlsPort: number): Record<string, string | number> {
  if (d.psk_identity === null || d.psk_key === undefined) throw new CliError('the daemon returned no DTLS pre-shared key for this device', EXIT.ERROR);
  return { dtls_port: dtlsPort, psk_identity: d.psk_identity, psk_key_bytes: cByteArray(d.psk_key) };
}

function topicUnder(scope: string, leaf: string, name: string): string {
  return scope.endsWith('/#') ? `${scope.slice(0, -2)}/${leaf}` : `devices/${name}/${leaf}`;
}

/** The values each template asks for (the renderer refuses missing and unused ones). */
export function templateValues(d: Paired, host: string, port: number, dtlsPort: number | null = null): Record<string, string | number> {
  const publish = topicUnder(d.scope, 'telemetry', d.name);
  const command = topicUnder(d.scope, 'cmd', d.name);
  if (d.protocol === 'coap') {
    return { gateway_host: host, gateway_port: port, client_id: d.client_id, username: d.username, password: d.password, publish_topic: publish, subscribe_topic: command, heartbeat_s: 30, ...pskValues(d, dtlsPort ?? DEFAULT_DTLS_PORT.coap) };
  }
  if (d.protocol === 'mqttsn') {
    const [up, down] = d.topic_ids;
    if (!up || !down) throw new CliError('the daemon assigned no MQTT-SN topic ids', EXIT.ERROR);
    return { gateway_host: host, gateway_port: port, gateway_id: 1, client_id: d.client_id, keepalive_s: 300, publish_topic_id: up.id, publish_topic: up.topic, command_topic_id: down.id, command_topic: down.topic, ...pskValues(d, dtlsPort ?? DEFAULT_DTLS_PORT.mqttsn) };
  }
  return { protocol: d.protocol, gateway_host: host, gateway_port: port, client_id: d.client_id, username: d.username, password: d.password, scope: d.scope, publish_topic: publish, subscribe_topic: command, keepalive_s: 60 };
}

async function writeConfig(d: Paired, host: string, port: number, dtlsPort: number | null, out: string): Promise<string[]> {
  const renderer = (await import(new URL('scripts/render-template.mjs', ROOT).href)) as Renderer;
  const file = TEMPLATE[d.protocol];
  const header = renderer.renderTemplate(readFileSync(new URL(file, TEMPLATES), 'utf8'), templateValues(d, host, port, dtlsPort), file);
  mkdirSync(out, { recursive: true });
  const jsonPath = join(out, `${d.name}.json`);
  const hPath = join(out, `${d.name}.h`);
  const config = {
    name: d.name,
    protocol: d.protocol,
    host,
    port,
    client_id: d.client_id,
    username: d.username,
    password: d.password,
    scope: d.scope,
    topic_ids: d.topic_ids,
    // DTLS with a pre-shared key: coaps:// or MQTT-SN over DTLS at dtls_port; the key is hex.
    ...(d.psk_identity !== null && d.psk_key !== undefined ? { dtls_port: dtlsPort, psk_identity: d.psk_identity, psk_key: d.psk_key } : {}),
  };
  // The files hold the device's secret: readable by the owner only.
  writeFileSync(jsonPath, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  writeFileSync(hPath, header, { mode: 0o600 });
  return [jsonPath, hPath];
}


export function registerDeviceCommands(program: Command): void {
  program
    .command('pair <protocol>')
    .description('pair a sensor (coap, mqttsn or mqtt): create its credentials and scope, write its config (JSON and C header)')
    .requiredOption('--name <name>', 'device name (also its client id and username)')
    .option('--out <dir>', 'where to write NAME.json and NAME.h', '.')
    .option('--host <host>', 'address the device reaches the gateway at (default: the API host)')
    .option('--port <port>', "gateway port (default: the running listener's)")
    .option('--scope <filter>', 'topic filter the device is confined to (default devices/NAME/#)')
    .option('--password <password>', 'use this password instead of a generated one (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin (MQTT-SN: the [gateway.mqttsn.clientinfo_override] password)')
    .option('--psk-key <hex>', 'DTLS pre-shared key in hex (coap, mqttsn) for firmware that has one already (default: 16 random bytes)')
    .action(
      act(async (c, protocol: string, o: PairOptions) => {
        if (!(PROTOCOLS as readonly string[]).includes(protocol)) throw new CliError(`protocol must be one of ${PROTOCOLS.join(', ')}`, EXIT.USAGE);
        const p = protocol as Protocol;
        const ports = await gatewayPorts(c, p);
        const port = o.port !== undefined ? intArg(o.port, '--port', 1, 65535) : ports.port;
        const host = o.host ?? new URL(c.api.baseUrl).hostname;
        // MQTT-SN CONNECT carries no password: the gateway's clientinfo_override supplies one, so the
        // device's password must be that one. Elsewhere the daemon generates a random one.
        const password = o.password !== undefined || o.passwordStdin ? await readSecret({ value: o.password, fromStdin: o.passwordStdin, prompt: 'Password: ' }) : undefined;
        const d = (await c.api.request('POST', '/api/v5/devices', { name: o.name, protocol: p, ...(o.scope ? { scope: o.scope } : {}), ...(password !== undefined ? { password } : {}), ...(o.pskKey !== undefined ? { psk_key: o.pskKey } : {}) })).body as Paired;
        const files = await writeConfig(d, host, port, ports.dtlsPort, o.out ?? '.');
        if (c.json) return json(c, { device: { ...d, password: undefined, psk_key: undefined }, files });
        c.print(`Paired ${d.name} (${d.protocol}), scope ${d.scope}${d.topic_ids.length ? ', topic ids ' + d.topic_ids.map((t) => `${t.id}=${t.topic}`).join(' ') : ''}\nWrote ${files.join(' and ')} (they hold the password${d.psk_key !== undefined ? ` and the DTLS key of PSK identity ${d.psk_identity ?? ''}` : ''}; neither is shown again)`);
        // The MQTT-SN gateway reads predefined ids from its config only (for now): say what to add.
        if (d.topic_ids.length) c.print(`MQTT-SN predefined topic ids (the gateway reads them from the registry at the device's next CONNECT): ${d.topic_ids.map((t) => `${t.id} = ${t.topic}`).join(', ')}`);
      }),
    );

  program
    .command('unpair <name>')
    .description('remove a device, its credentials and its scope')
    .action(
      act(async (c, name: string) => {
        await c.api.request('DELETE', `/api/v5/devices/${enc(name)}`);
        c.print(c.json ? JSON.stringify({ ok: true, name }) : `Unpaired ${name}.`);
      }),
    );

  const devices = program.command('devices').description('paired and pending devices');
  devices
    .command('list', { isDefault: true })
    .description('list devices (pending ones were admitted during a permit-join window)')
    .action(
      act(async (c) => {
        const l = ((await c.api.request('GET', '/api/v5/devices')).body as { data: Row[] }).data;
        if (c.json) return json(c, l);
        if (l.length === 0) return c.print('No devices.');
        c.print(table(['NAME', 'PROTOCOL', 'STATE', 'CLIENTID', 'PSK IDENTITY', 'SCOPE', 'TOPIC IDS', 'CREATED'], l.map((d) => [d.name as string, d.protocol as string, d.state as string, d.client_id as string, (d.psk_identity as string | null) ?? '-', d.scope as string, (d.topic_ids as { id: number; topic: string }[]).map((t) => `${t.id}=${t.topic}`).join(' '), d.created_at as string])));
      }),
    );
  devices
    .command('approve <name>')
    .description('mark a device admitted by permit-join as paired')
    .action(
      act(async (c, name: string) => {
        const d = (await c.api.request('POST', `/api/v5/devices/${enc(name)}/approve`)).body as Row;
        c.print(c.json ? JSON.stringify(d, null, 2) : `Approved ${name}.`);
      }),
    );

  program
    .command('permit-join [seconds]')
    .description('admit unknown devices with credentials for SECONDS (0 closes; none shows the window)')
    .action(
      act(async (c, seconds?: string) => {
        const s = (seconds === undefined ? (await c.api.request('GET', '/api/v5/devices/permit_join')).body : (await c.api.request('POST', '/api/v5/devices/permit_join', { seconds: intArg(seconds, 'seconds', 0, 3600) })).body) as Row;
        if (c.json) return json(c, s);
        c.print(s.open ? `Permit-join open for ${String(s.remaining_s)} s (until ${String(s.until)}).` : 'Permit-join closed.');
      }),
    );
}
