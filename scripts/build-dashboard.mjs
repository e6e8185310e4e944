#!/usr/bin/env node
// Last step of `npm run build`: bundles the web dashboard (src/dashboard/client, browser TypeScript)
// into dist/dashboard/: index.html plus content-hashed files under assets/ (served with a year's
// cache by src/dashboard/serve.ts). MQTT.js's browser build stays a separate chunk that only the
// publish/subscribe page loads. Without esbuild there is no dashboard: the daemon serves a short
// "not built" page at / and the API as usual.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src/dashboard/client');
const outdir = join(root, 'dist/dashboard');
// A bundle over this is a regression (issue 23: under 1 MB, MQTT.js included).
const BUDGET = 1024 * 1024;

rmSync(outdir, { recursive: true, force: true });

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.warn('build-dashboard: esbuild is not installed; the daemon serves a "dashboard not built" page at /');
  process.exit(0);
}

const assets = join(outdir, 'assets');
mkdirSync(assets, { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: join(src, 'main.ts'), style: join(src, 'style.css') },
  outdir: assets,
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
  minify: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const entry = (name) => {
  const hit = outputs.find(([, o]) => o.entryPoint !== undefined && o.entryPoint.endsWith(name));
  if (!hit) throw new Error(`build-dashboard: no output for ${name}`);
  return basename(hit[0]);
};
const html = readFileSync(join(src, 'index.html'), 'utf8').replace('{{js}}', entry('main.ts')).replace('{{css}}', entry('style.css'));
writeFileSync(join(outdir, 'index.html'), html);

let total = Buffer.byteLength(html);
for (const [file] of outputs) total += statSync(join(root, file)).size;
if (total > BUDGET) {
  console.error(`build-dashboard: ${(total / 1024).toFixed(0)} KiB is over the ${BUDGET / 1024} KiB budget`);
  process.exit(1);
}
