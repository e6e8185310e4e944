#!/bin/sh
# Boot an Outpost image's root filesystem under systemd-nspawn (systemd as PID 1; an arm64 or armhf
# tree runs through qemu-user-static) and check what its first boot must do: outpost-first-boot
# before outpost.service, outpost.service active after READY=1 with its STATUS= text, the
# first-boot report (admin password, certificate) on the boot partition, MQTT on 1883 and MQTT
# over TLS on 8883 with the first-boot certificate. A copy is booted; the input is not changed.
#
# Not part of `npm test`: it needs root and, under emulation, minutes.
#   sudo scripts/image-nspawn-check.sh --rootfs DIR     a tree from build.sh --keep-rootfs DIR
#   sudo scripts/image-nspawn-check.sh --image FILE     an image from build.sh: its three partitions
#                                                       are copied out without mounting (debugfs
#                                                       rdump, mcopy), as a card would hold them
# Options: --timeout SECONDS (default 900) for the whole boot; --keep DIR keeps the booted copy;
#   --qemu FILE   a newer qemu-aarch64 to run the arm64 tree with: trixie's systemd 257 starts every
#                 service with clone(CLONE_PIDFD), which qemu-user 7.2 (Debian 12) refuses (EINVAL:
#                 "Failed to spawn executor: Invalid argument"); 10.0 (Debian 13's qemu-user) works.
#                 It is registered as an extra binfmt_misc entry while the check runs and removed
#                 after; binfmt_misc is machine-wide, so every arm64 program started meanwhile on
#                 this machine runs under FILE too.
# Exit 0 = every check passed. The container has no network but loopback (--private-network).
set -eu

rootfs=
img=
timeout=900
keep=
qemu=
binfmt=/proc/sys/fs/binfmt_misc
entry=outpost-nspawn-aarch64

say() { printf 'image-nspawn-check: %s\n' "$*"; }
die() { printf 'image-nspawn-check: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --rootfs) [ $# -ge 2 ] || die "--rootfs needs a directory"; rootfs=$2; shift ;;
    --image) [ $# -ge 2 ] || die "--image needs a file"; img=$2; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; timeout=$2; shift ;;
    --keep) [ $# -ge 2 ] || die "--keep needs a directory"; keep=$2; shift ;;
    --qemu) [ $# -ge 2 ] || die "--qemu needs a file"; qemu=$2; shift ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
[ -n "$rootfs$img" ] || die "--rootfs DIR or --image FILE is required"
[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn missing: apt-get install systemd-container"

if [ -n "$qemu" ]; then
  [ -x "$qemu" ] || die "no such program: $qemu"
  [ -w "$binfmt/register" ] || die "no binfmt_misc at $binfmt (mount -t binfmt_misc binfmt_misc $binfmt)"
  qemu=$(cd "$(dirname "$qemu")" && pwd)/$(basename "$qemu")
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/outpost-nspawn-check.XXXXXX")
cleanup() {
  [ ! -e "$binfmt/$entry" ] || echo -1 >"$binfmt/$entry"
  [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
root=$work/root
[ -z "$keep" ] || { rm -rf "$keep"; mkdir -p "$keep"; work=$(cd "$keep" && pwd); root=$work/root; }

t0=$(date +%s)
if [ -n "$rootfs" ]; then
  [ -f "$rootfs/etc/os-release" ] || die "$rootfs is not a root filesystem"
  say "copying $rootfs"
  cp -a "$rootfs" "$root"
else
  [ -f "$img" ] || die "no such file: $img"
  for t in sfdisk debugfs mcopy; do command -v "$t" >/dev/null || die "$t missing"; done
  say "copying the partitions of $img out (no mount)"
  mkdir -p "$root"
  # start and size (sectors) of partition N
  part() { sfdisk --dump "$img" | awk -v n="$1" -F'[=,]' '$1 ~ n" *: *start" { gsub(/ /, ""); print $2, $4 }'; }
  for p in 1 2 3; do
    # shellcheck disable=SC2046 # "start size", two words on purpose
    set -- $(part "$p")
    [ $# -eq 2 ] || die "$img has no partition $p"
    dd if="$img" of="$work/p$p" bs=512 skip="$1" count="$2" status=none
  done
  debugfs -R "rdump / $root" "$work/p2" >/dev/null 2>&1 || die "debugfs rdump of the root partition failed"
  # rdump makes a directory named after the source; "/" lands in $root itself on e2fsprogs 1.47.
  mkdir -p "$root/var/lib/outpost" "$root/boot/firmware"
  debugfs -R "rdump / $root/var/lib/outpost" "$work/p3" >/dev/null 2>&1 || die "debugfs rdump of the data partition failed"
  chown "$(debugfs -R 'stat /' "$work/p3" 2>/dev/null | awk '/^User:/ { print $2 ":" $4; exit }')" "$root/var/lib/outpost"
  mcopy -s -p -m -n -i "$work/p1" '::/*' "$root/boot/firmware/"
  rm -f "$work/p1" "$work/p2" "$work/p3"
fi
[ -x "$root/lib/systemd/systemd" ] || [ -x "$root/usr/lib/systemd/systemd" ] || die "no systemd in the image"
say "copied in $(($(date +%s) - t0)) s"

# Under qemu-user the executor cannot set up a mount namespace, credentials or seccomp filters
# ("Failed at step NAMESPACE/CREDENTIALS ...: Invalid argument", qemu's clone/mount emulation), so
# in this copy only, the units that use them run without that sandbox. What the sandbox allows is
# checked natively by scripts/systemd-nspawn-test.sh; here the point is the image's own boot.
tree_arch=$(awk '/^Package: base-files$/ { p = 1 } p && /^Architecture:/ { print $2; exit }' "$root/var/lib/dpkg/status" 2>/dev/null || true)
if [ -n "$tree_arch" ] && [ "$tree_arch" != "$(dpkg --print-architecture)" ]; then
  say "$tree_arch tree on $(dpkg --print-architecture): outpost, journald and networkd run without their namespace/credential/seccomp sandbox in this copy (qemu-user cannot set it up)"
  for u in outpost systemd-journald systemd-networkd systemd-resolved systemd-timesyncd; do
    mkdir -p "$root/etc/systemd/system/$u.service.d"
    cat >"$root/etc/systemd/system/$u.service.d/zz-emulated-check.conf" <<'EOF'
[Service]
ProtectSystem=no
ProtectHome=no
PrivateTmp=no
PrivateDevices=no
PrivateMounts=no
PrivateNetwork=no
ProtectKernelTunables=no
ProtectKernelModules=no
ProtectKernelLogs=no
ProtectControlGroups=no
ProtectClock=no
ProtectHostname=no
ProtectProc=default
ProcSubset=all
ReadWritePaths=
ReadOnlyPaths=
InaccessiblePaths=
BindReadOnlyPaths=
ImportCredential=
LoadCredential=
SystemCallFilter=
SystemCallArchitectures=
RestrictNamespaces=no
RestrictAddressFamilies=
RestrictRealtime=no
RestrictSUIDSGID=no
LockPersonality=no
MemoryDenyWriteExecute=no
NoNewPrivileges=no
CapabilityBoundingSet=~
EOF
  done
fi

# The check runs inside, once outpost.service has started (or failed) and the report is written.
cat >"$root/usr/local/sbin/outpost-image-check" <<'EOF'
#!/bin/sh
out=/root/image-check.txt
exec >"$out" 2>&1
show() { systemctl show -p "$1" --value "$2"; }
i=0
while [ "$(show ActiveState outpost-first-boot-report.service)" = activating ] && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
echo "outpost.service is-active: $(systemctl is-active outpost.service)"
echo "outpost.service $(systemctl show -p StatusText outpost.service)"
echo "outpost.service NRestarts=$(show NRestarts outpost.service)"
echo "first-boot prepare: Result=$(show Result outpost-first-boot.service) enabled=$(systemctl is-enabled outpost-first-boot.service)"
echo "first-boot report:  Result=$(show Result outpost-first-boot-report.service) enabled=$(systemctl is-enabled outpost-first-boot-report.service)"
p=$(show ExecMainExitTimestampMonotonic outpost-first-boot.service)
o=$(show ExecMainStartTimestampMonotonic outpost.service)
[ "$p" -gt 0 ] && [ "$p" -le "$o" ] && echo "order: first-boot prepare ended before outpost.service started" || echo "order: WRONG (prepare ended $p, outpost started $o)"
echo "machine-id: $(cat /etc/machine-id)"
echo "node name: $(grep '^name = ' /etc/outpost/outpost.toml)"
echo "--- /boot/firmware/outpost-first-boot.txt ($(stat -c '%a %U' /boot/firmware/outpost-first-boot.txt 2>/dev/null || echo missing))"
cat /boot/firmware/outpost-first-boot.txt 2>/dev/null
echo "--- MQTT and MQTT over TLS on this box"
node -e '
const net = require("node:net"), tls = require("node:tls"), fs = require("node:fs");
// MQTT 3.1.1 CONNECT, clean session, keepalive 10, client id "imgcheck".
const connect = Buffer.from([0x10, 20, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 8, ...Buffer.from("imgcheck")]);
const check = (name, open) => new Promise((done) => {
  const s = open();
  const timer = setTimeout(() => { console.log(name + ": no CONNACK in 20 s"); s.destroy(); done(false); }, 20000);
  s.on("error", (e) => { clearTimeout(timer); console.log(name + ": " + e.message); done(false); });
  s.once(s instanceof tls.TLSSocket ? "secureConnect" : "connect", () => s.write(connect));
  s.once("data", (d) => { clearTimeout(timer); console.log(name + ": CONNACK " + d.toString("hex") + (s.authorized !== undefined ? " (certificate verified: " + s.authorized + ")" : "")); s.destroy(); done(d[0] === 0x20 && d[3] === 0); });
});
(async () => {
  const a = await check("mqtt 1883", () => net.connect(1883, "127.0.0.1"));
  const ca = fs.readFileSync("/etc/outpost/certs/mqtt-server.crt");
  const host = fs.readFileSync("/etc/hostname", "utf8").trim();
  const b = await check("mqtts 8883", () => tls.connect({ port: 8883, host: "127.0.0.1", servername: host, ca }));
  console.log(a && b ? "mqtt: ok" : "mqtt: FAILED");
})();
'
echo "--- systemd-analyze"
systemd-analyze 2>&1 | head -3
echo "--- failed units"
systemctl --failed --no-legend --plain
echo "--- journal of outpost.service (last 15 lines)"
journalctl -b -u outpost.service --no-pager -o cat | tail -15
echo "--- console lines of the report unit"
journalctl -b -u outpost-first-boot-report.service --no-pager -o cat | tail -5
echo DONE
systemctl poweroff --no-block
EOF
chmod 0755 "$root/usr/local/sbin/outpost-image-check"
cat >"$root/etc/systemd/system/outpost-image-check.service" <<'EOF'
[Unit]
Description=Outpost image check (scripts/image-nspawn-check.sh)
After=outpost.service outpost-first-boot-report.service multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/outpost-image-check
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/outpost-image-check.service "$root/etc/systemd/system/multi-user.target.wants/outpost-image-check.service"

if [ -n "$qemu" ]; then
  # The ELF header of an aarch64 executable, as Debian's qemu-aarch64 entry matches it. The newest
  # entry wins; F opens FILE now, so the container needs no copy of it; O hands qemu the program
  # as an open file, because systemd 257 starts its executor as /proc/self/fd/N of a close-on-exec
  # fd, which qemu could not open again by that path (every unit then fails with status 1).
  [ ! -e "$binfmt/$entry" ] || echo -1 >"$binfmt/$entry"
  printf ':%s:M::%s:%s:%s:POF' "$entry" \
    '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00' \
    '\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff' "$qemu" >"$binfmt/register"
  say "arm64 programs run under $("$qemu" --version | head -1) until the check ends"
fi
say "booting (systemd as PID 1$( [ "$(uname -m)" = x86_64 ] && echo ', emulated through qemu-user-static' ); at most $timeout s)"
t0=$(date +%s)
timeout "$timeout" systemd-nspawn --quiet --register=no --keep-unit --private-network \
  --machine=outpost-check -D "$root" -b >"$work/console.log" 2>&1 || true
say "container ran $(($(date +%s) - t0)) s (boot, first boot, outpost READY, checks, poweroff)"

result=$root/root/image-check.txt
if [ ! -f "$result" ]; then
  say "no result; last console lines:"
  tail -40 "$work/console.log"
  exit 1
fi
cat "$result"
echo "--- what the console showed of the first-boot report"
grep -A3 'Dashboard and HTTP API' "$work/console.log" || echo "(nothing)"
ok=yes
grep -q '^outpost.service is-active: active$' "$result" || ok=no
grep -q '^outpost.service StatusText=.' "$result" || ok=no
grep -q '^order: first-boot prepare ended before' "$result" || ok=no
grep -q '^  password: ' "$result" || ok=no
grep -q '^mqtt: ok$' "$result" || ok=no
grep -q '^DONE$' "$result" || ok=no
[ "$ok" = yes ] || { say "FAILED (see above)"; exit 1; }
say "all checks passed"
