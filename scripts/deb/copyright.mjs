#!/usr/bin/env node
// Writes debian/copyright (DEP-5) for the .deb: Outpost itself under Apache-2.0, and one paragraph
// per npm package shipped in node_modules with the licence its package.json declares, plus one
// stand-alone License paragraph per licence with the text of the first package that carries it.
//   node scripts/deb/copyright.mjs <staged node_modules dir>  > usr/share/doc/outpost/copyright
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const nm = process.argv[2];
if (!nm) throw new Error('usage: copyright.mjs <node_modules dir>');

/** Every package directory under nm (scoped and nested), as absolute paths. */
function packages(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.name.startsWith('@')) { out.push(...packages(p)); continue; }
    if (existsSync(join(p, 'package.json'))) out.push(p);
    out.push(...packages(join(p, 'node_modules')));
  }
  return out;
}

const text = (s) => s.replace(/\r/g, '').split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\s+$/, '')}`)).join('\n');
const licenceFile = (dir) => readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$|-)/i.test(f));
const spdx = (pj) => {
  let l = pj.license ?? (Array.isArray(pj.licenses) ? pj.licenses.map((x) => x.type ?? x).join(' or ') : pj.licenses?.type);
  if (typeof l !== 'string' || l === '') l = 'UNKNOWN';
  // DEP-5 spells alternatives with "or" and groups without parentheses.
  return l.replace(/^\((.*)\)$/, '$1').replace(/ OR /g, ' or ').replace(/ AND /g, ' and ');
};
const holder = (pj) => {
  const a = pj.author;
  const name = typeof a === 'string' ? a.replace(/\s*[<(].*$/, '') : a?.name;
  return name ? `${name} and the ${pj.name} contributors` : `the ${pj.name} contributors`;
};

const paras = [];
const texts = new Map();
const root = join(nm, '..');
for (const dir of packages(nm).sort()) {
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const lic = spdx(pj);
  const lf = licenceFile(dir);
  paras.push(
    `Files: usr/lib/outpost/${relative(root, dir)}/*\nCopyright: ${holder(pj)}\nLicense: ${lic}` +
      (lf ? `\nComment: ${pj.name} ${pj.version}; full notice in usr/lib/outpost/${relative(root, join(dir, lf))}` : `\nComment: ${pj.name} ${pj.version}`),
  );
  for (const id of lic.split(/ or | and /)) {
    if (!texts.has(id) && lf) texts.set(id, readFileSync(join(dir, lf), 'utf8').trim());
  }
}

const out = [
  `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: outpost\nSource: https://github.com/outpost-iot/outpost`,
  `Files: *\nCopyright: the Outpost authors\nLicense: Apache-2.0`,
  ...paras,
];
const ids = new Set(['Apache-2.0', ...[...texts.keys()]]);
for (const p of paras) for (const id of /License: (.*)/.exec(p)[1].split(/ or | and /)) ids.add(id);
for (const id of [...ids].sort()) {
  if (id === 'Apache-2.0') {
    out.push(`License: Apache-2.0\n On Debian systems, the full text of the Apache License, Version 2.0 is in\n /usr/share/common-licenses/Apache-2.0.`);
  } else if (texts.has(id)) {
    out.push(`License: ${id}\n${text(texts.get(id))}`);
  } else {
    out.push(`License: ${id}\n See the licence notice in the package's directory (named in the Files paragraph).`);
  }
}
process.stdout.write(out.join('\n\n') + '\n');
