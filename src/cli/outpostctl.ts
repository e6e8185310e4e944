// outpostctl: manage a running Outpost over its HTTP API (like `emqx ctl`), plus offline config
// checks. Exit codes: 0 ok, 1 error, 2 usage, 3 daemon not reachable.
import { Command, CommanderError } from 'commander';
import { CliError, DEFAULT_DATA_DIR, DEFAULT_URL, EXIT } from './client.js';
import { registerAccessCommands } from './commands-access.js';
import { registerBrokerCommands } from './commands-broker.js';
import { registerDeviceCommands } from './commands-devices.js';
import { registerOpsCommands } from './commands-ops.js';
import { registerLocalCommands } from './local.js';

export function buildProgram(): Command {
  const program = new Command('outpostctl')
    .description('Manage the Outpost IoT edge gateway')
    .version('0.1.0')
    .option('--url <url>', `HTTP API address (env OUTPOST_API_URL; default: from <data-dir>/runtime.json, else ${DEFAULT_URL})`)
    .option('--api-key <key>', 'API key (env OUTPOST_API_KEY)')
    .option('--api-secret <secret>', 'API secret (env OUTPOST_API_SECRET)')
    // Not --username/--password: those belong to `users add`, and commander lets globals match after the subcommand.
    .option('--login <username>', 'dashboard user, logs in for a token (env OUTPOST_API_USERNAME)')
    .option('--login-password <password>', 'dashboard password (env OUTPOST_API_PASSWORD)')
    .option('--credentials-file <file>', 'file with a key:secret line (env OUTPOST_API_CREDENTIALS)')
    .option('--data-dir <dir>', `the daemon's data directory, for its local key (env OUTPOST_DATA_DIR; default: a running daemon's ./data here, the one this user started last, else ${DEFAULT_DATA_DIR})`)
    .option('--timeout <ms>', 'HTTP timeout in milliseconds', '10000')
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerBrokerCommands(program);
  registerAccessCommands(program);
  registerOpsCommands(program);
  registerDeviceCommands(program);
  registerLocalCommands(program);
  // Subcommands inherit exitOverride so usage errors reach main() instead of process.exit().
  const walk = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version "errors" are successes; everything else commander reports is usage.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      if (err.code === 'commander.executeSubCommandAsync') return EXIT.OK;
      return EXIT.USAGE;
    }
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`outpostctl: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`outpostctl: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.ERROR;
  }
}

process.exitCode = await main(process.argv);
