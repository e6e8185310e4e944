// One logger for the process, in one of two formats (EMQX's log.console.formatter):
//   json  single-line JSON on stdout, which journald captures; under systemd (JOURNAL_STREAM set) each
//         line gets a <N> syslog priority prefix so journald keeps the level.
//   text  one line per event with the time and the level name, for a person at a terminal
//         (pino-pretty's formatter, loaded only then: a daemon under systemd never loads it).
// `auto` (the default) is text on a terminal and JSON otherwise.
// Writes are synchronous: log volume is low off the hot path, and a fatal line must not be lost at exit.
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

export type LogFormat = 'auto' | 'text' | 'json';

const PRIORITY: Record<number, string> = { 10: '<7>', 20: '<7>', 30: '<6>', 40: '<4>', 50: '<3>', 60: '<2>' };

function journaldDestination(): DestinationStream {
  return {
    write(line: string) {
      const m = /"level":(\d+)/.exec(line);
      process.stdout.write((m ? (PRIORITY[Number(m[1])] ?? '') : '') + line);
    },
  };
}

/** Text or JSON, as `format` says; `auto` looks at the terminal and at systemd. */
export function resolveLogFormat(format: LogFormat, env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): 'text' | 'json' {
  if (format !== 'auto') return format;
  return isTTY && !env.JOURNAL_STREAM ? 'text' : 'json';
}

async function textDestination(colorize: boolean): Promise<DestinationStream> {
  const { prettyFactory } = (await import('pino-pretty')).default;
  const prettify = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    // The node name is in every JSON line for log collectors; on a terminal it is noise.
    ignore: 'pid,hostname,node',
    // EMQX's names for pino's warn and fatal, as log.level takes them.
    customLevels: 'trace:10,debug:20,info:30,warning:40,error:50,critical:60',
  });
  return { write: (line: string) => void process.stdout.write(prettify(line)) };
}

export async function createLogger(level: string, node: string, format: LogFormat = 'json'): Promise<Logger> {
  const opts: LoggerOptions = {
    level,
    base: { node },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach the log, whatever a caller passes.
    redact: { paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret', 'api_key', '*.api_key'], censor: '[redacted]' },
  };
  if (resolveLogFormat(format) === 'text') return pino(opts, await textDestination(process.stdout.isTTY === true));
  return process.env.JOURNAL_STREAM ? pino(opts, journaldDestination()) : pino(opts, pino.destination({ dest: 1, sync: true }));
}
