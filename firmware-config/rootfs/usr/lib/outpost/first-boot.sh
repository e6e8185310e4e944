#!/bin/sh
# Outpost first boot, in two steps around the daemon's own first start:
#
#   first-boot.sh [prepare]   outpost-first-boot.service, before outpost.service:
#     1. names the node "outpost@<id>", <id> derived from /etc/machine-id, unless a name is set;
#     2. writes /etc/outpost/api-keys with a random secret (mode 0600, owner outpost), unless present;
#     3. makes a self-signed TLS certificate for the MQTT TLS listener (port 8883) and turns that
#        listener on, unless the config already enables it or names a certificate;
#     4. marks itself done and disables its unit.
#   first-boot.sh report      outpost-first-boot-report.service, after outpost.service is READY:
#     the daemon's first start created the API user "admin" with a random password in
#     <data dir>/initial-admin-password (src/admin/first-run.ts: the same as on any install, not a
#     second mechanism); this shows it once, with the certificate's fingerprint, on /dev/console,
#     on the login prompts of this boot (/etc/issue.d, removed at the next boot by tmpfiles) and in
#     <boot dir>/outpost-first-boot.txt, then marks itself done and disables its unit.
# Safe to run again: it never replaces a name, a key, a certificate or a report that exists.
#
# Environment (for image builds and tests; all default to the live box):
#   OUTPOST_ROOT         prefix for every path (a rootfs directory); default "" (this system)
#   OUTPOST_OWNER        owner of the key files; default outpost:outpost
#   OUTPOST_CONFIG       config file relative to the root; default /etc/outpost/outpost.toml
#   OUTPOST_BOOT_DIR     boot partition relative to the root; default /boot/firmware (skipped if absent)
#   OUTPOST_CONSOLE      where the report is printed; default /dev/console
#   OUTPOST_REPORT_WAIT  seconds to wait for the daemon's password file; default 60
set -eu

root=${OUTPOST_ROOT:-}
owner=${OUTPOST_OWNER:-outpost:outpost}
config="$root${OUTPOST_CONFIG:-/etc/outpost/outpost.toml}"
keys="$root/etc/outpost/api-keys"
certs="$root/etc/outpost/certs"
cert_path=/etc/outpost/certs/mqtt-server.crt
key_path=/etc/outpost/certs/mqtt-server.key
data="$root/var/lib/outpost"
stamp="$data/.first-boot-done"
reported="$data/.first-boot-reported"
boot_dir="$root${OUTPOST_BOOT_DIR:-/boot/firmware}"
console=${OUTPOST_CONSOLE:-/dev/console}
issue="$root/etc/issue.d/outpost-first-boot.issue"

say() { printf 'outpost-first-boot: %s\n' "$*"; }
die() { printf 'outpost-first-boot: %s\n' "$*" >&2; exit 1; }

disable_unit() {
  command -v systemctl >/dev/null 2>&1 || return 0
  if [ -n "$root" ]; then
    systemctl --root="$root" disable "$1" >/dev/null 2>&1 || true
  else
    systemctl disable "$1" >/dev/null 2>&1 || true
  fi
}

# Write $2 (a temp file in the same directory) over $1 in one rename, keeping $1's mode and owner,
# so a power cut leaves either the old or the new file, never half of one.
replace_file() {
  chmod "$(stat -c %a "$1")" "$2"
  chown "$(stat -c %u:%g "$1")" "$2"
  sync "$2" 2>/dev/null || sync
  mv -f "$2" "$1"
}

# Is KEY set (not commented) in [SECTION] of the config?
toml_has() {
  awk -v sec="[$1]" -v key="$2" '
    /^\[/ { in_sec = ($0 == sec) }
    in_sec && $0 ~ "^" key "[ \t]*=" { found = 1 }
    END { exit !found }' "$config"
}

# The value of KEY in [SECTION], as written (quotes kept); empty when unset.
toml_get() {
  awk -v sec="[$1]" -v key="$2" '
    /^\[/ { in_sec = ($0 == sec) }
    in_sec && $0 ~ "^" key "[ \t]*=" { sub("^" key "[ \t]*=[ \t]*", ""); sub("[ \t]*#.*$", ""); print; exit }' "$config"
}

# Set KEY = VALUE in [SECTION]: over a line that sets it, else over its commented default
# ("# KEY = ..."), else at the end of the section; a missing section is added at the end.
toml_set() {
  tmp=$(mktemp "$config.XXXXXX")
  awk -v sec="[$1]" -v key="$2" -v line="$2 = $3" '
    function flush() { if (in_sec && !done) { print line; done = 1 } }
    /^\[/ { flush(); in_sec = ($0 == sec); print; next }
    in_sec && !done && ($0 ~ "^" key "[ \t]*=" || $0 ~ "^# " key " = ") { print line; done = 1; next }
    { print }
    END { if (!done) { if (!in_sec) { print ""; print sec } print line } }
  ' "$config" >"$tmp"
  replace_file "$config" "$tmp"
}

# Write stdin to a new file $1 with mode $2 (and owner $3 if given), atomically.
write_new() {
  old_umask=$(umask)
  umask 077
  tmp=$(mktemp "$1.XXXXXX")
  umask "$old_umask"
  cat >"$tmp"
  chmod "$2" "$tmp"
  [ -z "${3:-}" ] || chown "$3" "$tmp"
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$1"
}

prepare() {
  [ -f "$config" ] || die "no config at $config"

  # machine-id(5): the id itself should not leave the box, so use a hash of it tied to this purpose.
  machine_id=$(cat "$root/etc/machine-id" 2>/dev/null || true)
  case $machine_id in
    '' | uninitialized) die "no machine id in $root/etc/machine-id (systemd writes it at boot)" ;;
  esac
  node_id=$(printf 'outpost-node-name:%s' "$machine_id" | sha256sum | cut -c1-12)
  node_name="outpost@$node_id"

  # 1. Node name: set name in [node] only while it is still the commented default.
  if toml_has node name; then
    say "node name already set in $config; keeping it"
  else
    toml_set node name "\"$node_name\""
    say "node name $node_name"
  fi

  # 2. API key file for the HTTP API (api.api_key_bootstrap_file): key:secret:role.
  if [ -e "$keys" ]; then
    say "$keys exists; keeping it"
  else
    secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    [ ${#secret} -eq 64 ] || die "could not read 32 random bytes from /dev/urandom"
    mkdir -p "$(dirname "$keys")"
    {
      echo "# Outpost API key, generated at first boot: key:secret:role (HTTP Basic user:password)."
      echo "outpost-admin:$secret:administrator"
    } | write_new "$keys" 0600 "$owner"
    say "API key outpost-admin written to ${keys#"$root"} (mode 0600, owner $owner)"
  fi

  # 3. MQTT over TLS: a certificate of this box's own (every box a different key), unless the
  # listener is configured by hand already.
  if [ "$(toml_get listeners.ssl.default enable)" = true ] || [ -n "$(toml_get listeners.ssl.default.ssl_options certfile)" ]; then
    say "listeners.ssl.default is configured in $config; keeping it"
  elif [ -e "$root$cert_path" ]; then
    say "$cert_path exists; keeping it"
  else
    command -v openssl >/dev/null 2>&1 || die "openssl missing: cannot make the TLS certificate"
    host=$(cat "$root/etc/hostname" 2>/dev/null || true)
    host=${host:-outpost}
    mkdir -p "$certs"
    old_umask=$(umask)
    umask 077
    # P-256: fast on a Pi, accepted by every MQTT client library. Ten years: a box without a
    # clock source must not find its own certificate expired; replace it with a CA-issued one.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=$host/O=Outpost $node_name" \
      -addext "subjectAltName=DNS:$host,DNS:$host.local,DNS:localhost,IP:127.0.0.1,IP:::1" \
      -addext "basicConstraints=critical,CA:FALSE" \
      -addext "extendedKeyUsage=serverAuth" \
      -keyout "$root$key_path.new" -out "$root$cert_path.new" 2>/dev/null || die "openssl could not make the certificate"
    umask "$old_umask"
    chmod 0600 "$root$key_path.new"
    chown "$owner" "$root$key_path.new"
    chmod 0644 "$root$cert_path.new"
    sync "$root$key_path.new" "$root$cert_path.new" 2>/dev/null || sync
    mv -f "$root$key_path.new" "$root$key_path"
    mv -f "$root$cert_path.new" "$root$cert_path"
    toml_set listeners.ssl.default enable true
    toml_set listeners.ssl.default.ssl_options certfile "\"$cert_path\""
    toml_set listeners.ssl.default.ssl_options keyfile "\"$key_path\""
    say "TLS certificate for $host in $cert_path; MQTT over TLS on listeners.ssl.default (port 8883)"
  fi

  # 4. Done: the stamp stops the unit (ConditionPathExists=!) even if disabling below fails.
  mkdir -p "$data"
  : >"$stamp"
  disable_unit outpost-first-boot.service
  say "done"
}

# The data dir the daemon uses: [node] data_dir, else the unit's default.
data_dir() {
  d=$(toml_get node data_dir 2>/dev/null | tr -d '"' || true)
  printf '%s' "$root${d:-/var/lib/outpost}"
}

report() {
  if [ -e "$reported" ]; then
    say "first boot already reported; nothing to do"
    disable_unit outpost-first-boot-report.service
    return 0
  fi
  dir=$(data_dir)
  pw_file="$dir/initial-admin-password"
  # outpost.service is Type=notify and this unit is ordered after it, so the file is normally there;
  # wait a little in case the daemon was slow or restarted once.
  wait=${OUTPOST_REPORT_WAIT:-60}
  n=0
  while [ ! -s "$pw_file" ] && [ "$n" -lt "$wait" ]; do
    sleep 1
    n=$((n + 1))
  done
  if [ -s "$pw_file" ]; then
    login="  user:     admin
  password: $(head -n1 "$pw_file")
  (kept in ${pw_file#"$root"}; change it with: outpostctl admin passwd)"
  elif [ -s "$dir/admin-users.json" ]; then
    login="  an API user was set by hand before the first start (outpostctl admin passwd): no generated password"
  else
    login="  no password was generated: is [api] enable = false, or did outpost.service fail? (journalctl -u outpost)"
  fi
  if [ -f "$root$cert_path" ] && command -v openssl >/dev/null 2>&1; then
    fp=$(openssl x509 -in "$root$cert_path" -noout -fingerprint -sha256 | sed 's/^[^=]*=//')
    subject=$(openssl x509 -in "$root$cert_path" -noout -subject | sed 's/^subject=[ ]*//')
    tls="MQTT over TLS, port 8883: self-signed certificate $subject
  SHA-256 fingerprint: $fp
  certificate: $cert_path"
  else
    tls="MQTT over TLS: no first-boot certificate (configured by hand, or openssl missing)"
  fi
  host=$(cat "$root/etc/hostname" 2>/dev/null || echo outpost)
  text="Outpost first boot on $host, $(date -u '+%Y-%m-%d %H:%M UTC')

Dashboard and HTTP API (http://127.0.0.1:18083 on the box; from elsewhere: ssh -L 18083:127.0.0.1:18083 $host):
$login

$tls

This is shown once. Note the password, then delete outpost-first-boot.txt from the boot partition:
anyone who can read the SD card can read that file."

  if [ -d "$boot_dir" ]; then
    # FAT has no owners or modes: the fstab mounts it fmask=0077 (root only) on the box, but on a
    # PC that reads the card the file is open to all. Hence: delete it once read.
    printf '%s\n' "$text" | write_new "$boot_dir/outpost-first-boot.txt" 0600
    [ ! -f "$root$cert_path" ] || cp "$root$cert_path" "$boot_dir/outpost-mqtt-server.crt"
    say "report written to ${boot_dir#"$root"}/outpost-first-boot.txt"
  fi
  # Login prompts of this boot only: tmpfiles (outpost-first-boot.conf) removes it at the next boot.
  # agetty expands backslash escapes, so none may reach it.
  mkdir -p "$(dirname "$issue")"
  printf '\n%s\n\n' "$text" | sed 's/\\/\\\\/g' | write_new "$issue" 0644
  if [ -z "$root" ] && command -v agetty >/dev/null 2>&1; then agetty --reload >/dev/null 2>&1 || true; fi
  { printf '\n%s\n\n' "$text" >"$console"; } 2>/dev/null || say "could not write to $console"

  mkdir -p "$data"
  : >"$reported"
  disable_unit outpost-first-boot-report.service
  say "done"
}

case ${1:-prepare} in
  prepare) prepare ;;
  report) report ;;
  *) die "usage: first-boot.sh [prepare|report]" ;;
esac
