#!/usr/bin/env node
// Interop check of the LwM2M gateway with a client nobody here wrote: Eclipse Wakaama's
// lwm2mclient, built from ../shared/peers (build-wakaama.sh). Starts the built daemon (dist/) on
// 127.0.0.1 with ephemeral ports, runs the client against it and drives it through MQTT as an EMQX
// application would: wait for up/register, read /3/0/0 via dn, observe /3/0/9 (battery, changed by the client's -c) and
// wait for a notification, then de-register. Not part of `npm test`: a fresh clone has no ../shared.
//   usage: npm run interop [-- --client lwm2mclient-1.0] [-- --block 16] [-- --peers DIR] [-- --out DIR]
// --block N makes the client use N-byte CoAP blocks (its -S), so reads and registers go block-wise.
// The *_tinydtls clients run the same steps over the gateway's DTLS listener with a pre-shared key
// from [psk_authentication] (tinydtls offers only TLS_PSK_WITH_AES_128_CCM_8); their bootstrap step
// is left out (the gateway's bootstrap server hands out NoSec accounts on the plain listener).
// Exit code 0 when every step passed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};

function findPeers() {
  const given = opt('peers', process.env.OUTPOST_PEERS);
  if (given) return given;
  let dir = ROOT;
  for (let i = 0; i < 5; i++) {
    const cand = join(dir, 'shared', 'peers');
    if (existsSync(join(cand, 'build-wakaama.sh'))) return cand;
    dir = dirname(dir);
  }
  return null;
}

const out = opt('out', join(tmpdir(), 'outpost-interop', 'wakaama'));
const blockArgs = opt('block', null) ? ['-S', opt('block')] : [];
const clients = opt('client', null) ? [opt('client')] : ['lwm2mclient', 'lwm2mclient-1.0', 'lwm2mclient_tinydtls', 'lwm2mclient_tinydtls-1.0'];
const PSK_IDENTITY = 'interop-dev';
// tinydtls holds at most 16-byte keys (DTLS_PSK_MAX_KEY_LEN): a longer one ends its handshake with internal_error.
const PSK_SECRET = 'interop-secret16';
const log = (...a) => console.log(`[interop ${new Date().toISOString().slice(11, 19)}]`, ...a);

if (!clients.every((c) => existsSync(join(out, 'bin', c)))) {
  const peers = findPeers();
  if (!peers) {
    console.error('interop: no shared/peers/build-wakaama.sh found (pass --peers DIR); skipping');
    process.exit(2);
  }
  log(`building Wakaama into ${out} (about 1-2 minutes)`);
  const b = spawnSync('bash', [join(peers, 'build-wakaama.sh'), out, '--lwm2m10'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const MAIN = existsSync(join(ROOT, 'dist/outpost/main.js')) ? join(ROOT, 'dist/outpost/main.js') : join(ROOT, 'dist/src/runtime/main.js');
const results = [];

async function run(clientName) {
const bin = join(out, 'bin', clientName);
const dtls = clientName.includes('tinydtls');
log(`--- ${clientName} ---`);
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-interop-'));
const configPath = join(dataDir, 'outpost.toml');
const pskFile = join(dataDir, 'psk.txt');
writeFileSync(pskFile, `${PSK_IDENTITY}:${PSK_SECRET}\n`);
const dtlsConfig = `
[psk_authentication]
enable = true
init_file = "${pskFile}"
[gateway.lwm2m.listeners.dtls.default]
bind = "127.0.0.1"
port = 0
`;
writeFileSync(
  configPath,
  `
[mqtt]
bind = "127.0.0.1"
port = 0
[api]
port = 0
[log]
level = "${process.env.OUTPOST_INTEROP_LOG ?? 'info'}"
[gateway.lwm2m]
enable = true
[gateway.lwm2m.bootstrap]
enable = true
allow_unknown = true
[gateway.lwm2m.listeners.udp.default]
bind = "127.0.0.1"
port = 0
${dtls ? dtlsConfig : ''}`,
);

const children = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);

async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let daemonOut = '';
const daemon = spawn(process.execPath, [MAIN, '--config', configPath, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
children.push(daemon);
daemon.stdout.on('data', (b) => (daemonOut += b));
daemon.stderr.on('data', (b) => (daemonOut += b));
const step = (name, ok, detail) => {
  results.push({ name: `${clientName}: ${name}`, ok });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
};

let client;
let mq;
try {
  const rt = await until(() => {
    const f = join(dataDir, 'runtime.json');
    if (!existsSync(f)) return null;
    const j = JSON.parse(readFileSync(f, 'utf8'));
    return j.pid === daemon.pid ? j : null;
  }, 15000, 'the daemon');
  const lwPort = rt.listeners[dtls ? 'lwm2m:dtls:default' : 'lwm2m:udp:default'];
  const mqttPort = rt.listeners['mqtt:tcp'];
  log(`daemon up: mqtt ${mqttPort}, lwm2m ${dtls ? 'dtls' : 'udp'} ${lwPort}`);
  // tinydtls takes the identity as a string and the key in hex.
  const pskArgs = dtls ? ['-i', PSK_IDENTITY, '-s', Buffer.from(PSK_SECRET).toString('hex')] : [];

  const msgs = [];
  mq = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'interop-app', reconnectPeriod: 0 });
  await new Promise((r, j) => (mq.once('connect', r), mq.once('error', j)));
  mq.on('message', (topic, payload) => msgs.push({ topic, json: JSON.parse(payload.toString()) }));
  await mq.subscribeAsync('lwm2m/+/up/#');

  const ep = 'ep1';
  let clientOut = '';
  // -4 IPv4, -h/-p the server, -n the endpoint name, -l a local port of its own.
  client = spawn(bin, ['-4', '-h', '127.0.0.1', '-p', String(lwPort), '-n', ep, '-l', '0', '-t', '60', '-c', ...pskArgs, ...blockArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(client);
  client.stdout.on('data', (b) => (clientOut += b));
  client.stderr.on('data', (b) => (clientOut += b));

  const reg = await until(() => msgs.find((m) => m.topic === `lwm2m/${ep}/up/register`), 15000, 'up/register').catch((e) => e);
  step('register', !(reg instanceof Error), reg instanceof Error ? reg.message : JSON.stringify(reg.json));

  const ask = async (reqID, msgType, data) => {
    await mq.publishAsync(`lwm2m/${ep}/dn/cmd`, JSON.stringify({ reqID, msgType, data }));
    return until(() => msgs.find((m) => m.topic === `lwm2m/${ep}/up/resp` && m.json.reqID === reqID && m.json.msgType !== 'ack'), 15000, `answer to ${msgType}`);
  };

  const read = await ask(1, 'read', { path: '/3/0/0' }).catch((e) => e);
  step('read /3/0/0', !(read instanceof Error) && read.json.data.code === '2.05', read instanceof Error ? read.message : JSON.stringify(read.json));

  const readObj = await ask(2, 'read', { path: '/3/0' }).catch((e) => e);
  step('read /3/0', !(readObj instanceof Error) && readObj.json.data.code === '2.05', readObj instanceof Error ? readObj.message : `${readObj.json.data.content?.length} resources, e.g. ${JSON.stringify(readObj.json.data.content?.slice(0, 3))}`);

  const disc = await ask(3, 'discover', { path: '/3/0' }).catch((e) => e);
  step('discover /3/0', !(disc instanceof Error) && disc.json.data.code === '2.05', disc instanceof Error ? disc.message : JSON.stringify(disc.json.data.content?.slice(0, 4)));

  const write = await ask(4, 'write', { path: '/1/0/1', type: 'Integer', value: 120 }).catch((e) => e);
  step('write /1/0/1 = 120', !(write instanceof Error) && write.json.data.code === '2.04', write instanceof Error ? write.message : JSON.stringify(write.json.data));

  const obs = await ask(5, 'observe', { path: '/3/0/9' }).catch((e) => e);
  step('observe /3/0/9', !(obs instanceof Error) && obs.json.data.code === '2.05', obs instanceof Error ? obs.message : JSON.stringify(obs.json.data));
  // With -c Wakaama changes its battery level (3/0/9) every 10-30 s: a notification follows.
  const note = await until(() => msgs.find((m) => m.topic === `lwm2m/${ep}/up/notify` && m.json.reqID === 5), 40000, 'a notification').catch((e) => e);
  step('notify /3/0/9', !(note instanceof Error), note instanceof Error ? note.message : JSON.stringify(note.json));

  const exec = await ask(6, 'execute', { path: '/3/0/4' }).catch((e) => e);
  step('execute /3/0/4 (reboot)', !(exec instanceof Error) && exec.json.data.code === '2.04', exec instanceof Error ? exec.message : JSON.stringify(exec.json.data));

  // A factory-fresh client (-b): the gateway's bootstrap server gives it a NoSec account on the
  // gateway itself, then it registers there.
  if (!dtls) {
  let bsOut = '';
  const bs = spawn(bin, ['-4', '-h', '127.0.0.1', '-p', String(lwPort), '-n', 'bs-ep', '-l', '0', '-t', '60', '-b', ...blockArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(bs);
  bs.stdout.on('data', (b) => (bsOut += b));
  bs.stderr.on('data', (b) => (bsOut += b));
  const bsReg = await until(() => msgs.find((m) => m.topic === 'lwm2m/bs-ep/up/register'), 20000, 'register after bootstrap').catch((e) => e);
  step('bootstrap (-b) then register', !(bsReg instanceof Error), bsReg instanceof Error ? bsReg.message : JSON.stringify(bsReg.json));
  if (bsReg instanceof Error) log('bootstrap client output (tail):\n' + bsOut.split('\n').slice(-40).join('\n'));
  bs.kill('SIGTERM');
  }

  if (results.some((r) => !r.ok)) {
    log('client output (tail):\n' + clientOut.split('\n').slice(-40).join('\n'));
    log('daemon output (tail):\n' + daemonOut.split('\n').slice(-20).join('\n'));
  }
} catch (err) {
  step('run', false, err.message);
  log('daemon output (tail):\n' + daemonOut.split('\n').slice(-30).join('\n'));
} finally {
  mq?.end(true);
  client?.kill('SIGTERM');
  daemon.kill('SIGTERM');
  await new Promise((r) => (daemon.exitCode !== null ? r() : daemon.once('exit', r)));
  rmSync(dataDir, { recursive: true, force: true });
}
}

for (const c of clients) await run(c);
const failed = results.filter((r) => !r.ok).length;
log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
