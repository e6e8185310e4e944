#!/usr/bin/env node
// Thin launcher. `npm run build` compiles to dist/src and bundles the daemon into dist/outpost
// (scripts/bundle.mjs), which starts faster; without the bundle the compiled modules run as they are.
import { existsSync } from 'node:fs';

const bundled = new URL('../dist/outpost/main.js', import.meta.url);
await import(existsSync(bundled) ? bundled.href : '../dist/src/runtime/main.js');
