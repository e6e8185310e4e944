#!/usr/bin/env node
// Builds Outpost's optional native addons (today: the DTLS engine in gateways/transport/dtls/native)
// with node-gyp, against the headers of the Node that runs this script. Run by npm on install
// (package.json "install"), by `npm run build:native`, and by the packaging scripts with extra
// node-gyp arguments (e.g. --arch=arm64 --nodedir=<arm64 headers>), which are passed through.
//
// Without a compiler the build fails; that is not fatal: one warning, exit 0, and DTLS listeners
// refuse to start naming the fix. `--strict` (packaging, CI) makes a failed build fail the run.
// OUTPOST_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = ['gateways/transport/dtls/native'];
const argv = process.argv.slice(2);
const strict = argv.includes('--strict');
const passThrough = argv.filter((a) => a !== '--strict');

function nodeGyp() {
  // npm hands its bundled node-gyp to lifecycle scripts; outside npm, find npm's copy or a local one.
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed locally */
  }
  return candidates.find((c) => c && existsSync(c));
}

function warn(msg) {
  process.stderr.write(
    `outpost: WARNING: ${msg}\n` +
      'outpost: DTLS listeners (coaps, LwM2M/MQTT-SN over DTLS) stay unavailable; everything else works.\n' +
      'outpost: to enable them install python3, make and g++ and run `npm run build:native`.\n',
  );
  process.exit(strict ? 1 : 0);
}

if (process.env.OUTPOST_SKIP_NATIVE === '1') process.exit(0);
const gyp = nodeGyp();
if (!gyp) warn('node-gyp not found, native DTLS addon not built');

const args = ['rebuild', ...passThrough];
// Use the headers next to this Node (distribution packages and the official tarballs ship them in
// <prefix>/include/node) instead of downloading them, unless a nodedir is given.
const prefix = resolve(dirname(process.execPath), '..');
if (!passThrough.some((a) => a.startsWith('--nodedir')) && !process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}

for (const dir of ADDONS) {
  const cwd = join(root, dir);
  const r = spawnSync(process.execPath, [gyp, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => /error|not found|ERR!/i.test(l) && !/gyp ERR! (System|command|cwd|node -v|node-gyp -v|not ok)/.test(l)).slice(-6).join('\n');
    warn(`building the native addon in ${dir} failed${tail ? `:\n${tail}` : ` (${r.error?.message ?? `exit ${r.status}`})`}`);
  }
}
