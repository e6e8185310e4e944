#!/bin/sh
# Outpost first boot (run once by outpost-first-boot.service, before outpost.service):
#   1. names the node "outpost@<id>", <id> derived from /etc/machine-id, unless a name is set;
#   2. writes /etc/outpost/api-keys with a random secret (mode 0600, owner outpost), unless present;
#   3. marks itself done and disables its unit.
# Safe to run again: it never replaces a name or a key file that exists.
#
# Environment (for image builds and tests; all default to the live box):
#   OUTPOST_ROOT    prefix for every path (a rootfs directory); default "" (this system)
#   OUTPOST_OWNER   owner of the key file; default outpost:outpost
#   OUTPOST_CONFIG  config file relative to the root; default /etc/outpost/outpost.toml
set -eu

root=${OUTPOST_ROOT:-}
owner=${OUTPOST_OWNER:-outpost:outpost}
config="$root${OUTPOST_CONFIG:-/etc/outpost/outpost.toml}"
keys="$root/etc/outpost/api-keys"
stamp="$root/var/lib/outpost/.first-boot-done"

say() { printf 'outpost-first-boot: %s\n' "$*"; }
die() { printf 'outpost-first-boot: %s\n' "$*" >&2; exit 1; }

[ -f "$config" ] || die "no config at $config"

# machine-id(5): the id itself should not leave the box, so use a hash of it tied to this purpose.
machine_id=$(cat "$root/etc/machine-id" 2>/dev/null || true)
case $machine_id in
  '' | uninitialized) die "no machine id in $root/etc/machine-id (systemd writes it at boot)" ;;
esac
node_id=$(printf 'outpost-node-name:%s' "$machine_id" | sha256sum | cut -c1-12)
node_name="outpost@$node_id"

# Write $2 (a temp file in the same directory) over $1 in one rename, keeping $1's mode and owner,
# so a power cut leaves either the old or the new file, never half of one.
replace_file() {
  chmod "$(stat -c %a "$1")" "$2"
  chown "$(stat -c %u:%g "$1")" "$2"
  sync "$2" 2>/dev/null || sync
  mv -f "$2" "$1"
}

# 1. Node name: set name in [node] only while it is still the commented default.
if awk '/^\[/ { in_node = ($0 == "[node]") } in_node && /^name[ \t]*=/ { found = 1 } END { exit !found }' "$config"; then
  say "node name already set in $config; keeping it"
else
  tmp=$(mktemp "$config.XXXXXX")
  awk -v line="name = \"$node_name\"" '
    /^\[/ { if (in_node && !done) { print line; done = 1 } in_node = ($0 == "[node]") }
    in_node && !done && /^# name = / { print line; done = 1; next }
    { print }
    END { if (!done) { if (!in_node) print "[node]"; print line } }
  ' "$config" >"$tmp"
  replace_file "$config" "$tmp"
  say "node name $node_name"
fi

# 2. API key file for the HTTP API (api.api_key_bootstrap_file): key:secret:role.
if [ -e "$keys" ]; then
  say "$keys exists; keeping it"
else
  secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  [ ${#secret} -eq 64 ] || die "could not read 32 random bytes from /dev/urandom"
  mkdir -p "$(dirname "$keys")"
  old_umask=$(umask)
  umask 077
  tmp=$(mktemp "$keys.XXXXXX")
  umask "$old_umask"
  {
    echo "# Outpost API key, generated at first boot: key:secret:role (HTTP Basic user:password)."
    echo "outpost-admin:$secret:administrator"
  } >"$tmp"
  chmod 0600 "$tmp"
  chown "$owner" "$tmp"
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$keys"
  say "API key outpost-admin written to ${keys#"$root"} (mode 0600, owner $owner)"
fi

# 3. Done: the stamp stops the unit (ConditionPathExists=!) even if disabling below fails.
mkdir -p "$(dirname "$stamp")"
: >"$stamp"
if command -v systemctl >/dev/null 2>&1; then
  if [ -n "$root" ]; then
    systemctl --root="$root" disable outpost-first-boot.service >/dev/null 2>&1 || true
  else
    systemctl disable outpost-first-boot.service >/dev/null 2>&1 || true
  fi
fi
say "done"
