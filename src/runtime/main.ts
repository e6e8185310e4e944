// `outpost` — run the daemon in the foreground, or `outpost check-config FILE`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from './log.js';
import { createNotifier } from './sd-notify.js';
import { startOutpost, writeRuntimeFile, type Runtime } from './start.js';

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
  let config: Config;
  try {
    config = loadConfig({ file: values.config, dataDir: values['data-dir'] });
  } catch (err) {
    console.error(`refusing to start: ${err instanceof ConfigError ? err.message : String(err)}`);
    return 1;
  }
  const log = createLogger(config.log.level, config.node.name);
  const notifier = createNotifier(process.env, log);
  const reread = () => loadConfig({ file: values.config, dataDir: values['data-dir'] });
  let rt: Runtime;
  try {
    rt = await startOutpost(config, { log, loadConfig: reread });
  } catch (err) {
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
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    // Validate first; on error keep running on the old config and say why.
    let next: Config;
    try {
      next = reread();
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'config_reload_rejected: keeping the running config');
      return;
    }
    notifier.reloading();
    rt.reload(next).then(
      () => {
        log.info('config_reloaded');
        notifier.ready(statusLine());
      },
      (err: unknown) => {
        log.error({ reason: (err as Error).message }, 'config_reload_failed: keeping the running config');
        notifier.ready(statusLine());
      },
    );
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
