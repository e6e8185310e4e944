import { describe, expect, it } from 'vitest';
import { clockTicks, cpuSeconds, parseStatTicks, parseVmRssKiB, rssKiB } from '../../../scripts/bench/lib/proc.mjs';

describe('/proc parsing', () => {
  it('reads utime + stime (fields 14 and 15) even when the command name holds spaces and parentheses', () => {
    // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const line = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 12345';
    expect(parseStatTicks(line)).toBe(325);
  });

  it('reads VmRSS in KiB from /proc/<pid>/status text', () => {
    expect(parseVmRssKiB('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\nThreads:\t7\n')).toBe(51234);
    expect(Number.isNaN(parseVmRssKiB('Name:\tnode\n'))).toBe(true);
  });

  it('measures this process and answers NaN for a process that does not exist', () => {
    expect(clockTicks()).toBeGreaterThan(0);
    expect(rssKiB(process.pid)).toBeGreaterThan(1000);
    let x = 0;
    const before = cpuSeconds(process.pid);
    for (let i = 0; i < 5e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThanOrEqual(before);
    expect(Number.isNaN(cpuSeconds(2 ** 22 + 1))).toBe(true);
    expect(Number.isNaN(rssKiB(2 ** 22 + 1))).toBe(true);
  });
});
