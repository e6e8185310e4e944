#!/bin/sh
# Build a bootable Outpost SD-card image for a Raspberry Pi-class board from Debian packages: a
# Debian trixie rootfs (debootstrap), the Outpost .deb installed with apt (nodejs from Debian),
# Debian's linux-image and raspi-firmware, then an image file with three partitions made without
# mounting anything. See firmware-config/image/build.md for the whole recipe.
#
#   firmware-config/image/build.sh --deb FILE --arch arm64 --out outpost-arm64.img [options]
#
#   --deb FILE          the Outpost package (scripts/build-deb.sh ARCH makes it); needed by "install"
#   --arch ARCH         arm64 (Pi 3, 4, 5, Zero 2 W) or armhf (Pi 2, 3, 4 in 32-bit mode); default arm64
#   --out FILE          the image to write (needed by "assemble")
#   --suite SUITE       Debian suite (default trixie: nodejs 20.19, which the package depends on)
#   --mirror URL        Debian mirror (default http://deb.debian.org/debian)
#   --size SIZE         whole image, e.g. 2G (default 2G); suffixes M and G
#   --boot-size SIZE    FAT boot partition (default 256M)
#   --data-size SIZE    ext4 data partition for /var/lib/outpost (default 256M); the root gets the rest
#   --hostname NAME     default outpost
#   --ssh-key FILE      install openssh-server and FILE as root's authorized_keys (no ssh otherwise)
#   --rootfs DIR        build the rootfs in DIR and keep it (default: a temp dir, removed at the end)
#   --keep-rootfs DIR   the same as --rootfs DIR
#   --base DIR          cache of the plain debootstrap tree: made once in DIR, copied from then on
#   --steps LIST        comma-separated subset of bootstrap,install,configure,assemble (default all);
#                       e.g. --steps configure,assemble --rootfs DIR on a rootfs you made another way
#   --xz                also write FILE.xz (xz -T0), and remove FILE
#
# Steps: bootstrap (debootstrap, its second stage in a chroot: qemu-user-static runs a foreign
# arch) -> install (apt in a chroot: kernel, raspi-firmware, the .deb and its nodejs) -> configure
# (offline: fstab by label, hostname, systemd-networkd, journald limits, first-boot units, empty
# machine-id) -> assemble (sfdisk on a file, mkfs.vfat + mcopy, mkfs.ext4 -d, dd at offsets).
# bootstrap and install need root and the network; configure and assemble need neither.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
deb=
arch=arm64
out=
suite=trixie
mirror=http://deb.debian.org/debian
size=2G
boot_size=256M
data_size=256M
hostname=outpost
ssh_key=
rootfs=
base=
steps=bootstrap,install,configure,assemble
xz=no

say() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: %s\n' "$*" >&2; exit 1; }
need_arg() { [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
  case $1 in
    --deb) need_arg "$1" $#; deb=$2; shift ;;
    --arch) need_arg "$1" $#; arch=$2; shift ;;
    --out) need_arg "$1" $#; out=$2; shift ;;
    --suite) need_arg "$1" $#; suite=$2; shift ;;
    --mirror) need_arg "$1" $#; mirror=$2; shift ;;
    --size) need_arg "$1" $#; size=$2; shift ;;
    --boot-size) need_arg "$1" $#; boot_size=$2; shift ;;
    --data-size) need_arg "$1" $#; data_size=$2; shift ;;
    --hostname) need_arg "$1" $#; hostname=$2; shift ;;
    --ssh-key) need_arg "$1" $#; ssh_key=$2; shift ;;
    --rootfs | --keep-rootfs) need_arg "$1" $#; rootfs=$2; shift ;;
    --base) need_arg "$1" $#; base=$2; shift ;;
    --steps) need_arg "$1" $#; steps=$2; shift ;;
    --xz) xz=yes ;;
    -h | --help) sed -n '7,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

# A size (512M, 2G, 1024) in MiB.
mib() {
  case $1 in
    *[!0-9MGmg]* | '' | [MGmg]*) die "bad size $1 (use e.g. 256M or 2G)" ;;
    *[Gg]) echo $((${1%?} * 1024)) ;;
    *[Mm]) echo "${1%?}" ;;
    *) echo "$1" ;;
  esac
}

step() { case ",$steps," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
for s in $(echo "$steps" | tr ',' ' '); do
  case $s in bootstrap | install | configure | assemble) ;; *) die "unknown step $s in --steps (bootstrap,install,configure,assemble)" ;; esac
done
case $arch in
  arm64) kernel=linux-image-arm64 qemu=qemu-aarch64-static ;;
  armhf) kernel=linux-image-armmp-lpae qemu=qemu-arm-static ;;
  *) die "--arch must be arm64 or armhf (got $arch)" ;;
esac
case $hostname in *[!a-z0-9-]* | '' | -*) die "--hostname must be letters a-z, digits and - (got $hostname)" ;; esac
size_mib=$(mib "$size")
boot_mib=$(mib "$boot_size")
data_mib=$(mib "$data_size")
# 4 MiB before the first partition (alignment, as Raspberry Pi OS), then boot, root, data.
root_mib=$((size_mib - 4 - boot_mib - data_mib))
[ "$boot_mib" -ge 32 ] || die "--boot-size must be at least 32M"
[ "$data_mib" -ge 16 ] || die "--data-size must be at least 16M"
[ "$root_mib" -ge 64 ] || die "--size $size leaves ${root_mib}M for the root partition: make it bigger"
if step install; then
  [ -n "$deb" ] || die "--deb FILE is required (scripts/build-deb.sh $arch makes it)"
  [ -f "$deb" ] || die "no such file: $deb"
  deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
  deb_arch=$(dpkg-deb -f "$deb" Architecture 2>/dev/null) || die "$deb is not a Debian package"
  [ "$deb_arch" = "$arch" ] || [ "$deb_arch" = all ] || die "$deb is for $deb_arch, not $arch"
fi
if step assemble; then
  [ -n "$out" ] || die "--out FILE is required"
  for t in sfdisk mkfs.vfat mcopy mkfs.ext4; do command -v "$t" >/dev/null || die "$t missing: apt-get install fdisk dosfstools mtools e2fsprogs"; done
fi
[ -z "$ssh_key" ] || [ -f "$ssh_key" ] || die "no such file: $ssh_key"
if step bootstrap || step install; then
  [ "$(id -u)" = 0 ] || die "bootstrap and install must run as root (debootstrap, chroot)"
fi

case $rootfs in / | /. | //) die "refusing to build into /" ;; esac
tmpdir=$(mktemp -d "${TMPDIR:-/var/tmp}/outpost-image.XXXXXX")
if [ -z "$rootfs" ]; then
  step bootstrap || die "--rootfs DIR is required without the bootstrap step"
  rootfs=$tmpdir/rootfs
  keep=no
else
  keep=yes
fi
mounted=
aside=
cleanup() {
  for m in $mounted; do umount -l "$rootfs/$m" 2>/dev/null || true; done
  # Put back what assemble moved onto its own partitions.
  for a in $aside; do
    rmdir "$rootfs/$a" 2>/dev/null && mv "$tmpdir/aside/$a" "$rootfs/$a"
  done
  if [ "$keep" = no ]; then rm -rf "$rootfs"; fi
  rm -rf "$tmpdir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
started=$(date +%s)
lap() { say "$1 took $(($(date +%s) - started)) s"; started=$(date +%s); }

# Run a command inside the rootfs with /proc, /sys, /dev and the build machine's DNS.
in_chroot() {
  if [ -z "$mounted" ]; then
    for m in proc sys dev dev/pts; do
      mkdir -p "$rootfs/$m"
      mount --bind "/$m" "$rootfs/$m"
      mounted="$m $mounted"
    done
  fi
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# --- bootstrap ---------------------------------------------------------------------------------
# minbase plus what a headless box needs before apt runs: systemd as init, udev, dbus, kmod,
# iproute2, CA certificates and openssl (first boot makes the TLS certificate with it).
BASE_PACKAGES=systemd,systemd-sysv,udev,dbus,kmod,iproute2,ca-certificates,openssl,e2fsprogs,apt
debootstrap_into() {
  command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"
  host_arch=$(dpkg --print-architecture)
  if [ "$arch" != "$host_arch" ] && [ ! -x "/usr/bin/$qemu" ]; then
    die "$qemu missing: apt-get install qemu-user-static binfmt-support (and update-binfmts --enable)"
  fi
  rm -rf "$1"
  mkdir -p "$1"
  # One pass: debootstrap resolves and unpacks with the build machine's tools and runs only the
  # second stage (maintainer scripts) in the chroot, through binfmt for a foreign arch. --foreign
  # plus a separate second stage would also resolve packages under emulation: 3x slower here.
  say "debootstrap $suite $arch into $1 (second stage in a chroot$([ "$arch" = "$host_arch" ] || echo ', emulated'))"
  debootstrap --arch="$arch" --variant=minbase --components=main,non-free-firmware \
    --include="$BASE_PACKAGES" "$suite" "$1" "$mirror" >"$tmpdir/debootstrap.log" 2>&1 ||
    { tail -20 "$tmpdir/debootstrap.log" >&2; die "debootstrap failed (binfmt for $arch registered? update-binfmts --enable)"; }
  : >"$1/.outpost-base-complete"
}

if step bootstrap; then
  if [ -n "$base" ]; then
    if [ -f "$base/.outpost-base-complete" ]; then
      say "plain rootfs from the cache $base"
    else
      debootstrap_into "$base"
    fi
    rm -rf "$rootfs"
    cp -a "$base" "$rootfs"
    rm -f "$rootfs/.outpost-base-complete"
  else
    debootstrap_into "$rootfs"
    rm -f "$rootfs/.outpost-base-complete"
  fi
  lap bootstrap
fi

[ -d "$rootfs" ] || die "no such directory: $rootfs"
rootfs=$(cd "$rootfs" && pwd)
[ "$rootfs" != / ] || die "refusing to build into /"
[ -f "$rootfs/etc/os-release" ] || die "$rootfs has no etc/os-release: not a root filesystem"

# raspi-firmware's kernel and initramfs hooks copy the kernel, initrd and device trees to
# /boot/firmware and write config.txt and cmdline.txt from these files, at install and on every
# kernel upgrade; so the boot settings live here, not in the generated files.
write_raspi_defaults() {
  mkdir -p "$rootfs/etc/default" "$rootfs/boot/firmware"
  cat >"$rootfs/etc/default/raspi-firmware" <<EOF
# raspi-firmware(7) settings for the Outpost image (firmware-config/image/build.sh).
# The root partition by label: cmdline.txt gets root=LABEL=outpost-root (the initramfs resolves it).
ROOTPART=LABEL=outpost-root
# Serial console on the GPIO UART and the screen; the last one is /dev/console, where the first
# boot shows the admin password.
CONSOLES="serial0,115200 tty1"
# Pi 3/4/5 at 64 bit (arm64); armhf images leave this 0.
KERNEL_ARCH=$([ "$arch" = arm64 ] && echo arm64 || echo arm)
EOF
  # Appended to config.txt by raspi-firmware.
  cat >"$rootfs/etc/default/raspi-firmware-custom" <<'EOF'
# Outpost: no camera or display overlays; keep the GPU memory small on a headless gateway.
gpu_mem=16
EOF
  # cmdline.txt already has fsck.repair=yes, net.ifnames=0 (so the port is eth0) and rootwait;
  # /etc/default/raspi-extra-cmdline would add more.
}

# --- install -----------------------------------------------------------------------------------
if step install; then
  write_raspi_defaults
  rm -f "$rootfs/etc/apt/sources.list"
  mkdir -p "$rootfs/etc/apt/sources.list.d"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.debian.org/debian-security
Suites: $suite-security
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # No service starts inside the build chroot (invoke-rc.d / deb-systemd-invoke honour this).
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  rm -f "$rootfs/etc/resolv.conf"
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
  cp "$deb" "$rootfs/tmp/$(basename "$deb")"
  # The kernel's own hook makes the initramfs once; the triggers of later packages would make it
  # again (minutes each under emulation). update_initramfs=no skips those; put back afterwards.
  mkdir -p "$rootfs/etc/initramfs-tools"
  printf 'update_initramfs=no\nbackup_initramfs=no\n' >"$rootfs/etc/initramfs-tools/update-initramfs.conf"
  extra=
  [ -z "$ssh_key" ] || extra=openssh-server
  say "apt: $kernel raspi-firmware zstd systemd-resolved systemd-timesyncd ${extra:+$extra }$(basename "$deb") (in a chroot)"
  in_chroot apt-get update -q >"$tmpdir/apt.log" 2>&1 || { tail -20 "$tmpdir/apt.log" >&2; die "apt-get update failed"; }
  # --force-confold: keep the /etc/default/raspi-* files written above over the package's.
  # shellcheck disable=SC2086 # $extra is empty or one word
  in_chroot apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold \
    "$kernel" raspi-firmware zstd systemd-resolved systemd-timesyncd $extra "/tmp/$(basename "$deb")" >>"$tmpdir/apt.log" 2>&1 ||
    { tail -30 "$tmpdir/apt.log" >&2; die "apt-get install failed (log above)"; }
  printf '# update-initramfs.conf(5)\nupdate_initramfs=yes\nbackup_initramfs=no\n' >"$rootfs/etc/initramfs-tools/update-initramfs.conf"
  in_chroot apt-get clean
  rm -f "$rootfs/tmp/$(basename "$deb")" "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs/var/lib/apt/lists/"*
  [ -f "$rootfs/boot/firmware/config.txt" ] || die "raspi-firmware wrote no /boot/firmware/config.txt (see $tmpdir/apt.log)"
  for m in $mounted; do umount -l "$rootfs/$m" 2>/dev/null || true; done
  mounted=
  lap install
fi

# --- configure ---------------------------------------------------------------------------------
# Offline against the rootfs directory: no chroot, so it also runs in tests on a stand-in tree.
if step configure; then
  say "configure: hostname $hostname, fstab, network, journald, first boot"
  write_raspi_defaults
  echo "$hostname" >"$rootfs/etc/hostname"
  cat >"$rootfs/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	$hostname
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF

  # Partitions by label (assemble makes them): a card written from the image needs no UUIDs.
  # The boot partition is FAT, which has no owners: fmask/dmask 0077 keep it root-only on the box
  # (the first-boot report is there). Data on its own partition: a full store cannot fill the root,
  # and the root can be reflashed without losing data.
  cat >"$rootfs/etc/fstab" <<'EOF'
# <file system>     <mount point>     <type> <options>                                 <dump> <pass>
LABEL=outpost-root  /                 ext4   defaults,noatime,commit=30                0      1
LABEL=OUTPOSTBOOT   /boot/firmware    vfat   defaults,noatime,fmask=0077,dmask=0077    0      2
LABEL=outpost-data  /var/lib/outpost  ext4   defaults,noatime,x-systemd.growfs         0      2
EOF

  # DHCP on the wired port, whatever the kernel names it (eth0 on the Pi's USB Ethernet, end0 on
  # a device-tree Ethernet since systemd 250).
  mkdir -p "$rootfs/etc/systemd/network"
  cat >"$rootfs/etc/systemd/network/10-outpost-wired.network" <<'EOF'
[Match]
Type=ether
Kind=!*

[Network]
DHCP=yes
MulticastDNS=yes

[DHCPv4]
UseDomains=yes
EOF

  # A box without a cable must still start Outpost (local sensors): network-online.target waits
  # for any one link for at most 30 s, not for every link for 2 minutes.
  mkdir -p "$rootfs/etc/systemd/system/systemd-networkd-wait-online.service.d"
  cat >"$rootfs/etc/systemd/system/systemd-networkd-wait-online.service.d/50-outpost.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/lib/systemd/systemd-networkd-wait-online --any --timeout=30
EOF

  # journald on an SD card: persistent (after an unexpected reboot the journal of the boot before
  # is what tells why), but small and synced to flash less often than the 5-minute default.
  # Messages at crit and above are still synced at once (journald.conf(5)).
  mkdir -p "$rootfs/etc/systemd/journald.conf.d"
  cat >"$rootfs/etc/systemd/journald.conf.d/50-outpost-sdcard.conf" <<'EOF'
# Outpost edge box on an SD card (firmware-config/image/build.sh): a persistent journal capped at
# 32 MB on flash (16 MB while it is still in /run), written back every 15 minutes. A power cut loses
# at most the last 15 minutes of messages below crit; Storage=volatile would lose all of them.
[Journal]
Storage=persistent
SystemMaxUse=32M
SystemMaxFileSize=8M
SystemKeepFree=64M
RuntimeMaxUse=16M
SyncIntervalSec=15m
MaxRetentionSec=1month
EOF

  # The daemon's data directory is the data partition: do not start on the root underneath it.
  mkdir -p "$rootfs/etc/systemd/system/outpost.service.d"
  cat >"$rootfs/etc/systemd/system/outpost.service.d/50-image.conf" <<'EOF'
# Outpost image: /var/lib/outpost is its own partition (LABEL=outpost-data in /etc/fstab).
[Unit]
RequiresMountsFor=/var/lib/outpost
EOF

  # The first-boot files from firmware-config/rootfs, except any the package ships itself.
  (cd "$repo/firmware-config/rootfs" && find . -type f ! -name .keep) | while read -r f; do
    f=${f#./}
    # Shipped by a package at this path, or at its /usr/lib twin (udev rules, tmpfiles).
    twin=/usr/lib/${f#etc/}
    if cat "$rootfs"/var/lib/dpkg/info/*.list 2>/dev/null | grep -qx -e "/$f" -e "$twin"; then continue; fi
    m=0644
    case $f in usr/lib/outpost/first-boot.sh) m=0755 ;; esac
    install -D -m "$m" "$repo/firmware-config/rootfs/$f" "$rootfs/$f"
  done
  mkdir -p "$rootfs/etc/outpost/certs" "$rootfs/var/lib/outpost"
  if [ -n "$ssh_key" ]; then
    install -d -m 0700 "$rootfs/root/.ssh"
    install -m 0600 "$ssh_key" "$rootfs/root/.ssh/authorized_keys"
  fi

  # User, owners and units, offline against the rootfs (the package's postinst did its own part).
  if [ -f "$rootfs/usr/lib/sysusers.d/outpost.conf" ]; then
    systemd-sysusers --root="$rootfs" "$rootfs/usr/lib/sysusers.d/outpost.conf" 2>&1
  fi
  for t in outpost.conf outpost-first-boot.conf; do
    [ ! -f "$rootfs/usr/lib/tmpfiles.d/$t" ] || systemd-tmpfiles --root="$rootfs" --create "$rootfs/usr/lib/tmpfiles.d/$t"
  done
  units="outpost-first-boot.service outpost-first-boot-report.service"
  for u in outpost.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service ssh.service; do
    for d in usr/lib/systemd/system lib/systemd/system etc/systemd/system; do
      if [ -f "$rootfs/$d/$u" ]; then units="$units $u"; break; fi
    done
  done
  # shellcheck disable=SC2086 # a list of unit names
  systemctl --root="$rootfs" enable $units >/dev/null 2>&1 || die "systemctl --root=$rootfs enable $units failed"
  if [ -f "$rootfs/usr/lib/systemd/resolv.conf" ] || [ -f "$rootfs/lib/systemd/resolv.conf" ]; then
    ln -sf ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
  fi

  # A board without a clock starts at the image's build time, not 1970 (systemd reads this mtime),
  # so the first-boot certificate is not dated decades back.
  mkdir -p "$rootfs/usr/lib"
  touch "$rootfs/usr/lib/clock-epoch"

  # machine-id(5): an empty file makes systemd generate a fresh id on each box's first boot; a
  # copied id would give every box the same node name. Same for the first-boot stamps and ssh keys.
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs/var/lib/outpost/.first-boot-done" \
    "$rootfs/var/lib/outpost/.first-boot-reported" "$rootfs/etc/ssh/ssh_host_"*
  rm -f "$rootfs/var/lib/systemd/random-seed" "$rootfs/var/lib/systemd/credential.secret"
  # Secrets a first boot makes, should this tree have been booted (e.g. checked without a copy):
  # every box must make its own.
  rm -f "$rootfs/etc/outpost/api-keys" "$rootfs/etc/outpost/certs/mqtt-server.crt" "$rootfs/etc/outpost/certs/mqtt-server.key" \
    "$rootfs/boot/firmware/outpost-first-boot.txt" "$rootfs/boot/firmware/outpost-mqtt-server.crt" \
    "$rootfs/etc/issue.d/outpost-first-boot.issue" "$rootfs/var/lib/outpost/initial-admin-password" \
    "$rootfs/var/lib/outpost/admin-users.json" "$rootfs/var/lib/outpost/api-local.key"
fi

# --- assemble ----------------------------------------------------------------------------------
# MBR (the Pi 3 boot ROM reads no GPT): p1 FAT boot (type 0c, bootable; FAT16 or FAT32 as
# # mkfs.vfat picks for the size), p2 ext4 root, p3 ext4 data. Each filesystem is made in its own
# file from a directory, then written in at its offset.
if step assemble; then
  say "assemble $out: ${boot_mib}M boot, ${root_mib}M root, ${data_mib}M data"
  mkdir -p "$tmpdir/aside/boot" "$tmpdir/aside/var/lib"
  # /boot/firmware and /var/lib/outpost go to their partitions; the root keeps empty mount points.
  for a in boot/firmware var/lib/outpost; do
    mkdir -p "$rootfs/$a"
    mv "$rootfs/$a" "$tmpdir/aside/$a"
    aside="$a $aside"
    mkdir "$rootfs/$a"
    chmod "$(stat -c %a "$tmpdir/aside/$a")" "$rootfs/$a"
    chown "$(stat -c %u:%g "$tmpdir/aside/$a")" "$rootfs/$a" 2>/dev/null || true
  done
  used=$(du -sm "$rootfs" | cut -f1)
  # ext4 metadata and reserved blocks take about a tenth.
  [ $((used * 11 / 10 + 16)) -le "$root_mib" ] || die "the rootfs is ${used}M: it does not fit a ${root_mib}M root partition (raise --size)"

  mkfs.vfat -n OUTPOSTBOOT -C "$tmpdir/boot.img" $((boot_mib * 1024)) >/dev/null
  if [ -n "$(ls -A "$tmpdir/aside/boot/firmware")" ]; then
    mcopy -s -p -m -i "$tmpdir/boot.img" "$tmpdir/aside/boot/firmware/"* ::/
  fi
  mkfs.ext4 -q -F -L outpost-root -d "$rootfs" "$tmpdir/root.img" "${root_mib}M" >/dev/null
  # The data partition's top directory is /var/lib/outpost itself: owner and mode from the rootfs
  # (mkfs -d copies only what is below it).
  owner=$(stat -c %u:%g "$tmpdir/aside/var/lib/outpost")
  mkfs.ext4 -q -F -L outpost-data -m 1 -E root_owner="$owner" -d "$tmpdir/aside/var/lib/outpost" "$tmpdir/data.img" "${data_mib}M" >/dev/null
  debugfs -w -R "set_inode_field / mode 040$(stat -c %a "$tmpdir/aside/var/lib/outpost")" "$tmpdir/data.img" >/dev/null 2>&1 ||
    die "debugfs could not set the mode of the data partition's top directory"

  rm -f "$out"
  truncate -s "${size_mib}M" "$out"
  boot_start=$((4 * 2048))
  root_start=$((boot_start + boot_mib * 2048))
  data_start=$((root_start + root_mib * 2048))
  sfdisk --quiet "$out" <<EOF
label: dos
unit: sectors

start=$boot_start, size=$((boot_mib * 2048)), type=c, bootable
start=$root_start, size=$((root_mib * 2048)), type=83
start=$data_start, size=$((data_mib * 2048)), type=83
EOF
  dd if="$tmpdir/boot.img" of="$out" bs=1M seek=4 conv=notrunc,sparse status=none
  dd if="$tmpdir/root.img" of="$out" bs=1M seek=$((4 + boot_mib)) conv=notrunc,sparse status=none
  dd if="$tmpdir/data.img" of="$out" bs=1M seek=$((4 + boot_mib + root_mib)) conv=notrunc,sparse status=none
  if [ "$xz" = yes ]; then
    say "xz $out"
    xz -T0 -6 -f "$out"
    out=$out.xz
  fi
  lap assemble
  say "done: $out ($(du -h --apparent-size "$out" | cut -f1), $(du -h "$out" | cut -f1) on disk)"
fi
