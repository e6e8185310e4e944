// `outpost` — run the daemon in the foreground, or `outpost check-config FILE`.
// Start-up order is part of the budget (issue 8: READY under 300 ms, idle RSS under 60 MB): the config
// is validated in a child process (config/isolated.ts) while this one loads the broker's modules,
// so neither waits for the other and zod never loads here. Benchmark: scripts/bench/footprint.mjs.
import { startupDone } from './tiering.js';
import { parseArgs } from 'node:util';
import { loadConfigIsolated } from '../config/isolated.js';
import { ConfigError } from '../config/result.js';
import type { Config } from '../config/schema.js';
import type { Runtime } from './start.js';

const USAGE = `usage: outpost [--config FILE] [--data-dir DIR]
       outpost check-config FILE`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'data-dir': { type: 'string', short: 'd' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] === 'check-config') {
    const file = positionals[1] ?? values.config;
    // One-shot: validate in this thread, the process ends right after.
    const { loadConfig } = await import('../config/load.js');
    try {
      loadConfig({ file, dataDir: values['data-dir'] });
      console.log(`${file ?? 'embedded defaults'}: ok`);
      return 0;
    } catch (err) {
      console.error(err instanceof ConfigError ? err.message : String(err));
      return 1;
    }
  }
  if (positionals.length > 0) {
    console.error(`unknown command ${positionals[0]}\n${USAGE}`);
    return 2;
  }
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
  const log = createLogger(config.log.level, config.node.name);
  const notifier = createNotifier(process.env, log);
  let rt: Runtime;
  try {
    rt = await startOutpost(config, { log, loadConfig: reread });
  } catch (err) {
    if (err instanceof Error && err.name === 'DataDirLockedError') {
      // One clear line: the dir and the pid of the daemon that holds it.
      console.error(`refusing to start: ${err.message}`);
      return 1;
    }
    log.fatal({ err }, 'start_failed');
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
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
