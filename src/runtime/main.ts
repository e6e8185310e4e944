// `outpost` — run the daemon in the foreground, or `outpost check-config FILE`.
// Start-up order is part of the budget (issue 8: READY under 300 ms, idle RSS under 60 MB): the config
// is validated in a child process (config/isolated.ts) while this one loads the broker's modules,
// so neither waits for the other and zod never loads here. Benchmark: scripts/bench/footprint.mjs.
// A start-up failure an operator can fix (bad key, bad OUTPOST_* variable, port in use, data dir
// taken) is one line on stderr naming the key and the cause, and a non-zero exit; no stack trace.
import { startupDone } from './tiering.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { loadConfigIsolated } from '../config/isolated.js';
import { ConfigError } from '../config/result.js';
import type { Config } from '../config/schema.js';
import type { Runtime } from './start.js';

/** Exit codes: 0 ok, 1 could not start (config, port, data dir), 2 usage. */
const EXIT_USAGE = 2;

/** The version in the package.json above this file (dist/outpost/main.js and dist/src/runtime/main.js alike). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'outpost' && pkg.version) return pkg.version;
    } catch {
      // Not here: one directory up.
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

type Invocation = { kind: 'run'; config?: string; dataDir?: string } | { kind: 'check'; file?: string; dataDir?: string };

/** Parses the command line; null after --help or --version, a number for a usage error (commander printed why). */
function parseCommandLine(argv: string[]): Invocation | number | null {
  let inv: Invocation | null = null;
  const program = new Command('outpost')
    .description('Outpost, a multi-protocol IoT edge gateway: runs in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'config file (TOML); without it the embedded defaults and OUTPOST_* variables apply')
    .option('-d, --data-dir <dir>', 'data directory (overrides node.data_dir)')
    .showHelpAfterError('(run outpost --help for usage)')
    .argument('[command]')
    .usage('[options] [command]')
    .exitOverride()
    .action((command: string | undefined, o: { config?: string; dataDir?: string }) => {
      // A word that is no subcommand lands here, as the root takes an action too.
      if (command !== undefined) program.error(`error: unknown command '${command}'`, { code: 'commander.unknownCommand', exitCode: EXIT_USAGE });
      inv = { kind: 'run', config: o.config, dataDir: o.dataDir };
    });
  program
    .command('check-config [file]')
    .description('validate a config file exactly as a start would, then exit (0 valid, 1 not)')
    .exitOverride()
    .action((file: string | undefined, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ config?: string; dataDir?: string }>();
      inv = { kind: 'check', file: file ?? g.config, dataDir: g.dataDir };
    });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return null;
      return EXIT_USAGE;
    }
    throw err;
  }
  return inv;
}

async function main(argv: string[]): Promise<number> {
  const inv = parseCommandLine(argv);
  if (inv === null) return 0;
  if (typeof inv === 'number') return inv;
  if (inv.kind === 'check') {
    const file = inv.file;
    // One-shot: validate in this thread, the process ends right after.
    const { loadConfig } = await import('../config/load.js');
    try {
      loadConfig({ file, dataDir: inv.dataDir });
      console.log(`${file ?? 'embedded defaults'}: ok`);
      return 0;
    } catch (err) {
      console.error(err instanceof ConfigError ? err.message : String(err));
      return 1;
    }
  }
  const values = { config: inv.config, 'data-dir': inv.dataDir };
  const reread = () => loadConfigIsolated({ file: values.config, dataDir: values['data-dir'] });
  const configLoad = reread();
  const modules = Promise.all([import('./start.js'), import('./log.js'), import('./sd-notify.js')]);
  // On a bad config the module load is abandoned: this keeps its failure from going unhandled.
  modules.catch(() => {});
  let config: Config;
  try {
    config = await configLoad;
  } catch (err) {
    console.error(`refusing to start: ${err instanceof ConfigError ? err.message : String(err)}`);
    return 1;
  }
  const [{ startOutpost, writeRuntimeFile }, { createLogger }, { createNotifier }] = await modules;
  const log = await createLogger(config.log.level, config.node.name, config.log.format);
  const notifier = createNotifier(process.env, log);
  let rt: Runtime;
  try {
    rt = await startOutpost(config, { log, loadConfig: reread });
  } catch (err) {
    if (err instanceof Error && (err.name === 'DataDirLockedError' || err.name === 'StartupError')) {
      // One clear line: the key and the cause (a port in use, the dir and the pid that holds it).
      console.error(`refusing to start: ${err.message}`);
      return 1;
    }
    log.fatal({ err }, 'start_failed');
    console.error(`refusing to start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  writeRuntimeFile(rt);
  // READY=1 only now: every listener is bound and the store is open.
  const statusLine = () => {
    const s = rt.broker.stats();
    return `${s['connections.count']} connections, ${s['sessions.count']} sessions, ${s['mqueue.total']} queued, ${s['inflight.total']} inflight`;
  };
  notifier.ready(statusLine());
  startupDone();
  notifier.startWatchdog();
  if (notifier.enabled) setInterval(() => notifier.status(statusLine()), 10_000).unref();
  log.info({ ports: rt.ports(), data_dir: rt.dataDir, pid: process.pid }, 'outpost_ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    notifier.stopping();
    log.info({ signal }, 'outpost_stopping');
    // Bounded graceful stop: whatever happens, exit within 10 s.
    const force = setTimeout(() => {
      log.error('graceful_stop_timed_out');
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await rt.stop();
      log.info('outpost_stopped');
      notifier.close();
    } finally {
      setTimeout(() => process.exit(0), 20).unref();
    }
  };
  // Reloads run one at a time, in signal order: each validates first and, on error, keeps the
  // running config and says why.
  let reloads: Promise<void> = Promise.resolve();
  const reload = async () => {
    let next: Config;
    try {
      next = await reread();
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'config_reload_rejected: keeping the running config');
      return;
    }
    if (stopping) return;
    notifier.reloading();
    try {
      await rt.reload(next);
      log.info('config_reloaded');
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'config_reload_failed: keeping the running config');
    }
    notifier.ready(statusLine());
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    reloads = reloads.then(reload).catch((err: unknown) => log.error({ err }, 'config_reload_failed'));
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught_exception');
  });
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code > 0) {
      // A refused start exits now, whatever handle a half-started component left open.
      process.exitCode = code;
      setTimeout(() => process.exit(code), 200).unref();
    } else if (code === 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
