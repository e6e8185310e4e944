#!/usr/bin/env node
// Second half of `npm run build` (after tsc): bundles what Outpost starts with into dist/outpost/.
//   main.js + chunks   the daemon and what it loads lazily (API, gateways, bridges), code-split so a
//                      disabled component still costs nothing. Node loads a few big files much faster
//                      than ~400 small ES modules: the daemon's imports take ~45 ms instead of ~110.
//   load-child.cjs     the config loader child (zod, smol-toml, the composed schema), minified.
//   load-child.<node version>-<arch>.blob
//                      a V8 start-up snapshot of that loader with the schema already built; only the
//                      Node that wrote it can read it, so it is named after it (src/config/isolated.ts).
// Start-to-READY went from ~275 to ~225 ms with both (issue 8; scripts/bench, scenario startup).
// Without esbuild (a production-only install that builds elsewhere) nothing is bundled and bin/outpost.js
// runs the unbundled dist/src/runtime/main.js with the plain loader: same behaviour, slower start.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/outpost');
const dist = (p) => join(root, 'dist/src', p);

// Stale chunks (their names carry content hashes) and snapshots of another Node version go.
rmSync(outdir, { recursive: true, force: true });
// Left by builds before the daemon was bundled.
rmSync(join(root, 'dist/src/config/load-child.bundle.mjs'), { force: true });

// Data files the compiled code reads at run time go beside it, so an install that ships dist/ alone
// (scripts/install.sh, the .deb) has them: the OMA object definitions the LwM2M gateway loads.
cpSync(join(root, 'gateways/lwm2m/objects'), join(root, 'dist/gateways/lwm2m/objects'), { recursive: true });

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('bundle: esbuild is not installed; Outpost will run unbundled from dist/src (slower start)');
  process.exit(0);
}
for (const entry of ['runtime/main.js', 'config/load-child.js']) {
  if (!existsSync(dist(entry))) {
    console.error(`bundle: ${dist(entry)} is missing (run tsc first)`);
    process.exit(1);
  }
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Licence notices of the bundled packages stay in the output.
  legalComments: 'eof',
  logLevel: 'warning',
};

await esbuild.build({
  ...common,
  entryPoints: { main: dist('runtime/main.js') },
  outdir,
  format: 'esm',
  splitting: true,
  // Whitespace and syntax only: ~1 MB less idle RSS with every component on (scripts/bench/footprint.mjs,
  // 59.3 -> 58.2 MiB), while names stay readable in stack traces. NODE_OPTIONS=--enable-source-maps maps
  // them back to the TypeScript sources through the linked maps.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  sourcesContent: false,
  // Native addons load from node_modules at run time; unix-dgram is optional and may be absent.
  external: ['better-sqlite3', 'serialport', '@serialport/*', 'unix-dgram'],
  // readable-stream is a userland copy of Node's own streams (with polyfills for browsers), pulled in by
  // bl under mqtt-packet's parser: ~150 KB of the daemon's start-up code for a Duplex Node already has.
  alias: { 'readable-stream': 'node:stream' },
  // The CommonJS packages inside an ES module bundle call require() for Node built-ins.
  banner: { js: "import { createRequire as __outpostRequire } from 'node:module'; const require = __outpostRequire(import.meta.url);" },
});

const loader = join(outdir, 'load-child.cjs');
await esbuild.build({
  ...common,
  entryPoints: [dist('config/load-child.js')],
  outfile: loader,
  // CommonJS: a snapshot entry must be a script, and a script starts a little faster than a module.
  format: 'cjs',
  minify: true,
  // The DTLS addon's loader reads import.meta.url only when it is there and falls back to __filename.
  logOverride: { 'empty-import-meta': 'silent' },
});

const blob = join(outdir, `load-child.${process.version}-${process.arch}.blob`);
try {
  // Without NODE_OPTIONS, as the daemon starts the loader (src/config/isolated.ts): Node reads a snapshot
  // only under the V8 flags it was built with.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', loader], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
} catch (err) {
  rmSync(blob, { force: true });
  console.warn(`bundle: no start-up snapshot of the config loader (${String(err.stderr ?? err.message).trim().split('\n')[0]}); the daemon uses the bundle`);
}
