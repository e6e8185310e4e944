// Reads a broker's resource use from /proc (Linux only): CPU time and resident memory.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck;

/** Clock ticks per second used by /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux when getconf is absent). */
export function clockTicks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/**
 * utime + stime in ticks from the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and
 * may hold spaces, so fields are counted after the last ')' (proc(5): utime is field 14, stime field 15).
 */
export function parseStatTicks(text) {
  const close = text.lastIndexOf(')');
  if (close < 0) return Number.NaN;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  return Number(rest[11]) + Number(rest[12]);
}

/** VmRSS in KiB from the text of /proc/<pid>/status. */
export function parseVmRssKiB(text) {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** CPU seconds (user + system) the process has used so far; NaN when it is gone. */
export function cpuSeconds(pid) {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in KiB; NaN when the process is gone. */
export function rssKiB(pid) {
  try {
    return parseVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}
