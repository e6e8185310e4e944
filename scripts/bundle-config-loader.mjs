#!/usr/bin/env node
// Bundles the config loader child (dist/src/config/load-child.js with zod, smol-toml and the
// composed schema) into one minified file. The daemon waits for that child before it can start
// (config/isolated.ts), and Node loads one file faster than zod's ~95 ES modules: alone, the child
// answers in ~145 ms instead of ~200 on a 2-core box (medians of 7); inside a daemon start, where it
// shares the cores with the daemon's own module loading, the gain is ~10-50 ms, within run-to-run
// noise. Without the bundle (esbuild missing, e.g. a production-only install that builds
// elsewhere) the daemon runs the unbundled child: same result (test/integration/config-isolated).
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/src/config/load-child.js');
const outfile = join(root, 'dist/src/config/load-child.bundle.mjs');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  rmSync(outfile, { force: true });
  console.warn('bundle-config-loader: esbuild is not installed; the daemon will use the unbundled config loader');
  process.exit(0);
}
if (!existsSync(entry)) {
  console.error(`bundle-config-loader: ${entry} is missing (run tsc first)`);
  process.exit(1);
}
await esbuild.build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Licence notices of the bundled packages (zod, smol-toml) stay in the file.
  legalComments: 'eof',
  logLevel: 'warning',
});
