#!/usr/bin/env bash
# Build the Debian package of Outpost for one architecture, from this checkout:
#
#   scripts/build-deb.sh ARCH [--no-build] [--version V] [--revision N] [--out DIR] [--keep-staging]
#
#   ARCH            arm64 | armhf | amd64
#   --no-build      package the existing dist/ (default: npm run build first)
#   --version V     upstream version (default: package.json's); the package is V-N
#   --revision N    Debian revision (default 1)
#   --out DIR       where the .deb goes (default build/)
#   --keep-staging  leave the staged tree in build/deb/ARCH.<pid> for inspection
#
# Output: DIR/outpost_<V>-<N>_<ARCH>.deb, built as a normal user (dpkg-deb --root-owner-group).
#
# Native addons are built for ARCH: better-sqlite3, unix-dgram and any binding.gyp of our own tree
# (the DTLS addon) with Debian's cross compilers (g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf) and
# Node's headers from /usr/include/node (the same for every architecture; OpenSSL picks its
# per-architecture header by the compiler's defines). A cross-compiled addon is cached in
# build/deb-cache/ by package, version, Node ABI and ARCH, so only the first build of an ARCH pays
# the ~70 s of better-sqlite3. serialport and cbor-extract ship prebuilt binaries: only ARCH's are kept.
# Every ELF file in the package is checked to be of ARCH before the .deb is written.
# OUTPOST_DEB_CACHE moves that cache (default build/deb-cache).
#
# Needs: node, npm, dpkg-dev, fakeroot is not needed; for arm64/armhf also the cross g++ above.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: scripts/build-deb.sh arm64|armhf|amd64 [--no-build] [--version V] [--revision N] [--out DIR]"
arch=$1; shift
build=yes
version=
revision=1
out="$here/build"
keep=no
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=no ;;
    --version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift ;;
    --revision) [ $# -ge 2 ] || die "--revision needs a value"; revision=$2; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
    --keep-staging) keep=yes ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

case $arch in
  amd64) node_arch=x64; triplet=x86_64-linux-gnu; elf_re='ELF 64-bit LSB .*x86-64'
    serial_keep=(linux-x64/@serialport+bindings-cpp.glibc.node); cbor_pkg=cbor-extract-linux-x64 ;;
  arm64) node_arch=arm64; triplet=aarch64-linux-gnu; elf_re='ELF 64-bit LSB .*ARM aarch64'
    serial_keep=(linux-arm64/@serialport+bindings-cpp.armv8.glibc.node); cbor_pkg=cbor-extract-linux-arm64 ;;
  # Raspberry Pi OS's armhf userland is ARMv6 (Pi Zero/1), Debian's is ARMv7: keep both prebuilds.
  armhf) node_arch=arm; triplet=arm-linux-gnueabihf; elf_re='ELF 32-bit LSB .*ARM, EABI5'
    serial_keep=(linux-arm/@serialport+bindings-cpp.armv7.glibc.node linux-arm/@serialport+bindings-cpp.armv6.glibc.node); cbor_pkg=cbor-extract-linux-arm ;;
  *) die "unknown architecture '$arch' (arm64, armhf or amd64)" ;;
esac
host_arch=$(dpkg --print-architecture)
cross=no
[ "$arch" = "$host_arch" ] || cross=yes

for tool in node npm dpkg-deb gzip file readelf; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
if [ $cross = yes ]; then
  for tool in gcc g++ strip; do
    command -v "$triplet-$tool" >/dev/null || die "$triplet-$tool is missing: apt-get install g++-$triplet"
  done
  strip_cmd=$triplet-strip
else
  strip_cmd="strip"
fi
node_gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
[ -f "$node_gyp" ] || node_gyp=$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js
[ -f "$node_gyp" ] || die "node-gyp not found next to npm"
# Node's headers: node-gyp must not download them (no network to nodejs.org here, and the host's match).
nodedir=${OUTPOST_NODEDIR:-/usr}
[ -f "$nodedir/include/node/node.h" ] || die "no Node headers in $nodedir/include/node (set OUTPOST_NODEDIR)"
node_abi=$(node -p process.versions.modules)

cd "$here"
[ -n "$version" ] || version=$(node -p 'require("./package.json").version')
debversion="$version-$revision"
started=$(date +%s)

if [ $build = yes ]; then
  say "npm run build"
  npm run --silent build >&2
fi
[ -f dist/src/runtime/main.js ] || die "no build in dist/: run npm run build (or drop --no-build)"
[ -d node_modules ] || die "no node_modules: run npm ci first"

# Per run: the image build may call this while a test builds the same architecture.
staging="$here/build/deb/$arch.$$"
cache=${OUTPOST_DEB_CACHE:-$here/build/deb-cache}
root="$staging/root"
app="$root/usr/lib/outpost"
rm -rf "$staging"
mkdir -p "$app" "$cache/addons/$arch" "$cache/npm" "$out"
if [ $keep = yes ]; then say "staging in $staging"; else trap 'rm -rf "$staging"' EXIT; fi
trap 'exit 143' TERM INT

# --- the app: compiled JS, launchers, templates --------------------------------------------------
say "staging the app ($arch, $debversion)"
cp package.json package-lock.json "$app/"
cp -R bin "$app/"
chmod 0755 "$app/bin/"*.js
# dist/ without what only the build machine can use: the config loader's V8 snapshot is named after
# the Node that wrote it (src/config/isolated.ts) and no target runs that exact Node; the compiled
# modules' source maps point at TypeScript sources that are not shipped (the bundle's maps are kept:
# they name the source file and line in stack traces).
(cd dist && find . -type f ! -name '*.blob' ! -name '*.tsbuildinfo' ! -name '*.d.ts' \
  ! \( -path './src/*' -name '*.map' \) ! \( -path './gateways/*' -name '*.map' \) -print0) |
  (mkdir -p "$app/dist" && cd dist && tar --null -T - -cf - | tar -xf - -C "$app/dist")
mkdir -p "$app/scripts" "$app/firmware-config"
cp scripts/render-template.mjs "$app/scripts/"
cp -R firmware-config/templates "$app/firmware-config/"

# --- production node_modules ----------------------------------------------------------------------
say "production node_modules (copy + npm prune --omit=dev)"
cp -R node_modules "$app/node_modules"
(cd "$app" && npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts >/dev/null 2>&1) ||
  die "npm prune --omit=dev failed in $app"
nm="$app/node_modules"
find "$nm" -mindepth 1 -maxdepth 1 -type d -empty -exec rmdir {} +

# Build one addon directory (containing binding.gyp) for ARCH, or take it from the cache.
# $1 dir, $2 cache key, $3.. the .node files (relative to dir) that the runtime loads.
build_addon() {
  local dir=$1 key=$2; shift 2
  local hit="$cache/addons/$arch/$key"
  if [ -d "$hit" ] && [ -f "$hit/.ok" ]; then
    say "addon $key: cached"
  else
    say "addon $key: node-gyp rebuild --arch=$node_arch"
    local t0; t0=$(date +%s)
    # Debian's hardening flags (dpkg-buildflags' defaults: fortify, relro, bindnow).
    local env=(CPPFLAGS="-D_FORTIFY_SOURCE=2" CFLAGS="-O2 -fstack-protector-strong" CXXFLAGS="-O2 -fstack-protector-strong"
      LDFLAGS="-Wl,-z,relro -Wl,-z,now")
    [ $cross = no ] || env+=(CC="$triplet-gcc" CXX="$triplet-g++" LINK="$triplet-g++" AR="$triplet-ar" CC_host=gcc CXX_host=g++)
    rm -rf "$dir/build"
    (cd "$dir" && env "${env[@]}" node "$node_gyp" rebuild --release --arch="$node_arch" --nodedir="$nodedir" -j 2 >"$staging/gyp-$(basename "$dir").log" 2>&1) ||
      { tail -30 "$staging/gyp-$(basename "$dir").log" >&2; die "node-gyp failed for $dir"; }
    local tmp="$hit.tmp.$$" f
    rm -rf "$tmp" && mkdir -p "$tmp"
    for f in "$@"; do
      install -D -m 0644 "$dir/$f" "$tmp/$f"
      "$strip_cmd" --strip-unneeded "$tmp/$f"
    done
    touch "$tmp/.ok"
    rm -rf "$hit" && mv "$tmp" "$hit"
    say "addon $key: built in $(( $(date +%s) - t0 )) s"
  fi
  rm -rf "$dir/build"
  (cd "$hit" && find . -type f -name '*.node' -print0 | tar --null -T - -cf - | tar -xf - -C "$dir")
}

pkgver() { node -p "require('$1/package.json').version"; }

# A native build that exists in the checkout for this very architecture is reused as is.
reuse_or_build() {
  local pkg=$1; shift
  local dir="$nm/$pkg" key
  [ -d "$dir" ] || return 0
  key="$pkg@$(pkgver "$dir")-abi$node_abi"
  key=${key//\//+}
  if [ $cross = no ] && [ ! -d "$cache/addons/$arch/$key" ]; then
    local ok=yes f
    for f in "$@"; do [ -f "$here/node_modules/$pkg/$f" ] || ok=no; done
    if [ $ok = yes ]; then
      local tmp="$cache/addons/$arch/$key.tmp.$$"
      mkdir -p "$tmp"
      for f in "$@"; do
        install -D -m 0644 "$here/node_modules/$pkg/$f" "$tmp/$f"
        strip --strip-unneeded "$tmp/$f"
      done
      touch "$tmp/.ok"
      rm -rf "$cache/addons/$arch/$key" && mv "$tmp" "$cache/addons/$arch/$key"
      say "addon $key: reused the checkout's build"
    fi
  fi
  build_addon "$dir" "$key" "$@"
}
reuse_or_build better-sqlite3 build/Release/better_sqlite3.node
reuse_or_build unix-dgram build/Release/unix_dgram.node

# Our own addons (the DTLS one: gateways/transport/dtls/native/binding.gyp), built in a scratch copy
# and shipped at the same path under the app, build/Release/ included, beside the compiled JS's tree.
while IFS= read -r -d '' gyp; do
  src_dir=$(dirname "$gyp")
  rel=${src_dir#./}
  key="own+${rel//\//+}-$(cd "$src_dir" && find . -type f ! -path './build/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)-abi$node_abi"
  scratch="$staging/own/$rel"
  mkdir -p "$scratch"
  (cd "$src_dir" && find . -type f ! -path './build/*' -print0 | tar --null -T - -cf - | tar -xf - -C "$scratch")
  # A .gyp file is a Python literal (comments, trailing commas, single quotes).
  targets=$(python3 -c '
import ast, sys
g = ast.literal_eval(open(sys.argv[1]).read())
print(" ".join("build/Release/%s.node" % t["target_name"] for t in g["targets"]))' "$gyp") ||
    die "cannot read the targets of $gyp"
  # shellcheck disable=SC2086
  build_addon "$scratch" "$key" $targets
  mkdir -p "$app/$rel/build/Release"
  for t in $targets; do install -m 0644 "$scratch/$t" "$app/$rel/$t"; done
done < <(find gateways src -name binding.gyp -not -path '*/node_modules/*' -print0 2>/dev/null)

# serialport: prebuilt binaries for every platform are in the npm package; node-gyp-build looks in
# build/ first, so only ARCH's prebuild stays.
sp="$nm/@serialport/bindings-cpp"
if [ -d "$sp" ]; then
  keep_dir="$staging/serialport-keep"
  mkdir -p "$keep_dir"
  for f in "${serial_keep[@]}"; do install -D -m 0644 "$sp/prebuilds/$f" "$keep_dir/$f"; done
  rm -rf "$sp/prebuilds" "$sp/build" "$sp/src" "$sp/binding.gyp"
  mv "$keep_dir" "$sp/prebuilds"
fi

# cbor-extract (cbor-x's optional fast decoder): its prebuilt binaries come as one npm package per
# platform; npm installed the build machine's. Put ARCH's in its place (cached tarball from npm).
if [ -d "$nm/cbor-extract" ]; then
  cbor_ver=$(pkgver "$nm/cbor-extract")
  rm -rf "$nm/@cbor-extract"
  tgz="$cache/npm/$cbor_pkg-$cbor_ver.tgz"
  if [ ! -f "$tgz" ]; then
    say "npm pack @cbor-extract/$cbor_pkg@$cbor_ver"
    mkdir -p "$staging/pack"
    (cd "$staging/pack" && npm pack --silent "@cbor-extract/$cbor_pkg@$cbor_ver" >/dev/null) ||
      die "npm pack @cbor-extract/$cbor_pkg@$cbor_ver failed (registry unreachable?)"
    mv "$staging/pack/"*.tgz "$tgz" || die "npm pack did not write a tarball"
  fi
  mkdir -p "$nm/@cbor-extract/$cbor_pkg"
  tar -xzf "$tgz" -C "$nm/@cbor-extract/$cbor_pkg" --strip-components=1 --no-same-owner
  # The glibc N-API binary is the one Node 20 loads (the per-ABI ones are for other Node majors;
  # musl ones cannot load on Debian). Shipped unstripped; strip it like ours.
  find "$nm/@cbor-extract" -name '*.node' ! -name '*.napi.glibc.node' -delete
  find "$nm/@cbor-extract" -name '*.node' -exec "$strip_cmd" --strip-unneeded {} +
  rm -rf "$nm/cbor-extract/src" "$nm/cbor-extract/build" "$nm/cbor-extract/binding.gyp"
fi

# --- strip what no run needs ----------------------------------------------------------------------
# Header-only build helpers (nan, node-addon-api) serve node-gyp, not a run.
rm -rf "$nm/better-sqlite3/deps" "$nm/better-sqlite3/src" "$nm/better-sqlite3/binding.gyp" \
  "$nm/unix-dgram/src" "$nm/unix-dgram/binding.gyp" "$nm/nan" "$nm/node-addon-api" "$nm/.package-lock.json"
find "$nm" -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name .github \
  -o -name example -o -name examples -o -name benchmark -o -name benchmarks -o -name coverage \
  -o -name .husky -o -name integration \) -exec rm -rf {} +
rm -rf "$nm/fastify/scripts"
find "$nm" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
  -o -name '*.ts' -o -name '*.md' -o -name '*.markdown' -o -name '.npmignore' -o -name '.eslintrc*' \
  -o -name '.travis.yml' -o -name '.editorconfig' -o -name '*.gyp' -o -name '*.gypi' -o -name '*.cc' \
  -o -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name 'Makefile' -o -name '.prettierrc*' \
  -o -name '.gitattributes' -o -name '.gitignore' -o -name '.gitmodules' -o -name '*.html' \
  -o -name '*.png' -o -name '*.jpg' -o -name '*.gif' \) -delete
find "$nm" -depth -mindepth 2 -type d -empty -delete
# A file with a #! line is a script and gets the executable bit; any other file loses it (npm
# tarballs carry stray modes: index.js files marked executable, CLI scripts not).
find "$nm" "$app/scripts" -type f ! -name '*.node' -print0 | xargs -0 node -e '
  const fs = require("fs");
  for (const f of process.argv.slice(1)) {
    const fd = fs.openSync(f, "r"); const b = Buffer.alloc(2); fs.readSync(fd, b, 0, 2, 0); fs.closeSync(fd);
    const mode = fs.statSync(f).mode & 0o777;
    const want = b.toString() === "#!" ? mode | 0o755 : mode & ~0o111;
    if (want !== mode) fs.chmodSync(f, want);
  }'

# Strip as dh_strip does (prebuilt ones come with symbols and .comment).
find "$root" -name '*.node' -exec "$strip_cmd" --remove-section=.comment --remove-section=.note --strip-unneeded {} +
find "$root" -name '*.node' -exec chmod 0644 {} +

# --- every ELF file must be ARCH's ----------------------------------------------------------------
bad=0
while IFS= read -r -d '' f; do
  desc=$(file -b "$f")
  case $desc in ELF*) ;; *) continue ;; esac
  if ! printf '%s' "$desc" | grep -Eq "$elf_re"; then
    say "wrong architecture: ${f#"$root"}: $desc"
    bad=1
  fi
done < <(find "$root" -type f \( -name '*.node' -o -perm /111 -o -name '*.so*' \) -print0)
[ $bad = 0 ] || die "ELF files of another architecture in the package"
node_count=$(find "$root" -name '*.node' | wc -l)
say "$node_count native addons, all ELF for $arch"

# --- system integration ---------------------------------------------------------------------------
install -d -m 0755 "$root/usr/bin"
for cmd in outpost outpostctl; do
  cat >"$root/usr/bin/$cmd" <<EOF
#!/bin/sh
exec /usr/bin/node /usr/lib/outpost/bin/$cmd.js "\$@"
EOF
  chmod 0755 "$root/usr/bin/$cmd"
done
# The unit already names the package's paths (ExecStart=/usr/bin/outpost, /etc/outpost, /var/lib/outpost).
install -D -m 0644 systemd/outpost.service "$root/usr/lib/systemd/system/outpost.service"
install -D -m 0644 systemd/outpost.sysusers.conf "$root/usr/lib/sysusers.d/outpost.conf"
install -D -m 0644 systemd/outpost.tmpfiles.conf "$root/usr/lib/tmpfiles.d/outpost.conf"
install -D -m 0644 firmware-config/rootfs/etc/udev/rules.d/99-outpost-serial.rules \
  "$root/usr/lib/udev/rules.d/99-outpost-serial.rules"
# The default config, a conffile. tmpfiles (postinst) makes it root:outpost 0640, /etc/outpost 0750.
install -D -m 0644 firmware-config/outpost.toml "$root/etc/outpost/outpost.toml"
install -d -m 0755 "$root/etc/outpost/certs"

doc="$root/usr/share/doc/outpost"
install -d -m 0755 "$doc" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"
maint=${OUTPOST_DEB_MAINTAINER:-"$(git config user.name 2>/dev/null || echo Outpost maintainers) <$(git config user.email 2>/dev/null || echo maintainers@outpost.invalid)>"}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch
{
  printf 'outpost (%s) unstable; urgency=medium\n\n' "$debversion"
  printf '  * Built by scripts/build-deb.sh from commit %s.\n\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf ' -- %s  %s\n' "$maint" "$(LC_ALL=C date -u -R -d "@$epoch")"
} | gzip -9n >"$doc/changelog.Debian.gz"
node scripts/deb/copyright.mjs "$nm" >"$doc/copyright"
cp firmware-config/rootfs/etc/outpost/README "$doc/README.etc-outpost"
for page in outpost outpostctl; do
  sed "s/@VERSION@/$version/" "scripts/deb/$page.1" | gzip -9n >"$root/usr/share/man/man1/$page.1.gz"
done
install -m 0644 scripts/deb/lintian-overrides "$root/usr/share/lintian/overrides/outpost"
chmod -R u+rwX,go+rX,go-w "$root"
chmod 0755 "$root/usr/bin/"* "$app/bin/"*.js

# --- control --------------------------------------------------------------------------------------
# Runtime libraries the addons link, with the highest symbol versions they use (what dpkg-shlibdeps
# would find; it cannot run here for a foreign architecture without that architecture's dpkg data).
glibc_max=$(find "$root" -name '*.node' -exec readelf -V --wide {} + 2>/dev/null |
  grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
needed=$(find "$root" -name '*.node' -exec readelf -d --wide {} + 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u)
deps="nodejs (>= 20.19), libc6 (>= ${glibc_max:-2.28})"
for lib in $needed; do
  case $lib in
    libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux*) ;;
    libstdc++.so.6) deps="$deps, libstdc++6 (>= 12)" ;;
    libgcc_s.so.1) deps="$deps, libgcc-s1 (>= 3.0)" ;;
    *) die "an addon links $lib: add its package to Depends in scripts/build-deb.sh" ;;
  esac
done
deps="$deps, systemd | systemd-standalone-sysusers | systemd-sysusers, init-system-helpers (>= 1.54~)"
mkdir -p "$root/DEBIAN"
installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$debversion/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$deps/" \
  -e "s/@SIZE@/$installed_kb/" -e "s|@MAINTAINER@|$maint|" scripts/deb/control >"$root/DEBIAN/control"
install -m 0644 scripts/deb/conffiles "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "scripts/deb/$s" "$root/DEBIAN/$s"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

deb="$out/outpost_${debversion}_$arch.deb"
# Every file's mtime is the commit's, so two builds of one commit give the same package.
find "$root" -newermt "@$epoch" -exec touch -h -d "@$epoch" {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
say "wrote $deb ($(du -h "$deb" | cut -f1), installed $(( installed_kb / 1024 )) MB) in $(( $(date +%s) - started )) s"
printf '%s\n' "$deb"
