#!/usr/bin/env bash
# Install test of the amd64 .deb on a real Debian 13 (trixie) booted under systemd-nspawn with
# systemd as PID 1: apt-get install (nodejs 20.19 comes from trixie), the service is active after
# READY=1, an MQTT message goes through the installed daemon, then an upgrade to a newer version
# (data and an edited conffile survive), remove (data and config stay) and purge (both go).
# Prints one PASS/FAIL line per check; exit 0 when every check passed.
#
#   sudo scripts/deb-install-test.sh [--deb FILE] [--no-build]
#
#   --deb FILE    test this .deb (default: build one with scripts/build-deb.sh amd64 into a temp dir)
#   --no-build    pass --no-build to build-deb.sh (use the existing dist/)
#
# Needs root, debootstrap, systemd-container (systemd-nspawn), dpkg-dev, util-linux (nsenter), lintian.
# The container has its own network namespace (--private-network): nothing binds on the host's
# ports, so parallel test runs and the host's own services cannot collide with it. It therefore
# has no network: the trixie rootfs is prepared once per day with the nodejs packages already
# downloaded into apt's cache (/var/tmp/outpost-deb-trixie-YYYYMMDD, ~1 min from nothing), and
# apt-get install resolves nodejs from trixie's index and installs it from that cache.
# Environment:
#   OUTPOST_DEB_ROOTFS   the cached rootfs (default /var/tmp/outpost-deb-trixie-<UTC date>)
#   OUTPOST_DEB_MIRROR   Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mirror=${OUTPOST_DEB_MIRROR:-http://deb.debian.org/debian}
cache=${OUTPOST_DEB_ROOTFS:-/var/tmp/outpost-deb-trixie-$(date -u +%Y%m%d)}
deb=
build_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --deb) [ $# -ge 2 ] || { echo "--deb needs a file" >&2; exit 2; }; deb=$(readlink -f "$2"); shift ;;
    --no-build) build_args+=(--no-build) ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

t_start=$(date +%s)
elapsed() { echo $(( $(date +%s) - t_start )); }
say() { printf '== [%3ss] %s\n' "$(elapsed)" "$*"; }
failures=0
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }
die() { printf 'deb-install-test: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn boots a container)"
for tool in debootstrap systemd-nspawn nsenter dpkg-deb flock; do
  command -v $tool >/dev/null || die "$tool is missing (apt-get install debootstrap systemd-container dpkg-dev util-linux)"
done

work=$(mktemp -d /var/tmp/outpost-deb-test.XXXXXX)
nspawn_pid=
cleanup() {
  [ -z "${lintian_pid:-}" ] || kill "$lintian_pid" 2>/dev/null || true
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- the packages under test ------------------------------------------------------------------------
if [ -z "$deb" ]; then
  say "building the amd64 .deb"
  "$here/scripts/build-deb.sh" amd64 "${build_args[@]}" --out "$work" >"$work/build.log" 2>&1 ||
    { tail -20 "$work/build.log"; die "build-deb.sh failed"; }
  deb=$(tail -1 "$work/build.log")
fi
[ -f "$deb" ] || die "no package at $deb"
v1=$(dpkg-deb -f "$deb" Version)
# The upgrade: the same package with a bumped version and a changed default config, so dpkg meets a
# conffile changed on both sides (the user's edit must win with --force-confold).
v2="${v1%-*}+upgradetest-${v1##*-}"
mkdir -p "$work/repack" "$work/debs"
dpkg-deb -R "$deb" "$work/repack/root"
sed -i "s/^Version: .*/Version: $v2/" "$work/repack/root/DEBIAN/control"
printf '\n# (package default changed by the upgrade test)\n' >>"$work/repack/root/etc/outpost/outpost.toml"
(cd "$work/repack/root" && md5sum etc/outpost/outpost.toml) >"$work/repack/md5"
sed -i "s|^[0-9a-f]*  etc/outpost/outpost.toml\$|$(cat "$work/repack/md5")|" "$work/repack/root/DEBIAN/md5sums"
cp "$deb" "$work/debs/outpost_v1.deb"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$work/repack/root" "$work/debs/outpost_v2.deb" >/dev/null
rm -rf "$work/repack"
say "packages: $v1 and upgrade $v2"

# lintian on the package under test, in the background while the container runs: no error or
# warning may remain (every override in scripts/deb/lintian-overrides says why).
lintian_pid=
if command -v lintian >/dev/null; then
  (lintian --fail-on error,warning --tag-display-limit 0 "$work/debs/outpost_v1.deb" >"$work/lintian.log" 2>&1; echo $? >"$work/lintian.rc") &
  lintian_pid=$!
fi

# --- the trixie rootfs, cached per day ---------------------------------------------------------------
exec 9>"$cache.lock"
flock -w 300 9 || die "waited 5 min for another run preparing $cache"
if [ ! -e "$cache/.outpost-ready" ]; then
  say "debootstrap trixie (minbase + systemd) into $cache"
  rm -rf "$cache" "$cache.tmp"
  timeout 600 debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus trixie "$cache.tmp" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
  cp /etc/resolv.conf "$cache.tmp/etc/resolv.conf"
  chroot "$cache.tmp" apt-get clean
  # Only the index and the nodejs packages: the test installs offline from them.
  timeout 300 chroot "$cache.tmp" apt-get update -q >>"$work/debootstrap.log" 2>&1 || die "apt-get update in the rootfs failed"
  timeout 300 chroot "$cache.tmp" apt-get install -q -y --download-only --no-install-recommends nodejs \
    >>"$work/debootstrap.log" 2>&1 || die "downloading nodejs into the rootfs failed"
  touch "$cache.tmp/.outpost-ready"
  mv "$cache.tmp" "$cache"
  # Yesterday's caches go (only under the default naming).
  [ -n "${OUTPOST_DEB_ROOTFS:-}" ] || for old in "${cache%-*}"-*; do
    case $old in "$cache" | "$cache".*) ;; *) [ -e "$old/.outpost-ready" ] && rm -rf "$old" ;; esac
  done
fi
root="$work/root"
cp -a "$cache" "$root"
flock -u 9
say "rootfs ready"

install -d -m 0755 "$root/var/tmp/debs"
install -m 0644 "$work/debs/"*.deb "$root/var/tmp/debs/"
# The MQTT round trip runs inside with MQTT.js as installed by the package.
cat >"$root/var/tmp/roundtrip.cjs" <<'EOF'
// node roundtrip.cjs TOPIC PAYLOAD [--publish] : subscribe, optionally publish (QoS 1, retained),
// print RECEIVED when PAYLOAD arrives on TOPIC; give up after 20 s.
const mqtt = require('/usr/lib/outpost/node_modules/mqtt');
const [topic, payload, mode] = process.argv.slice(2);
const timer = setTimeout(() => { console.log('TIMEOUT'); process.exit(1); }, 20000);
const c = mqtt.connect('mqtt://127.0.0.1:1883', { clientId: `deb-test-${process.pid}`, connectTimeout: 5000, reconnectPeriod: 0 });
c.on('error', (e) => { console.log('ERROR', e.message); process.exit(1); });
c.on('message', (t, p) => {
  if (t === topic && p.toString() === payload) { console.log('RECEIVED'); clearTimeout(timer); c.end(true, () => process.exit(0)); }
});
c.on('connect', () => {
  c.subscribe(topic, { qos: 1 }, (err) => {
    if (err) { console.log('SUBACK', err.message); process.exit(1); }
    if (mode === '--publish') c.publish(topic, payload, { qos: 1, retain: true });
  });
});
EOF

# From here on every check reports PASS/FAIL itself and the run goes on to clean up.
set +e
register=()
[ -d /run/systemd/system ] || register=(--register=no --keep-unit)

# --- into an image: installed where systemd does not run (as an image build's chroot does) ---------
say "apt-get install into a root where systemd is not running (image build)"
cp -a "$root" "$work/image"
nspawn_cmd=(systemd-nspawn --quiet "${register[@]}" --private-network -D "$work/image" --setenv=DEBIAN_FRONTEND=noninteractive)
if timeout 180 "${nspawn_cmd[@]}" apt-get install -y --no-install-recommends /var/tmp/debs/outpost_v1.deb >"$work/apt0.log" 2>&1 </dev/null; then
  img="$work/image"
  # Names as the image sees them (the host's /etc/group numbers differently).
  og=$(awk -F: '$1 == "outpost" { print $3 }' "$img/etc/group")
  tg=$(stat -c %g "$img/etc/outpost/outpost.toml")
  if grep -q '^outpost:' "$img/etc/passwd" && [ -L "$img/etc/systemd/system/multi-user.target.wants/outpost.service" ] &&
    [ ! -e "$img/etc/outpost/api-keys" ] && [ -n "$og" ] && [ "$tg" = "$og" ]; then
    pass "image install: user created, service enabled (not started), config group outpost, no API key baked in"
  else
    fail "image install: passwd=$(grep -c '^outpost:' "$img/etc/passwd") wants=$(ls "$img/etc/systemd/system/multi-user.target.wants/" | tr '\n' ' ') api-keys=$([ -e "$img/etc/outpost/api-keys" ] && echo present || echo absent) toml-gid=$tg outpost-gid=$og"
  fi
else
  fail "apt-get install into the image root failed:"; tail -20 "$work/apt0.log" | sed 's/^/    /'
fi
rm -rf "$work/image"

# --- boot --------------------------------------------------------------------------------------------
machine="outpost-deb-$$-$RANDOM"
say "booting $machine (systemd-nspawn --boot --private-network)"
systemd-nspawn --quiet "${register[@]}" --private-network --machine="$machine" -D "$root" --boot \
  >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
leader=
# The container's PID 1 is systemd itself: nspawn first forks a helper child of its own, which
# exits once the container runs (entering that one's namespaces failed now and then).
for _ in $(seq 1 200); do
  leader=
  for pid in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] && [ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then
      leader=$pid
      break
    fi
  done
  [ -n "$leader" ] && break
  sleep 0.1
done
[ -n "$leader" ] || { tail -20 "$work/console.log"; die "the container did not start"; }

# Run a shell command inside the container (bounded by timeout).
inside() {
  timeout "${T:-60}" nsenter --target "$leader" --mount --uts --ipc --net --pid -- \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    /bin/bash -c "$1"
}
wait_inside() { # $1 command, $2 seconds
  local end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$end" ]; do inside "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
if wait_inside 'state=$(systemctl is-system-running 2>/dev/null); [ "$state" = running ] || [ "$state" = degraded ]' 60; then
  pass "container booted with systemd as PID 1 ($(inside 'systemctl is-system-running' 2>/dev/null || true))"
else
  fail "container did not finish booting: $(inside 'systemctl is-system-running' 2>&1 || true)"
fi

show() { inside "systemctl show -p $1 --value outpost.service" 2>/dev/null; }
journal() { inside 'journalctl -u outpost.service --no-pager -n 40' 2>&1 | sed 's/^/    /'; }
check_active() { # $1 label
  if wait_inside '[ "$(systemctl is-active outpost.service)" = active ]' 60; then
    pass "$1: outpost.service active after READY=1 (Type=$(show Type), status: $(show StatusText))"
  else
    fail "$1: outpost.service is $(show ActiveState)/$(show SubState) ($(show Result))"; journal
  fi
}
roundtrip() { # $1 label, $2 topic, $3 payload, $4 --publish or ''
  local out
  out=$(T=40 inside "node /var/tmp/roundtrip.cjs '$2' '$3' $4" 2>&1) || true
  if [ "$out" = RECEIVED ]; then pass "$1"; else fail "$1: $out"; journal; fi
}

# --- install -----------------------------------------------------------------------------------------
say "apt-get install ./outpost_$v1 (nodejs from trixie)"
t0=$(date +%s)
if T=180 inside 'apt-get install -y --no-install-recommends /var/tmp/debs/outpost_v1.deb' >"$work/apt1.log" 2>&1; then
  pass "apt-get install $v1 with $(inside "dpkg-query -W -f='nodejs \${Version}' nodejs") in $(( $(date +%s) - t0 )) s"
else
  fail "apt-get install failed:"; tail -25 "$work/apt1.log" | sed 's/^/    /'
fi
check_active install
[ "$(show Type)" = notify ] && pass "unit is Type=notify (active means READY=1 arrived)" || fail "Type is $(show Type)"
user=$(inside 'stat -c %U "/proc/$(systemctl show -p MainPID --value outpost)"' 2>/dev/null)
[ "$user" = outpost ] && pass "runs as the system user outpost (sysusers)" || fail "runs as '$user'"
perms=$(inside 'stat -c "%U:%G %a" /etc/outpost /etc/outpost/outpost.toml /var/lib/outpost | tr "\n" " "' 2>&1)
[ "$perms" = "root:outpost 750 root:outpost 640 outpost:outpost 750 " ] && pass "tmpfiles: $perms" || fail "permissions: $perms"
inside 'systemctl is-enabled outpost.service' >/dev/null 2>&1 && pass "outpost.service enabled" || fail "outpost.service not enabled"
roundtrip "MQTT publish/subscribe round trip through the installed daemon" deb/test hello-v1 --publish
inside 'outpostctl status' >"$work/ctl.txt" 2>&1 && pass "outpostctl status as root: $(head -1 "$work/ctl.txt")" || fail "outpostctl status: $(cat "$work/ctl.txt")"
# The DTLS addon is built against Node's bundled OpenSSL headers; Debian's nodejs links the system
# libssl3 instead, and the addon must find its SSL_*/DTLS* symbols there.
cat >"$root/var/tmp/dtls-check.mjs" <<'EOF'
const m = await import('/usr/lib/outpost/dist/gateways/transport/dtls/index.js');
console.log(JSON.stringify(m.dtlsSupport()), 'openssl', process.versions.openssl);
EOF
dtls=$(inside 'node /var/tmp/dtls-check.mjs' 2>&1)
case $dtls in *'"ok":true'*) pass "the DTLS addon loads in Debian's nodejs: $dtls" ;; *) fail "DTLS addon under Debian's nodejs: $dtls" ;; esac

# The user's state: an edited conffile and a marker beside the database.
inside 'printf "\n# edited by the admin\n" >> /etc/outpost/outpost.toml && echo kept > /var/lib/outpost/deb-test-marker'
db_before=$(inside 'md5sum /var/lib/outpost/deb-test-marker && stat -c "%n %U" /var/lib/outpost/outpost.db' 2>&1)

# --- upgrade -----------------------------------------------------------------------------------------
say "upgrade to $v2"
if T=180 inside 'apt-get install -y -o Dpkg::Options::=--force-confold /var/tmp/debs/outpost_v2.deb' >"$work/apt2.log" 2>&1; then
  got=$(inside "dpkg-query -W -f='\${Version}' outpost")
  [ "$got" = "$v2" ] && pass "upgraded to $got" || fail "version after upgrade is $got"
else
  fail "upgrade failed:"; tail -25 "$work/apt2.log" | sed 's/^/    /'
fi
check_active upgrade
inside 'grep -q "^# edited by the admin" /etc/outpost/outpost.toml' && pass "the edited conffile survived the upgrade (new default in outpost.toml.dpkg-dist: $(inside '[ -f /etc/outpost/outpost.toml.dpkg-dist ] && echo yes || echo no'))" || fail "the admin's edit of outpost.toml is gone"
inside '[ "$(cat /var/lib/outpost/deb-test-marker)" = kept ]' && pass "data kept across the upgrade" || fail "/var/lib/outpost lost its data"
roundtrip "the retained message published before the upgrade is still there" deb/test hello-v1 ''
roundtrip "MQTT round trip after the upgrade" deb/test2 hello-v2 --publish

# --- remove ------------------------------------------------------------------------------------------
say "apt-get remove"
if T=120 inside 'apt-get remove -y outpost' >"$work/apt3.log" 2>&1; then pass "apt-get remove"; else fail "remove failed:"; tail -15 "$work/apt3.log" | sed 's/^/    /'; fi
state=$(inside 'systemctl is-active outpost.service' 2>/dev/null || true)
[ "$state" != active ] && pass "service stopped on remove ($state)" || fail "service still $state after remove"
inside '[ ! -e /usr/lib/outpost ] && [ ! -e /usr/bin/outpost ]' && pass "app and commands removed" || fail "app files left after remove"
# The store and the marker stay; the daemon's run-time files (pid, lock, WAL) went with its stop.
db_after=$(inside 'md5sum /var/lib/outpost/deb-test-marker && stat -c "%n %U" /var/lib/outpost/outpost.db' 2>&1)
[ "$db_after" = "$db_before" ] && inside '[ -s /var/lib/outpost/outpost.db ]' &&
  pass "data kept after remove: $(inside 'ls /var/lib/outpost | tr "\n" " "')" || fail "data after remove: '$db_after' (before: '$db_before')"
inside 'grep -q "^# edited by the admin" /etc/outpost/outpost.toml' && pass "config kept after remove" || fail "config gone after remove"

# --- purge -------------------------------------------------------------------------------------------
say "apt-get purge"
if T=120 inside 'apt-get purge -y outpost' >"$work/apt4.log" 2>&1; then pass "apt-get purge"; else fail "purge failed:"; tail -15 "$work/apt4.log" | sed 's/^/    /'; fi
inside '[ ! -e /var/lib/outpost ]' && pass "purge deleted /var/lib/outpost" || fail "/var/lib/outpost left after purge"
inside '[ ! -e /etc/outpost ]' && pass "purge deleted /etc/outpost" || fail "/etc/outpost left after purge: $(inside 'ls -A /etc/outpost' 2>&1)"
inside '! dpkg-query -W -f="\${Status}" outpost 2>/dev/null | grep -q installed' && pass "dpkg no longer knows outpost" || fail "outpost still in dpkg's database"
inside '[ ! -e /etc/systemd/system/multi-user.target.wants/outpost.service ]' && pass "no enablement symlink left" || fail "enablement symlink left after purge"

# --- lintian ---
if [ -n "$lintian_pid" ]; then
  wait "$lintian_pid"
  if [ "$(cat "$work/lintian.rc" 2>/dev/null)" = 0 ]; then
    pass "lintian $(lintian --version | awk '{print $2}'): no errors or warnings"
  else
    fail "lintian:"; grep -E '^[EW]:' "$work/lintian.log" | head -20 | sed 's/^/    /'
  fi
else
  fail "lintian is not installed (apt-get install lintian)"
fi

# --- shut down -----------------------------------------------------------------------------------------
inside 'systemctl poweroff --no-block' >/dev/null 2>&1 || true
for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$nspawn_pid" 2>/dev/null; then fail "container did not power off in 20 s"; else pass "container powered off"; nspawn_pid=; fi

say "done: $failures failed, total $(elapsed) s"
[ $failures = 0 ]
