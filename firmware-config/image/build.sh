#!/bin/sh
# Put Outpost onto a Debian / Raspberry Pi OS root filesystem: a directory (a mounted image's root
# partition, or one debootstrap makes here). See firmware-config/image/build.md for the whole recipe.
#
#   firmware-config/image/build.sh --rootfs DIR [options]
#
#   --rootfs DIR          the root filesystem to change (required)
#   --debootstrap SUITE   first create a minimal Debian SUITE (e.g. bookworm) in DIR (network)
#   --mirror URL          Debian mirror for --debootstrap (default http://deb.debian.org/debian)
#   --arch ARCH           Debian architecture of DIR (default: read from DIR's dpkg status, else
#                         this machine's); a foreign one needs qemu-user-static for the chroot steps
#   --node-tarball FILE   an official node-vXX-linux-ARCH.tar.{gz,xz}, unpacked into /usr/local
#                         (works offline); default: Node.js 22 from NodeSource's apt repository
#   --no-build            use this checkout's dist/ as it is (default: npm ci && npm run build)
#   --offline             skip every step that needs the network: no debootstrap, no NodeSource,
#                         and production deps are copied from this checkout (same ARCH only).
#                         Node must then come from --node-tarball or be in DIR already.
#
# Needs root (chroot, file owners). Steps: [debootstrap] -> node -> scripts/install.sh --destdir
# DIR -> npm ci --omit=dev in DIR (chroot) -> sysusers, tmpfiles, enable units (offline, --root)
# -> empty machine-id, so every box flashed from the image gets its own id and node name.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
rootfs=
suite=
mirror=http://deb.debian.org/debian
arch=
node_tarball=
offline=no
build_flag=

say() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --rootfs) [ $# -ge 2 ] || die "--rootfs needs a directory"; rootfs=$2; shift ;;
    --debootstrap) [ $# -ge 2 ] || die "--debootstrap needs a suite"; suite=$2; shift ;;
    --mirror) [ $# -ge 2 ] || die "--mirror needs a URL"; mirror=$2; shift ;;
    --arch) [ $# -ge 2 ] || die "--arch needs an architecture"; arch=$2; shift ;;
    --node-tarball) [ $# -ge 2 ] || die "--node-tarball needs a file"; node_tarball=$2; shift ;;
    --no-build) build_flag=--no-build ;;
    --offline) offline=yes ;;
    -h | --help) sed -n '5,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

[ -n "$rootfs" ] || die "--rootfs DIR is required (see --help)"
[ "$(id -u)" = 0 ] || die "must run as root (chroot, file owners)"
host_arch=$(dpkg --print-architecture 2>/dev/null || uname -m)

if [ -n "$suite" ]; then
  [ "$offline" = no ] || die "--debootstrap needs the network; drop --offline"
  command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"
  say "debootstrap $suite (${arch:-$host_arch}) into $rootfs"
  debootstrap --arch="${arch:-$host_arch}" --variant=minbase \
    --include=systemd,systemd-sysv,udev,dbus,ca-certificates,curl,gnupg,xz-utils \
    "$suite" "$rootfs" "$mirror"
fi
[ -d "$rootfs" ] || die "no such directory: $rootfs"
rootfs=$(cd "$rootfs" && pwd)
[ "$rootfs" != / ] || die "refusing to build into / (use scripts/install.sh for this system)"
[ -f "$rootfs/etc/os-release" ] || die "$rootfs has no etc/os-release: not a root filesystem"

if [ -z "$arch" ]; then
  arch=$(awk '/^Package: base-files$/ { p = 1 } p && /^Architecture:/ { print $2; exit }' "$rootfs/var/lib/dpkg/status" 2>/dev/null || true)
  arch=${arch:-$host_arch}
fi
say "target $rootfs ($arch; this machine $host_arch)"

# Run a command inside the rootfs with /proc, /sys, /dev and DNS, for the steps that need them.
mounted=
cleanup() {
  for m in $mounted; do umount -l "$rootfs/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
in_chroot() {
  if [ -z "$mounted" ]; then
    for m in proc sys dev; do
      mkdir -p "$rootfs/$m"
      mount --bind "/$m" "$rootfs/$m"
      mounted="$m $mounted"
    done
    cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
  fi
  chroot "$rootfs" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$@"
}

# 1. Node.js >= 20.19.
if [ -n "$node_tarball" ]; then
  [ -f "$node_tarball" ] || die "no such file: $node_tarball"
  say "unpacking $(basename "$node_tarball") into /usr/local"
  mkdir -p "$rootfs/usr/local"
  tar -xf "$node_tarball" -C "$rootfs/usr/local" --strip-components=1 --no-same-owner \
    --exclude='*/CHANGELOG.md' --exclude='*/README.md' --exclude='*/LICENSE' --exclude='*/include' --exclude='*/share/doc'
  node_path=/usr/local/bin/node
elif [ -x "$rootfs/usr/bin/node" ] || [ -x "$rootfs/usr/local/bin/node" ]; then
  node_path=/usr/bin/node
  [ -x "$rootfs/usr/bin/node" ] || node_path=/usr/local/bin/node
  say "node already in the image at $node_path"
elif [ "$offline" = yes ]; then
  die "no node in $rootfs and --offline: pass --node-tarball FILE"
else
  say "installing Node.js 22 from NodeSource (chroot)"
  in_chroot sh -c 'curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y --no-install-recommends nodejs'
  node_path=/usr/bin/node
fi
[ -x "$rootfs$node_path" ] || die "node missing at $node_path in $rootfs"
if [ "$arch" = "$host_arch" ]; then
  # Same architecture: check the version here (a foreign binary would need qemu).
  v=$("$rootfs$node_path" --version) || die "cannot run $rootfs$node_path"
  "$rootfs$node_path" -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    process.exit(maj > 20 || (maj === 20 && min >= 19) ? 0 : 1);' || die "node $v in the image is too old: Outpost needs >= 20.19"
  say "node $v"
fi

# 2. The app, commands, units and overlay, exactly as on a box installed from a checkout.
if [ "$offline" = yes ]; then
  [ "$arch" = "$host_arch" ] || die "--offline copies this machine's native modules: only for a $host_arch image"
  "$repo/scripts/install.sh" ${build_flag:+"$build_flag"} --destdir "$rootfs" --node "$node_path"
else
  "$repo/scripts/install.sh" ${build_flag:+"$build_flag"} --destdir "$rootfs" --node "$node_path" --no-deps
  # Inside the image, so better-sqlite3 and serialport get binaries for the board's architecture.
  say "npm ci --omit=dev in /opt/outpost (chroot)"
  in_chroot sh -c 'cd /opt/outpost && npm ci --omit=dev --no-audit --no-fund'
fi

# 3. User, directory owners and enabled units, all offline against the rootfs.
say "outpost user, directories, units"
# sysusers reports what it created on stderr; it is progress, not an error.
systemd-sysusers --root="$rootfs" "$rootfs/usr/lib/sysusers.d/outpost.conf" 2>&1
systemd-tmpfiles --root="$rootfs" --create "$rootfs/usr/lib/tmpfiles.d/outpost.conf"
systemctl --root="$rootfs" enable outpost.service outpost-first-boot.service >/dev/null 2>&1 ||
  die "systemctl --root=$rootfs enable failed"

# 4. machine-id(5): an empty file makes systemd generate a fresh id on each box's first boot;
# a copied id would give every box the same node name.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
rm -f "$rootfs/var/lib/outpost/.first-boot-done"

say "done: $rootfs has Outpost enabled; first boot names the node and writes /etc/outpost/api-keys"
