// One logger for the process: single-line JSON to stdout, which journald captures. Under systemd
// (JOURNAL_STREAM set) each line gets a <N> syslog priority prefix so journald keeps the level.
// Writes are synchronous: log volume is low off the hot path, and a fatal line must not be lost at exit.
import { pino, type Logger, type DestinationStream } from 'pino';

const PRIORITY: Record<number, string> = { 10: '<7>', 20: '<7>', 30: '<6>', 40: '<4>', 50: '<3>', 60: '<2>' };

function journaldDestination(): DestinationStream {
  return {
    write(line: string) {
      const m = /"level":(\d+)/.exec(line);
      process.stdout.write((m ? (PRIORITY[Number(m[1])] ?? '') : '') + line);
    },
  };
}

export function createLogger(level: string, node: string): Logger {
  const opts = {
    level,
    base: { node },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach the log, whatever a caller passes.
    redact: { paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret', 'api_key', '*.api_key'], censor: '[redacted]' },
  };
  return process.env.JOURNAL_STREAM ? pino(opts, journaldDestination()) : pino(opts, pino.destination({ dest: 1, sync: true }));
}
