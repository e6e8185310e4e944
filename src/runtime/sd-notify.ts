// The sd_notify protocol (sd_notify(3)): newline-separated VAR=VALUE datagrams to the AF_UNIX
// socket named by NOTIFY_SOCKET. Node core has no AF_UNIX datagram socket, so path sockets go
// through the optional unix-dgram addon (the datagram then carries our own PID, which
// NotifyAccess=main requires); abstract '@' sockets, or a missing addon, fall back to spawning
// systemd-notify(1) with --pid (that only passes NotifyAccess=main when we run as root: systemd
// credits the message to systemd-notify's own PID otherwise). Without NOTIFY_SOCKET every call is a no-op.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { BrokerStats } from '../broker/api.js';

export interface Notifier {
  /** true when NOTIFY_SOCKET is set and a transport was found. */
  readonly enabled: boolean;
  /** READY=1: every listener bound and the store open. */
  ready(status?: string): void;
  /** RELOADING=1 at the start of a SIGHUP reload; call ready() when done. */
  reloading(): void;
  /** STOPPING=1 at the start of a graceful stop. */
  stopping(): void;
  /** STATUS=<text>, shown by `systemctl status`. Repeats of the same text are not resent. */
  status(text: string): void;
  /**
   * WATCHDOG=1 every WATCHDOG_USEC/2 from an event-loop timer, so a wedged loop stops the pings
   * and systemd restarts us. Only when WATCHDOG_PID is unset or ours (sd_watchdog_enabled(3)).
   */
  startWatchdog(): void;
  /** Watchdog interval in ms, 0 when the watchdog is not enabled for this process. */
  readonly watchdogMs: number;
  close(): void;
}

export interface NotifierOptions {
  /** 'auto' uses the addon for path sockets; 'spawn' forces systemd-notify (tests, diagnosis). */
  transport?: 'auto' | 'spawn';
  /** systemd-notify binary for the spawn transport. */
  notifyBinary?: string;
}

/** The part of unix-dgram's Socket we use (the package ships no types). */
interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

type Sender = { send(lines: string[]): void; close(): void };

function loadUnixDgram(): UnixDgramModule | null {
  try {
    const require = createRequire(import.meta.url);
    const mod: unknown = require('unix-dgram');
    if (mod && typeof (mod as { createSocket?: unknown }).createSocket === 'function') return mod as UnixDgramModule;
  } catch {
    // optionalDependency not installed or not built for this platform: use the spawn fallback.
  }
  return null;
}

function addonSender(mod: UnixDgramModule, path: string, log: Logger): Sender | null {
  let sock: UnixDgramSocket;
  try {
    sock = mod.createSocket('unix_dgram');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'sd_notify_socket_failed');
    return null;
  }
  sock.on('error', (err) => log.warn({ err: err.message }, 'sd_notify_send_failed'));
  return {
    send(lines) {
      const buf = Buffer.from(lines.join('\n'), 'utf8');
      sock.send(buf, 0, buf.length, path, (err) => {
        if (err) log.warn({ err: err.message, socket: path }, 'sd_notify_send_failed');
      });
    },
    close() {
      try {
        sock.close();
      } catch {
        // already closed
      }
    },
  };
}

function spawnSender(socket: string, binary: string, log: Logger): Sender {
  return {
    send(lines) {
      // --pid makes systemd-notify send MAINPID=<us> and, when root, our PID as the sender.
      const child = spawn(binary, [`--pid=${process.pid}`, ...lines], {
        env: { ...process.env, NOTIFY_SOCKET: socket },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err) => log.warn({ err: err.message, binary }, 'sd_notify_spawn_failed'));
      child.on('exit', (code) => {
        if (code !== 0) log.warn({ code, stderr: stderr.trim() }, 'sd_notify_send_failed');
      });
      child.unref();
    },
    close() {},
  };
}

/** The watchdog interval for this process in ms, or 0 (sd_watchdog_enabled(3) rules). */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number = process.pid): number {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return 0;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return 0;
  // Half the timeout, as sd_watchdog_enabled(3) recommends, so one late tick is not fatal.
  return Math.max(1, Math.floor(usec / 2000));
}

const disabled: Notifier = {
  enabled: false,
  watchdogMs: 0,
  ready() {},
  reloading() {},
  stopping() {},
  status() {},
  startWatchdog() {},
  close() {},
};

/** Sanitise free text for one STATUS= line: the protocol separates variables by newlines. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export function createNotifier(env: NodeJS.ProcessEnv, log: Logger, opts: NotifierOptions = {}): Notifier {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return disabled;
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    log.warn({ socket }, 'sd_notify_socket_invalid');
    return disabled;
  }
  let sender: Sender | null = null;
  if (opts.transport !== 'spawn' && socket.startsWith('/')) {
    const mod = loadUnixDgram();
    if (mod) sender = addonSender(mod, socket, log);
  }
  const transport = sender ? 'unix-dgram' : 'systemd-notify';
  sender ??= spawnSender(socket, opts.notifyBinary ?? 'systemd-notify', log);
  log.debug({ socket, transport }, 'sd_notify_enabled');

  const watchdogMs = watchdogInterval(env);
  let timer: NodeJS.Timeout | null = null;
  let lastStatus: string | null = null;
  let closed = false;
  const out = sender;
  const send = (lines: string[]): void => {
    if (!closed) out.send(lines);
  };

  return {
    enabled: true,
    watchdogMs,
    ready(status) {
      const lines = ['READY=1'];
      if (status !== undefined) {
        lastStatus = oneLine(status);
        lines.push(`STATUS=${lastStatus}`);
      }
      send(lines);
    },
    reloading() {
      // MONOTONIC_USEC is what systemd ≥253 wants with RELOADING=1 for Type=notify-reload; older ones ignore it.
      const usec = process.hrtime.bigint() / 1000n;
      send(['RELOADING=1', `MONOTONIC_USEC=${usec}`]);
    },
    stopping() {
      send(['STOPPING=1']);
    },
    status(text) {
      const line = oneLine(text);
      if (line === lastStatus) return;
      lastStatus = line;
      send([`STATUS=${line}`]);
    },
    startWatchdog() {
      if (watchdogMs === 0 || timer || closed) return;
      // A plain event-loop timer on purpose: if the loop is blocked, the pings stop.
      timer = setInterval(() => send(['WATCHDOG=1']), watchdogMs);
      timer.unref();
      send(['WATCHDOG=1']);
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      out.close();
    },
  };
}

/** The STATUS= line `systemctl status outpost` shows: the numbers an operator checks first. */
export function statusText(s: BrokerStats): string {
  return (
    `${s['connections.count']} connections, ${s['sessions.count']} sessions, ${s['subscriptions.count']} subscriptions, ` +
    `${s['mqueue.total']} queued, ${s['inflight.total']} inflight, ${s['retained.count']} retained`
  );
}
