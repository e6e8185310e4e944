#!/usr/bin/env bash
# Real-systemd check of systemd/outpost.service: boots a minimal Debian bookworm under
# systemd-nspawn with systemd as PID 1, installs the unit, the sysusers snippet and this build,
# and verifies what no unit test can: Type=notify readiness, the STATUS line, the watchdog
# restarting a wedged daemon, ExecReload, the sandbox still letting the daemon run, outpostctl
# working as root through the local key, and a clean STOPPING on stop.
#
# Not part of `npm test` (needs root, debootstrap and systemd-container, ~75 s the first time).
#   sudo apt-get install debootstrap systemd-container
#   npm run build
#   sudo scripts/systemd-nspawn-test.sh            # exit 0 = every check passed
# Environment:
#   OUTPOST_NSPAWN_ROOTFS  cached pristine rootfs (default /var/tmp/outpost-nspawn-rootfs)
#   OUTPOST_NSPAWN_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   OUTPOST_NSPAWN_ENTRY   JS file /usr/bin/outpost runs (default bin/outpost.js of this build)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
pristine=${OUTPOST_NSPAWN_ROOTFS:-/var/tmp/outpost-nspawn-rootfs}
mirror=${OUTPOST_NSPAWN_MIRROR:-http://deb.debian.org/debian}
entry=${OUTPOST_NSPAWN_ENTRY:-bin/outpost.js}

die() { echo "systemd-nspawn-test: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn boots a container)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn missing: apt-get install systemd-container"
[ -f "$here/dist/src/runtime/main.js" ] || die "no build: run npm run build first"
node_bin=$(command -v node) || die "node not on PATH"

if [ ! -x "$pristine/lib/systemd/systemd" ]; then
  echo "== debootstrap bookworm into $pristine (once; about a minute)"
  rm -rf "$pristine"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps bookworm "$pristine" "$mirror" >/dev/null
fi

work=$(mktemp -d /var/tmp/outpost-nspawn.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
echo "== copying rootfs and this build"
cp -a "$pristine" "$root"
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/opt/outpost"
cp -a "$here/package.json" "$here/bin" "$here/dist" "$here/node_modules" "$root/opt/outpost/"
if [ "$entry" != bin/outpost.js ]; then cp "$entry" "$root/opt/outpost/entry.mjs"; entry=entry.mjs; fi
cat > "$root/usr/bin/outpost" <<EOF
#!/bin/sh
exec /usr/local/bin/node /opt/outpost/$entry "\$@"
EOF
cat > "$root/usr/bin/outpostctl" <<'EOF'
#!/bin/sh
exec /usr/local/bin/node /opt/outpost/bin/outpostctl.js "$@"
EOF
chmod 0755 "$root/usr/bin/outpost" "$root/usr/bin/outpostctl"

install -D -m 0644 "$here/systemd/outpost.service" "$root/etc/systemd/system/outpost.service"
install -D -m 0644 "$here/systemd/outpost.sysusers.conf" "$root/usr/lib/sysusers.d/outpost.conf"
# A short watchdog and stop timeout so the wedge check takes seconds; everything else as shipped.
mkdir -p "$root/etc/systemd/system/outpost.service.d"
cat > "$root/etc/systemd/system/outpost.service.d/test.conf" <<'EOF'
[Service]
WatchdogSec=3s
TimeoutStopSec=5s
RestartSec=1s
EOF
mkdir -p "$root/etc/outpost"
cat > "$root/etc/outpost/outpost.toml" <<'EOF'
[mqtt]
bind = "127.0.0.1"
port = 1883

[api]
bind = "127.0.0.1"
port = 18083
EOF
ln -sf /etc/systemd/system/outpost.service "$root/etc/systemd/system/multi-user.target.wants/outpost.service"

# The checks run inside the container as a oneshot unit after boot, then power it off.
cat > "$root/opt/check.sh" <<'EOF'
#!/bin/bash
out=/opt/result.txt
: > $out
pass() { echo "PASS $*" >> $out; }
fail() { echo "FAIL $*" >> $out; journalctl -u outpost --no-pager > /opt/journal.txt 2>&1; }
show() { systemctl show -p "$1" --value outpost; }
wait_for() { for _ in $(seq 1 "$2"); do eval "$1" && return 0; sleep 0.5; done; return 1; }

if wait_for '[ "$(show ActiveState)" = active ]' 60; then pass "outpost.service active after READY=1"; else fail "not active: $(show ActiveState)/$(show SubState) $(show Result)"; fi
[ "$(show Type)" = notify ] && pass "Type=notify" || fail "Type is $(show Type)"
wait_for '[ -n "$(show StatusText)" ]' 20 && pass "STATUS= reached systemd: $(show StatusText)" || fail "no StatusText"
user=$(ps -o user= -p "$(show MainPID)" | tr -d ' ')
[ "$user" = outpost ] && pass "runs as the sysusers user outpost" || fail "runs as $user"
[ -d /var/lib/outpost ] && [ "$(stat -c %U /var/lib/outpost)" = outpost ] && pass "StateDirectory owned by outpost" || fail "StateDirectory"
if outpostctl --data-dir /var/lib/outpost status > /tmp/ctl.txt 2>&1; then pass "outpostctl status: $(head -1 /tmp/ctl.txt)"; else fail "outpostctl status: $(cat /tmp/ctl.txt)"; fi
outpostctl --url http://127.0.0.1:1 status >/dev/null 2>&1; rc=$?
[ $rc = 3 ] && pass "outpostctl exits 3 when the daemon is unreachable" || fail "outpostctl unreachable rc=$rc"

before=$(show NRestarts); pid=$(show MainPID)
timeout 20 systemctl reload outpost && wait_for '[ "$(show ActiveState)" = active ]' 20 && [ "$(show MainPID)" = "$pid" ] && pass "systemctl reload keeps the process" || fail "reload: $(show ActiveState) pid $(show MainPID) vs $pid"

# Wedge the daemon: a stopped process sends no WATCHDOG=1, as a blocked event loop would not.
kill -STOP "$pid"
if wait_for '[ "$(show NRestarts)" -gt "$before" ] && [ "$(show ActiveState)" = active ]' 60; then
  pass "watchdog restarted the wedged daemon (restarts $before -> $(show NRestarts), pid $pid -> $(show MainPID))"
else
  fail "no watchdog restart: $(show ActiveState)/$(show SubState) restarts=$(show NRestarts)"
fi
journalctl -u outpost --no-pager | grep -q 'Watchdog timeout' && pass "journal shows the watchdog timeout" || fail "no 'Watchdog timeout' in the journal"

timeout 30 systemctl stop outpost
[ "$(show Result)" = success ] && pass "graceful stop: Result=success" || fail "stop Result=$(show Result)"
journalctl -u outpost --no-pager > /opt/journal.txt 2>&1
echo DONE >> $out
systemctl poweroff --no-block
EOF
chmod 0755 "$root/opt/check.sh"
cat > "$root/etc/systemd/system/outpost-check.service" <<'EOF'
[Unit]
Description=Outpost nspawn checks
After=outpost.service
[Service]
Type=oneshot
ExecStart=/opt/check.sh
[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/outpost-check.service "$root/etc/systemd/system/multi-user.target.wants/outpost-check.service"

echo "== booting the container (systemd as PID 1)"
started=$(date +%s)
timeout 240 systemd-nspawn --quiet --register=no --keep-unit -D "$root" -b >"$work/console.log" 2>&1 || true
echo "== container ran $(( $(date +%s) - started )) s"

result="$root/opt/result.txt"
if [ ! -f "$result" ]; then
  echo "no result file; console:"; tail -40 "$work/console.log"; exit 1
fi
cat "$result"
if grep -q '^FAIL' "$result" || ! grep -q '^DONE' "$result"; then
  echo "== journal of outpost.service"; tail -60 "$root/opt/journal.txt" 2>/dev/null || true
  exit 1
fi
echo "systemd-nspawn-test: all checks passed"
