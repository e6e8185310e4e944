// Start-up runs most code once (Node's module loader, the TOML and config parsers, listener set-up),
// yet V8 still sends the hottest of it to TurboFan: a few dozen functions that are never used again,
// for ~10 MB of RSS an idle gateway never gives back (compiler pages, compile zones, code) and CPU
// the start-up is waiting for. Optimization is off from here until READY and on again right after,
// so the broker's hot path is optimized as soon as traffic comes. Imported first by main.ts, so
// it takes effect before the other modules load. Benchmark: scripts/bench/footprint.mjs.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-turbofan');

export function startupDone(): void {
  setFlagsFromString('--turbofan');
}
