// Test doubles shared by the auth unit tests: the shared manual clock, a logger that records lines, a store in memory.
export { FakeClock } from '../../helpers/fake-clock.js';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { Store } from '../../../src/store/store.js';

export function recordingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export function memoryStore(): Store {
  return Store.open({ path: ':memory:', synchronous: 'NORMAL', log: pino({ level: 'silent' }) });
}
