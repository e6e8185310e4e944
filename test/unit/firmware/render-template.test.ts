// scripts/render-template.mjs: ${name} templates that pairing fills in for a sensor's firmware.
// Missing and unknown values are refused by name; C strings survive hostile values (checked by
// compiling and running the rendered header when a C compiler is present).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { placeholders, renderTemplate, TemplateError } from '../../../scripts/render-template.mjs';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPLATES = join(REPO, 'firmware-config/templates');
const EXAMPLES = JSON.parse(readFileSync(join(TEMPLATES, 'example-values.json'), 'utf8')) as Record<string, Record<string, string | number>>;
const tmp = mkdtempSync(join(tmpdir(), 'outpost-render-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const HAVE_CC = spawnSync('cc', ['--version']).status === 0;

function errorOf(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected a TemplateError');
}

describe('renderTemplate', () => {
  it('fills ${name}, ${name:c} and ${name:int}, and $${ stays literal', () => {
    const out = renderTemplate('host=${host} id="${id:c}" port=${port:int} lit=$${x}\n', { host: 'gw.local', id: 'a"b\\c', port: 1884 });
    expect(out).toBe('host=gw.local id="a\\"b\\\\c" port=1884 lit=${x}\n');
  });

  it('the same placeholder may repeat', () => {
    expect(renderTemplate('${a}-${a}', { a: 'x' })).toBe('x-x');
  });

  it('refuses missing values and values no placeholder uses, naming all of them', () => {
    const e = errorOf(() => renderTemplate('${a} ${b} ${c}', { a: '1', bb: '2', zz: '3' }, 'x.tmpl'));
    expect(e.code).toBe('OUTPOST_ERR_TEMPLATE_VALUES');
    expect(e.message).toContain('missing values for: b, c');
    expect(e.message).toContain('values not used by x.tmpl: bb, zz');
  });

  it('refuses malformed placeholders with their line', () => {
    const e = errorOf(() => placeholders('ok ${a}\n${bad-name}\n${b:hex}\n${open', 't.tmpl'));
    expect(e.code).toBe('OUTPOST_ERR_TEMPLATE_SYNTAX');
    expect(e.message).toContain('t.tmpl:2: bad placeholder "${bad-name}"');
    expect(e.message).toContain('t.tmpl:3: unknown format "hex"');
    expect(e.message).toContain('t.tmpl:4: unterminated "${"');
  });

  it('refuses a non-integer for :int and control characters in a raw value', () => {
    expect(errorOf(() => renderTemplate('${p:int}', { p: '18a' })).message).toContain('p: "18a" is not an integer');
    expect(errorOf(() => renderTemplate('${h}', { h: 'a\nb' })).message).toContain('h: control characters are not allowed');
    expect(errorOf(() => renderTemplate('${h}', { h: { x: 1 } as unknown as string })).message).toContain('h: value must be a string');
  });

  it(':c escapes control and non-ASCII bytes as three-digit octal', () => {
    expect(renderTemplate('"${v:c}"', { v: 'a\n\u00e91' })).toBe('"a\\012\\303\\2511"');
  });
});

describe('firmware-config/templates', () => {
  const templates = readdirSync(TEMPLATES).filter((f) => f.endsWith('.tmpl'));

  it('has the CoAP and MQTT-SN sensor headers and the generic device header, each with example values for exactly its placeholders', () => {
    expect(templates.sort()).toEqual(['coap-sensor.h.tmpl', 'device-config.h.tmpl', 'mqttsn-sensor.h.tmpl']);
    for (const t of templates) {
      const names = [...new Set(placeholders(readFileSync(join(TEMPLATES, t), 'utf8'), t).map((p) => p.name))].sort();
      expect(Object.keys(EXAMPLES[t]!).sort(), t).toEqual(names);
    }
    const coap = placeholders(readFileSync(join(TEMPLATES, 'coap-sensor.h.tmpl'), 'utf8')).map((p) => p.name);
    expect(coap).toEqual(expect.arrayContaining(['gateway_host', 'gateway_port', 'client_id', 'username', 'password', 'publish_topic']));
    const sn = placeholders(readFileSync(join(TEMPLATES, 'mqttsn-sensor.h.tmpl'), 'utf8')).map((p) => p.name);
    expect(sn).toEqual(expect.arrayContaining(['gateway_host', 'gateway_port', 'client_id', 'publish_topic_id', 'command_topic_id']));
  });

  it('the example sketch uses only macros the MQTT-SN header defines', () => {
    const header = readFileSync(join(TEMPLATES, 'mqttsn-sensor.h.tmpl'), 'utf8');
    const sketch = readFileSync(join(TEMPLATES, 'esp32-mqttsn-sensor.ino'), 'utf8');
    const used = new Set(sketch.match(/\bOUTPOST_[A-Z_]+\b/g));
    expect(used.size).toBeGreaterThan(4);
    for (const m of used) expect(header, m).toMatch(new RegExp(`#define ${m}\\b`));
  });

  // Values a pairing step might get wrong: quotes, backslashes, a newline, UTF-8.
  const hostile = { client_id: 'dev "7"\\x\n', password: 'p\u00e4ss"word\\', username: 'u\tser' };

  for (const t of ['coap-sensor.h.tmpl', 'mqttsn-sensor.h.tmpl']) {
    it(`${t} renders to a header whose strings hold the exact values${HAVE_CC ? ' (compiled and run)' : ''}`, () => {
      const values = { ...EXAMPLES[t]! };
      for (const [k, v] of Object.entries(hostile)) if (k in values) values[k] = v;
      const header = renderTemplate(readFileSync(join(TEMPLATES, t), 'utf8'), values, t);
      expect(header).not.toContain('${');
      const macros = [...header.matchAll(/^#define (OUTPOST_\w+)[ \t]+(.+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
      expect(macros.length).toBe(Object.keys(values).length);
      if (!HAVE_CC) {
        // Without a compiler: every string macro is one well-formed literal on its line.
        for (const [, body] of macros) expect(body).toMatch(/^("(?:[^"\\\n]|\\[0-7]{3}|\\["\\])*"|-?\d+)$/);
        return;
      }
      const dir = mkdtempSync(join(tmp, 'cc-'));
      writeFileSync(join(dir, 'sensor.h'), header);
      const prints = macros.map(([name, body]) =>
        body.startsWith('"') ? `  printf("%s=%s\\x1e", "${name}", ${name});` : `  printf("%s=%ld\\x1e", "${name}", (long)(${name}));`,
      );
      // The DTLS key is a byte array, not a macro: print it as hex to compare with the value.
      const key = header.includes('OUTPOST_PSK_KEY[]') ? '  printf("KEY=");\n  for (size_t i = 0; i < OUTPOST_PSK_KEY_LEN; i++) printf("%02x", OUTPOST_PSK_KEY[i]);\n  printf("\\x1e");' : '';
      writeFileSync(join(dir, 'main.c'), `#include <stdio.h>\n#include "sensor.h"\nint main(void) {\n${prints.join('\n')}\n${key}\n  return 0;\n}\n`);
      const cc = spawnSync('cc', ['-std=c99', '-Wall', '-Werror', '-o', join(dir, 'a.out'), join(dir, 'main.c')], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
      expect(cc.status).toBe(0);
      const run = spawnSync(join(dir, 'a.out'), { encoding: 'utf8' });
      const got = Object.fromEntries(run.stdout.split('\x1e').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      expect(got['OUTPOST_CLIENT_ID']).toBe(values['client_id']);
      if ('password' in values) expect(got['OUTPOST_PASSWORD']).toBe(values['password']);
      if ('username' in values) expect(got['OUTPOST_USERNAME']).toBe(values['username']);
      if ('psk_key_bytes' in values) {
        expect(got['KEY']).toBe(String(values['psk_key_bytes']).replace(/0x|,\s*/g, ''));
        expect(got['OUTPOST_PSK_KEY_LEN']).toBe('16');
        expect(got['OUTPOST_PSK_IDENTITY']).toBe(values['psk_identity']);
      }
      const port = macros.find(([n]) => n.endsWith('_PORT'))![0];
      expect(got[port]).toBe(String(values['gateway_port']));
    });
  }
});

describe('render-template.mjs CLI', () => {
  const cli = (args: string[]) => spawnSync('node', [join(REPO, 'scripts/render-template.mjs'), ...args], { encoding: 'utf8', timeout: 20_000 });

  it('renders from --values and name=value (the latter wins) to -o', () => {
    const values = join(tmp, 'v.json');
    writeFileSync(values, JSON.stringify(EXAMPLES['mqttsn-sensor.h.tmpl']));
    const out = join(tmp, 'mqttsn-sensor.h');
    const r = cli([join(TEMPLATES, 'mqttsn-sensor.h.tmpl'), '--values', values, 'client_id=soil-99', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const h = readFileSync(out, 'utf8');
    expect(h).toMatch(/^#define OUTPOST_CLIENT_ID\s+"soil-99"$/m);
    expect(h).toMatch(/^#define OUTPOST_TOPIC_ID_PUBLISH\s+101$/m);
  });

  it('exits 2 naming what is missing and what is unknown', () => {
    const r = cli([join(TEMPLATES, 'coap-sensor.h.tmpl'), 'gateway_host=10.0.0.1', 'clientid=x']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/missing values for: gateway_port, client_id, username, password/);
    expect(r.stderr).toMatch(/values not used by .*coap-sensor\.h\.tmpl: clientid/);
  });
});
