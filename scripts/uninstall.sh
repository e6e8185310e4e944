#!/bin/sh
# Remove what scripts/install.sh installed. The config (/etc/outpost) and the data
# (/var/lib/outpost: database, sessions, queued messages) are kept unless --purge.
# The outpost system user is kept either way (Debian policy: its uid may own files elsewhere).
#
#   scripts/uninstall.sh [--destdir DIR] [--purge]
set -eu

destdir=
purge=no

say() { printf 'uninstall: %s\n' "$*"; }
die() { printf 'uninstall: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift ;;
    --destdir=*) destdir=${1#--destdir=} ;;
    --purge) purge=yes ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if [ -n "$destdir" ]; then
  [ -d "$destdir" ] || die "no such directory: $destdir"
  destdir=$(cd "$destdir" && pwd)
  [ "$destdir" != / ] || destdir=
fi

live=no
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then live=yes; fi
if [ "$live" = yes ]; then
  say "stopping and disabling outpost"
  systemctl disable --now outpost.service >/dev/null 2>&1 || true
  systemctl disable outpost-first-boot.service outpost-first-boot-report.service >/dev/null 2>&1 || true
fi

for f in \
  /usr/bin/outpost /usr/bin/outpostctl \
  /usr/lib/systemd/system/outpost.service /etc/systemd/system/outpost-first-boot.service \
  /etc/systemd/system/outpost-first-boot-report.service /etc/issue.d/outpost-first-boot.issue \
  /usr/lib/sysusers.d/outpost.conf /usr/lib/tmpfiles.d/outpost.conf /usr/lib/tmpfiles.d/outpost-first-boot.conf \
  /etc/udev/rules.d/99-outpost-serial.rules; do
  rm -f "$destdir$f"
done
rm -rf "$destdir/opt/outpost" "$destdir/usr/lib/outpost"
say "removed the app, commands and units"

if [ "$purge" = yes ]; then
  rm -rf "$destdir/etc/outpost" "$destdir/var/lib/outpost" "$destdir/var/log/outpost"
  say "purged /etc/outpost, /var/lib/outpost and /var/log/outpost"
else
  say "kept /etc/outpost and /var/lib/outpost (use --purge to remove them)"
fi

if [ "$live" = yes ]; then
  systemctl daemon-reload
  if command -v udevadm >/dev/null 2>&1; then udevadm control --reload || true; fi
fi
