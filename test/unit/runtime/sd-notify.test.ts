// sd_notify against a real AF_UNIX SOCK_DGRAM receiver (python3 stands in for systemd's
// /run/systemd/notify), including the sender credentials NotifyAccess=main checks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createNotifier, statusText, watchdogInterval } from '../../../src/runtime/sd-notify.js';

const RECEIVER = `
import socket, struct, sys, time, json
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(addr if not addr.startswith('@') else '\\0' + addr[1:])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', payload[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            import array, os
            fds = array.array('i'); fds.frombytes(payload[:len(payload) - len(payload) % 4])
            for fd in fds: os.close(fd)
    print(json.dumps({"t": time.time() * 1000, "pid": pid, "data": data.decode()}), flush=True)
`;

interface Datagram {
  t: number;
  pid: number | null;
  data: string;
}

class Receiver {
  readonly got: Datagram[] = [];
  private constructor(readonly proc: ChildProcess) {}

  static async start(addr: string): Promise<Receiver> {
    const proc = spawn('python3', ['-c', RECEIVER, addr], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = new Receiver(proc);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as Datagram & { listening?: boolean };
          buf = buf.slice(nl + 1);
          if (line.listening) resolve();
          else r.got.push(line);
        }
      });
    });
    return r;
  }

  async waitFor(pred: (d: Datagram[]) => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred(this.got)) {
      if (Date.now() > end) throw new Error(`timeout; got ${JSON.stringify(this.got)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  stop(): void {
    if (this.proc.pid && this.proc.exitCode === null) process.kill(this.proc.pid, 'SIGKILL');
  }
}

const log = pino({ level: 'silent' });
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

async function setup(abstract = false): Promise<{ rx: Receiver; addr: string }> {
  let addr: string;
  if (abstract) {
    addr = `@outpost-test-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-notify-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    addr = join(dir, 'notify');
  }
  const rx = await Receiver.start(addr);
  cleanup.push(() => rx.stop());
  return { rx, addr };
}

function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // keep the event loop blocked, as a wedged daemon would
  }
}

describe('sd_notify', () => {
  it('is a no-op without NOTIFY_SOCKET', () => {
    const n = createNotifier({}, log);
    expect(n.enabled).toBe(false);
    n.ready('x');
    n.startWatchdog();
    n.close();
  });

  it('sends READY, STATUS, RELOADING and STOPPING over a path socket with our own PID (NotifyAccess=main)', async () => {
    const { rx, addr } = await setup();
    const n = createNotifier({ NOTIFY_SOCKET: addr }, log);
    cleanup.push(() => n.close());
    expect(n.enabled).toBe(true);
    n.ready('listening on 1883');
    n.status('3 connections');
    n.status('3 connections');
    n.reloading();
    n.stopping();
    await rx.waitFor((g) => g.length >= 4);
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.got.map((d) => d.data.split('\n')[0])).toEqual(['READY=1', 'STATUS=3 connections', 'RELOADING=1', 'STOPPING=1']);
    expect(rx.got[0]!.data).toBe('READY=1\nSTATUS=listening on 1883');
    expect(rx.got[2]!.data).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    for (const d of rx.got) expect(d.pid).toBe(process.pid);
  });

  it('keeps STATUS to one line', async () => {
    const { rx, addr } = await setup();
    const n = createNotifier({ NOTIFY_SOCKET: addr }, log);
    cleanup.push(() => n.close());
    n.status('a\nWATCHDOG=1');
    await rx.waitFor((g) => g.length >= 1);
    expect(rx.got[0]!.data).toBe('STATUS=a WATCHDOG=1');
  });

  it('pings WATCHDOG=1 at half of WATCHDOG_USEC and stops while the event loop is blocked', async () => {
    const { rx, addr } = await setup();
    const n = createNotifier({ NOTIFY_SOCKET: addr, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) }, log);
    cleanup.push(() => n.close());
    expect(n.watchdogMs).toBe(100);
    n.startWatchdog();
    await rx.waitFor((g) => g.filter((d) => d.data === 'WATCHDOG=1').length >= 4);
    const blockStart = Date.now();
    busyWait(1000);
    const blockEnd = Date.now();
    await rx.waitFor((g) => g.some((d) => d.data === 'WATCHDOG=1' && d.t > blockEnd));
    const pings = rx.got.filter((d) => d.data === 'WATCHDOG=1').map((d) => d.t);
    // Nothing can be sent while the loop is wedged; the margins absorb the receiver's own scheduling delay.
    expect(pings.filter((t) => t > blockStart + 200 && t < blockEnd - 50)).toEqual([]);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(700);
    n.close();
    const count = rx.got.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.got.length).toBe(count);
  });

  it('does not ping when WATCHDOG_PID names another process', async () => {
    const { rx, addr } = await setup();
    const n = createNotifier({ NOTIFY_SOCKET: addr, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid + 1) }, log);
    cleanup.push(() => n.close());
    n.startWatchdog();
    n.status('probe');
    await rx.waitFor((g) => g.length >= 1);
    await new Promise((r) => setTimeout(r, 250));
    expect(rx.got.map((d) => d.data)).toEqual(['STATUS=probe']);
  });

  it('computes the watchdog interval as sd_watchdog_enabled does', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 7)).toBe(15000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7)).toBe(15000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7)).toBe(0);
    expect(watchdogInterval({ WATCHDOG_USEC: 'x' }, 7)).toBe(0);
    expect(watchdogInterval({}, 7)).toBe(0);
  });

  it('formats the STATUS line from broker stats', () => {
    const stats = {
      'connections.count': 3,
      'connections.max': 9,
      'live_connections.count': 3,
      'sessions.count': 5,
      'topics.count': 2,
      'subscriptions.count': 7,
      'subscriptions.shared.count': 0,
      'subscribers.count': 4,
      'retained.count': 1,
      'delayed.count': 0,
      'mqueue.total': 12,
      'inflight.total': 2,
    };
    expect(statusText(stats)).toBe('3 connections, 5 sessions, 7 subscriptions, 12 queued, 2 inflight, 1 retained');
  });

  it('falls back to systemd-notify for an abstract socket', async () => {
    const { rx, addr } = await setup(true);
    const n = createNotifier({ NOTIFY_SOCKET: addr }, log);
    cleanup.push(() => n.close());
    n.ready('via binary');
    await rx.waitFor((g) => g.some((d) => d.data.includes('READY=1')));
    const msg = rx.got.find((d) => d.data.includes('READY=1'))!;
    const vars = msg.data.split('\n');
    expect(vars).toContain('READY=1');
    expect(vars).toContain('STATUS=via binary');
    expect(vars).toContain(`MAINPID=${process.pid}`);
  });

  it('uses systemd-notify for a path socket when asked to', async () => {
    const { rx, addr } = await setup();
    const n = createNotifier({ NOTIFY_SOCKET: addr }, log, { transport: 'spawn' });
    cleanup.push(() => n.close());
    n.stopping();
    await rx.waitFor((g) => g.some((d) => d.data.includes('STOPPING=1')));
    expect(rx.got.find((d) => d.data.includes('STOPPING=1'))!.data.split('\n')).toContain(`MAINPID=${process.pid}`);
  });
});
