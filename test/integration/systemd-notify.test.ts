// The real daemon speaks sd_notify to NOTIFY_SOCKET (a python3 AF_UNIX datagram receiver stands in
// for systemd): READY=1 only once listeners are bound (runtime.json written), a STATUS line,
// WATCHDOG=1 at half of WATCHDOG_USEC from the daemon's own PID, none while the process is
// wedged (SIGSTOP), and STOPPING=1 on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';

const RECEIVER = `
import socket, struct, sys, time, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', payload[:12])[0]
    print(json.dumps({"t": time.time() * 1000, "pid": pid, "data": data.decode()}), flush=True)
`;

interface Datagram {
  t: number;
  pid: number | null;
  data: string;
}

const dir = mkdtempSync(join(tmpdir(), 'outpost-sdn-'));
const socketPath = join(dir, 'notify');
const dataDir = join(dir, 'data');
const got: Datagram[] = [];
let rx: ChildProcess;
let d: Daemon;
let readyAt = 0;
let runtimeFileAtReady = false;

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(got.map((g) => g.data))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  mkdirSync(dataDir);
  rx = spawn('python3', ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    rx.once('error', reject);
    rx.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as Datagram & { listening?: boolean };
        buf = buf.slice(nl + 1);
        if (line.listening) resolve();
        else {
          got.push(line);
          if (line.data.split('\n').includes('READY=1') && !readyAt) {
            readyAt = line.t;
            runtimeFileAtReady = existsSync(join(dataDir, 'runtime.json'));
          }
        }
      }
    });
  });
  d = await startDaemon({ dataDir, config: '[api]\nport = 0\n', env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000' } });
});


afterAll(async () => {
  await d?.kill();
  if (rx?.pid && rx.exitCode === null) process.kill(rx.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('daemon sd_notify', () => {
  it('sends READY=1 with a STATUS line once listeners are bound, from its own PID', async () => {
    await waitFor(() => readyAt > 0, 10_000, 'READY=1');
    const ready = got.find((g) => g.data.split('\n').includes('READY=1'))!;
    expect(ready.pid).toBe(d.pid);
    expect(runtimeFileAtReady).toBe(true);
    await waitFor(() => got.some((g) => g.data.split('\n').some((l) => l.startsWith('STATUS='))), 10_000, 'STATUS=');
  });

  it('pings WATCHDOG=1 about every 200 ms and stops while the process is wedged', async () => {
    await waitFor(() => got.filter((g) => g.data === 'WATCHDOG=1').length >= 3, 10_000, 'three WATCHDOG=1');
    for (const g of got.filter((x) => x.data === 'WATCHDOG=1')) expect(g.pid).toBe(d.pid);
    process.kill(d.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    const resumedAt = Date.now();
    process.kill(d.pid, 'SIGCONT');
    await waitFor(() => got.some((g) => g.data === 'WATCHDOG=1' && g.t > resumedAt), 5000, 'WATCHDOG=1 after SIGCONT');
    // Margins absorb the receiver's own scheduling delay under load.
    const during = got.filter((g) => g.data === 'WATCHDOG=1' && g.t > stoppedAt + 200 && g.t < resumedAt - 50);
    expect(during).toEqual([]);
  });

  it('sends STOPPING=1 on SIGTERM and exits 0', async () => {
    const code = await d.stop('SIGTERM');
    expect(got.some((g) => g.data.split('\n').includes('STOPPING=1'))).toBe(true);
    expect(code).toBe(0);
  });
});
