// The shell scripts that run on a box are POSIX sh: every one parses with dash (`sh -n`), and
// when shellcheck is installed it must report nothing (CI: apt-get install shellcheck).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPTS = ['firmware-config/rootfs/usr/lib/outpost/first-boot.sh', 'firmware-config/image/build.sh', 'scripts/image-nspawn-check.sh', 'scripts/install.sh', 'scripts/uninstall.sh'];
const HAVE_SHELLCHECK = spawnSync('shellcheck', ['--version']).status === 0;

describe('shell scripts', () => {
  it.each(SCRIPTS)('%s is #!/bin/sh and parses as POSIX sh', (script) => {
    expect(readFileSync(join(REPO, script), 'utf8').split('\n')[0]).toBe('#!/bin/sh');
    const r = spawnSync('sh', ['-n', join(REPO, script)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it(`shellcheck ${HAVE_SHELLCHECK ? 'reports nothing' : 'is not installed here; checked: sh -n rejects a broken script'}`, () => {
    if (!HAVE_SHELLCHECK) {
      // Proves the sh -n check above can fail, so the suite still checks something without shellcheck.
      const r = spawnSync('sh', ['-n'], { input: 'if true; then\n', encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      return;
    }
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', ...SCRIPTS.map((s) => join(REPO, s))], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
