#!/usr/bin/env node
// Prints every config key with its default as a Markdown table (for the README), from the schema
// itself, so the documented defaults cannot drift from the code. Needs `npm run build` first.
import { validateConfig } from '../dist/src/config/load.js';

const defaults = validateConfig({});
const rows = [];
function walk(prefix, v) {
  if (v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) rows.push([prefix, '{}']);
    for (const k of keys) walk(prefix ? `${prefix}.${k}` : k, v[k]);
  } else rows.push([prefix, JSON.stringify(v)]);
}
walk('', defaults);
console.log('| key | default |\n|---|---|');
for (const [k, v] of rows) console.log(`| \`${k}\` | \`${v.replace(/\|/g, '\\|')}\` |`);
