#!/bin/sh
# Install Outpost from this checkout onto this box, or into a staging root (--destdir) for images
# and tests. Safe to re-run: it upgrades the app in place and never overwrites /etc/outpost/outpost.toml.
#
#   scripts/install.sh [--destdir DIR] [--no-build] [--npm-ci | --link-node-modules | --no-deps]
#                      [--node PATH] [--no-start]
#
#   --destdir DIR         install under DIR (nothing is enabled or started); default: this system
#   --no-build            use the existing dist/ (default: npm ci && npm run build first)
#   --npm-ci              production deps from `npm ci --omit=dev` in the target (needs the registry
#                         or a warm npm cache; compiles better-sqlite3 if no prebuilt binary fits)
#   --link-node-modules   symlink the checkout's node_modules instead (development only: it keeps
#                         dev deps and ties the install to this checkout)
#   --no-deps             no node_modules at all: the caller installs them (the image build does,
#                         inside the target, so native modules match the board's architecture)
#                         default: copy the checkout's node_modules and `npm prune --omit=dev`:
#                         offline, and the native modules are the ones built for this box
#   --node PATH           node the commands run (default: the node on PATH here)
#   --no-start            on this system: enable the units but do not start them
#
# What goes where:
#   /opt/outpost/{package.json,package-lock.json,bin,dist,node_modules}   the app
#   /opt/outpost/{scripts/render-template.mjs,firmware-config/templates/}   sensor config templates
#   /usr/bin/outpost, /usr/bin/outpostctl                                 wrappers running node
#   /usr/lib/systemd/system/outpost.service, /usr/lib/sysusers.d/outpost.conf   from systemd/
#   firmware-config/rootfs/* as is: /etc/systemd/system/outpost-first-boot.service,
#     /etc/udev/rules.d/99-outpost-serial.rules, /usr/lib/tmpfiles.d/outpost.conf,
#     /usr/lib/outpost/first-boot.sh, /etc/outpost/README
#   /etc/outpost/outpost.toml (only if absent; the shipped default is also /opt/outpost/outpost.toml.default)
# Then, on this system with systemd as PID 1: systemd-sysusers, systemd-tmpfiles, udev reload,
# daemon-reload, first boot (node name, API key), enable --now outpost.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
destdir=
build=yes
deps=copy
start=yes
node_target=

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '5,19p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift ;;
    --destdir=*) destdir=${1#--destdir=} ;;
    --no-build) build=no ;;
    --npm-ci) deps=ci ;;
    --link-node-modules) deps='link' ;;
    --no-deps) deps=none ;;
    --node) [ $# -ge 2 ] || die "--node needs a path"; node_target=$2; shift ;;
    --no-start) start=no ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if [ -n "$destdir" ]; then
  mkdir -p "$destdir"
  destdir=$(cd "$destdir" && pwd)
  [ "$destdir" != / ] || destdir=
fi

node_bin=$(command -v node) || die "node not found: install Node.js >= 20.19 first"
# package.json engines: node >= 20.19 (require(esm) and the test runner's needs).
"$node_bin" -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit(maj > 20 || (maj === 20 && min >= 19) ? 0 : 1);
' || die "node $("$node_bin" --version) is too old: Outpost needs >= 20.19"
node_target=${node_target:-$node_bin}

if [ "$build" = yes ]; then
  say "building (npm ci && npm run build)"
  (cd "$src" && npm ci --no-audit --no-fund && npm run build)
fi
[ -f "$src/dist/src/runtime/main.js" ] || die "no build in $src/dist: run npm run build (or drop --no-build)"
[ "$deps" = ci ] || [ "$deps" = none ] || [ -d "$src/node_modules" ] || die "no $src/node_modules: run npm ci first (or use --npm-ci)"

app="$destdir/opt/outpost"
say "installing the app into $app"
# Build the new tree beside the old one and swap, so an interrupted upgrade leaves a working app.
new="$app.new.$$"
rm -rf "$new"
mkdir -p "$new"
trap 'rm -rf "$new"' EXIT
cp -R "$src/package.json" "$src/package-lock.json" "$src/bin" "$src/dist" "$new/"
chmod 0755 "$new/bin/"*.js
# Sensor templates and their renderer, at the same relative paths as in the checkout, for pairing on the box.
mkdir -p "$new/scripts" "$new/firmware-config"
cp "$src/scripts/render-template.mjs" "$new/scripts/"
cp -R "$src/firmware-config/templates" "$new/firmware-config/"
case $deps in
  copy)
    cp -R "$src/node_modules" "$new/node_modules"
    (cd "$new" && npm prune --omit=dev --offline --no-audit --no-fund >/dev/null 2>&1) || die "npm prune --omit=dev failed in $new"
    # prune leaves the emptied @scope directories of dev-only packages behind.
    find "$new/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -exec rmdir {} +
    ;;
  ci)
    (cd "$new" && npm ci --omit=dev --no-audit --no-fund) || die "npm ci --omit=dev failed in $new"
    ;;
  link)
    ln -s "$src/node_modules" "$new/node_modules"
    ;;
  none) ;;
esac
rm -rf "$app.old"
[ ! -e "$app" ] || mv "$app" "$app.old"
mv "$new" "$app"
rm -rf "$app.old"
trap - EXIT

say "installing commands, units and the default config"
mkdir -p "$destdir/usr/bin"
# Wrappers, not symlinks: they pin the node that passed the version check (systemd's PATH may not
# find an nvm or /usr/local node) and find the app relative to themselves, so a --destdir tree
# runs in place.
for cmd in outpost outpostctl; do
  cat >"$destdir/usr/bin/$cmd" <<EOF
#!/bin/sh
# Installed by Outpost's scripts/install.sh.
self=\$(readlink -f "\$0" 2>/dev/null || printf '%s' "\$0")
exec "$node_target" "\$(dirname "\$self")/../../opt/outpost/bin/$cmd.js" "\$@"
EOF
  chmod 0755 "$destdir/usr/bin/$cmd"
done

install -D -m 0644 "$src/systemd/outpost.service" "$destdir/usr/lib/systemd/system/outpost.service"
install -D -m 0644 "$src/systemd/outpost.sysusers.conf" "$destdir/usr/lib/sysusers.d/outpost.conf"
# The overlay is what a flashed image carries; a box installed from a checkout gets the same files.
rootfs="$src/firmware-config/rootfs"
(cd "$rootfs" && find . -type f) | while read -r f; do
  case $f in
    */first-boot.sh) m=0755 ;;
    *) m=0644 ;;
  esac
  install -D -m "$m" "$rootfs/$f" "$destdir/${f#./}"
done

chmod 0750 "$destdir/etc/outpost" "$destdir/etc/outpost/certs"
if [ -e "$destdir/etc/outpost/outpost.toml" ]; then
  say "keeping the existing /etc/outpost/outpost.toml (the shipped default is $app/outpost.toml.default)"
else
  install -m 0640 "$src/firmware-config/outpost.toml" "$destdir/etc/outpost/outpost.toml"
fi
install -m 0644 "$src/firmware-config/outpost.toml" "$app/outpost.toml.default"

if [ -n "$destdir" ]; then
  say "installed into $destdir (nothing enabled or started)"
  exit 0
fi

if [ ! -d /run/systemd/system ]; then
  say "systemd is not PID 1 here: create the user (systemd-sysusers) and start"
  say "  outpost --config /etc/outpost/outpost.toml --data-dir /var/lib/outpost   yourself"
  exit 0
fi
say "creating the outpost user, directories and udev links"
systemd-sysusers /usr/lib/sysusers.d/outpost.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/outpost.conf
if command -v udevadm >/dev/null 2>&1; then
  udevadm control --reload || true
  udevadm trigger --subsystem-match=tty --action=add || true
fi
systemctl daemon-reload
# The first-boot unit names the node and writes the API key; outpost.service starts after it.
# After it has run once (stamp present) it stays disabled.
[ -e /var/lib/outpost/.first-boot-done ] || systemctl enable outpost-first-boot.service
systemctl enable outpost.service
if [ "$start" = no ]; then
  say "enabled; start with: systemctl start outpost"
  exit 0
fi
systemctl start outpost-first-boot.service
if systemctl is-active --quiet outpost.service; then
  systemctl restart outpost.service
else
  systemctl start outpost.service
fi
say "outpost is $(systemctl is-active outpost.service); logs: journalctl -u outpost -f"
