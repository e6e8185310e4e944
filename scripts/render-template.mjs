#!/usr/bin/env node
// Fills a firmware config template (firmware-config/templates/*.tmpl) with a sensor's values, as
// the pairing step does. Placeholders are ${name} or ${name:format}:
//   ${name}     the value as is; it may not hold control characters (they would break any line format)
//   ${name:c}   the contents of a C string literal: \ and " escaped, non-printable bytes as octal
//   ${name:int} a decimal integer (checked, written as is)
//   $${         a literal "${"
// Every placeholder needs a value and every value must be used: a missing one or a value no
// placeholder asks for (a typo in the pairing data) is refused, with all of them named at once.
//
// CLI: node scripts/render-template.mjs TEMPLATE [--values FILE.json] [name=value ...] [-o OUT]
//      exit 0 = written (stdout or OUT), 2 = refused (reason on stderr)
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export class TemplateError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'TemplateError';
    this.code = code;
  }
}

const FORMATS = ['raw', 'c', 'int'];
const TOKEN = /\$\$\{|\$\{([^}\n]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The placeholders of a template, in order of first use, each with its format.
 * @param {string} text
 * @param {string} [source]
 * @returns {{ name: string, format: string, line: number }[]}
 */
export function placeholders(text, source = 'template') {
  const found = [];
  const problems = [];
  for (const m of text.matchAll(TOKEN)) {
    if (m[0] === '$${') continue;
    const line = text.slice(0, m.index).split('\n').length;
    if (m[1] === undefined) {
      problems.push(`${source}:${line}: unterminated "\${"`);
      continue;
    }
    const [name, format = 'raw', ...extra] = m[1].split(':');
    if (!NAME.test(name) || extra.length > 0) problems.push(`${source}:${line}: bad placeholder "\${${m[1]}}" (expected \${name} or \${name:format})`);
    else if (!FORMATS.includes(format)) problems.push(`${source}:${line}: unknown format "${format}" in "\${${m[1]}}" (${FORMATS.slice(1).join(', ')})`);
    else found.push({ name, format, line });
  }
  if (problems.length) throw new TemplateError('OUTPOST_ERR_TEMPLATE_SYNTAX', problems.join('\n'));
  return found;
}

/** @param {string} s */
function cString(s) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    // Octal, always three digits: a hex escape would swallow a following hex digit.
    else if (b < 0x20 || b >= 0x7f) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/**
 * @param {string} name @param {string} format @param {string} value
 * @returns {string | { problem: string }}
 */
function formatValue(name, format, value) {
  if (format === 'c') return cString(value);
  if (format === 'int') return /^-?\d+$/.test(value) ? value : { problem: `${name}: "${value}" is not an integer` };
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(value) ? { problem: `${name}: control characters are not allowed (use \${${name}:c} inside a C string)` } : value;
}

/**
 * Render a template. Values are strings, numbers or booleans (written with String()).
 * @param {string} text
 * @param {Record<string, string | number | boolean>} values
 * @param {string} [source] name used in error messages
 * @returns {string}
 */
export function renderTemplate(text, values, source = 'template') {
  const wanted = placeholders(text, source);
  const names = new Set(wanted.map((p) => p.name));
  const given = Object.keys(values);
  const missing = [...names].filter((n) => !Object.hasOwn(values, n));
  const unknown = given.filter((n) => !names.has(n));
  const problems = [];
  if (missing.length) problems.push(`missing values for: ${missing.join(', ')}`);
  if (unknown.length) problems.push(`values not used by ${source}: ${unknown.join(', ')} (placeholders are: ${[...names].join(', ') || 'none'})`);
  for (const n of given) {
    const v = values[n];
    if (!['string', 'number', 'boolean'].includes(typeof v)) problems.push(`${n}: value must be a string, number or boolean`);
  }
  if (problems.length) throw new TemplateError('OUTPOST_ERR_TEMPLATE_VALUES', `${source}: ${problems.join('; ')}`);
  const bad = [];
  const out = text.replace(TOKEN, (tok, inner) => {
    if (tok === '$${') return '${';
    const [name, format = 'raw'] = inner.split(':');
    const r = formatValue(name, format, String(values[name]));
    if (typeof r === 'string') return r;
    bad.push(r.problem);
    return tok;
  });
  if (bad.length) throw new TemplateError('OUTPOST_ERR_TEMPLATE_VALUES', `${source}: ${[...new Set(bad)].join('; ')}`);
  return out;
}

/** @param {string[]} argv @returns {number} */
export function main(argv) {
  const usage = 'usage: render-template.mjs TEMPLATE [--values FILE.json] [name=value ...] [-o OUT]';
  let template;
  let out;
  const values = {};
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--values') {
        const file = argv[++i];
        if (!file) throw new TemplateError('OUTPOST_ERR_TEMPLATE_USAGE', usage);
        const parsed = JSON.parse(readFileSync(file, 'utf8'));
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TemplateError('OUTPOST_ERR_TEMPLATE_USAGE', `${file}: expected a JSON object of name: value`);
        Object.assign(values, parsed);
      } else if (a === '-o' || a === '--output') {
        out = argv[++i];
        if (!out) throw new TemplateError('OUTPOST_ERR_TEMPLATE_USAGE', usage);
      } else if (a === '-h' || a === '--help') {
        console.log(usage);
        return 0;
      } else if (template === undefined && !a.includes('=')) {
        template = a;
      } else {
        const eq = a.indexOf('=');
        if (eq <= 0) throw new TemplateError('OUTPOST_ERR_TEMPLATE_USAGE', `not name=value: "${a}"\n${usage}`);
        values[a.slice(0, eq)] = a.slice(eq + 1);
      }
    }
    if (template === undefined) throw new TemplateError('OUTPOST_ERR_TEMPLATE_USAGE', usage);
    const text = renderTemplate(readFileSync(template, 'utf8'), values, template);
    if (out) writeFileSync(out, text);
    else process.stdout.write(text);
    return 0;
  } catch (err) {
    process.stderr.write(`render-template: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
