#!/usr/bin/env bash
# Builds the container images on this machine without a Docker engine, as root:
#  1. lints containers/*/Dockerfile (dockerfilelint);
#  2. makes the base images the Dockerfiles start FROM, once: `debootstrap --variant=minbase
#     bookworm` from the Debian mirror apt is configured with here, imported with buildah as
#     docker.io/library/debian:bookworm, and a slim variant (no docs, man pages or locales) as
#     docker.io/library/debian:bookworm-slim;
#  3. `buildah bud --isolation chroot` per image, with the host's ccache mounted into the build
#     stage, and exports build/images/<name>-<version>.oci.tar (OCI archive);
#  4. smoke-tests each image from its root filesystem: the binary's libraries resolve, `--version`
#     runs as the image's user, and the server answers on free 127.0.0.1 ports (discovery
#     /health; sqlproxy /health, and /ready refusing without a writer).
# An image whose CMake target does not exist yet is skipped with a message.
# Usage: containers/build.sh [discovery|sqlproxy]...   (default: both)
# Environment: CCACHE_DIR (default: the host's ccache directory), STORAGE_DRIVER (overlay or vfs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "containers/build.sh: run as root (buildah, debootstrap)" >&2; exit 2; }
scripts/install-deps images
test/k8s/ensure-tools

out=$PWD/build/images
mkdir -p "$out"
version=$(sed -n 's/^set(DISCOVERY_VERSION "\(.*\)")$/\1/p' CMakeLists.txt)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
driver=${STORAGE_DRIVER:-overlay}
ccache_dir=${CCACHE_DIR:-$(ccache -k cache_dir)}
mkdir -p "$ccache_dir"
# buildah keeps its images under build/images, apart from any system-wide container storage.
bah() { buildah --root "$out/storage" --runroot "$out/run" --storage-driver "$driver" "$@"; }
log() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(discovery sqlproxy)

log "dockerfilelint"
dockerfiles=()
for name in "${images[@]}"; do dockerfiles+=("containers/$name/Dockerfile"); done
test/k8s/node_modules/.bin/dockerfilelint "${dockerfiles[@]}"

# The mirrors apt uses here (deb822 .sources or one-line sources.list), Debian's own otherwise.
apt_uri() {
  local suite="$1" files=()
  for file in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
    [ -f "$file" ] && files+=("$file")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v suite="$suite" '
    /^URIs:/ { uris = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) found = uris }
    /^deb / { for (i = 2; i <= NF; i++) if ($i == suite && $(i-1) ~ /:\/\//) found = $(i-1) }
    END { print found }' "${files[@]}"
}

# Apt settings both bases share: the same mirrors as this machine, and no service may start
# during a build.
configure_rootfs() {
  local rootfs="$1" mirror="$2" security="$3"
  rm -f "$rootfs/etc/apt/sources.list"
  cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  printf 'Acquire::Languages "none";\n' > "$rootfs/etc/apt/apt.conf.d/90hawp-no-languages"
  # Downloaded packages are not kept in a layer after an install.
  cat > "$rootfs/etc/apt/apt.conf.d/90hawp-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  : > "$rootfs/etc/resolv.conf"
  : > "$rootfs/etc/hostname"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/tmp/* "$rootfs"/var/cache/debconf/*-old
}

# What Debian's -slim images leave out: documentation, manual pages and translations, and dpkg
# settings that keep later installs from adding them back.
slim_rootfs() {
  local rootfs="$1"
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/90hawp-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKG
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/usr/share/lintian/*
}

import_rootfs() {
  local rootfs="$1" name="$2" ctr
  ctr=$(bah from scratch)
  tar -C "$rootfs" -cf "$out/rootfs.tar" .
  bah add --quiet "$ctr" "$out/rootfs.tar" / >/dev/null
  rm -f "$out/rootfs.tar"
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash --label org.opencontainers.image.description="Debian 12 (debootstrap minbase)" "$ctr"
  bah commit --quiet --rm "$ctr" "$name" >/dev/null
}

make_bases() {
  if bah inspect --type image docker.io/library/debian:bookworm-slim >/dev/null 2>&1; then return; fi
  local mirror security rootfs=$out/rootfs-bookworm started=$SECONDS
  mirror=$(apt_uri bookworm); mirror=${mirror:-http://deb.debian.org/debian}
  security=$(apt_uri bookworm-security); security=${security:-http://deb.debian.org/debian-security}
  log "debootstrap --variant=minbase bookworm from $mirror"
  rm -rf "$rootfs" "$rootfs-slim"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$out/debootstrap.log"
  configure_rootfs "$rootfs" "$mirror" "$security"
  import_rootfs "$rootfs" docker.io/library/debian:bookworm
  cp -a "$rootfs" "$rootfs-slim"
  slim_rootfs "$rootfs-slim"
  import_rootfs "$rootfs-slim" docker.io/library/debian:bookworm-slim
  rm -rf "$rootfs" "$rootfs-slim"
  echo "base images made in $((SECONDS - started)) s"
}

has_target() {
  grep -rqs --include=CMakeLists.txt "add_executable($1[ )]" . --exclude-dir=build
}

# Hit and miss counters of the shared cache; the difference around a build is what it used (other
# compilations on the machine at the same time count too).
ccache_counts() {
  CCACHE_DIR="$ccache_dir" ccache --print-stats | awk -F'\t' '
    $1 ~ /^(direct_cache_hit|preprocessed_cache_hit)$/ { hits += $2 }
    $1 ~ /^cache_miss$/ { misses += $2 }
    END { print hits + 0, misses + 0 }'
}
ccache_delta() {
  local before=($1) after=($2)
  echo "$((after[0] - before[0])) hits, $((after[1] - before[1])) misses"
}

build_image() {
  local name="$1" tag="hawp/$1:$version" started=$SECONDS
  log "buildah bud $tag (ccache: $ccache_dir)"
  local before after
  before=$(ccache_counts)
  bah bud --isolation chroot --pull=false --layers --quiet \
    --file "containers/$name/Dockerfile" --tag "$tag" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    --volume "$ccache_dir:/ccache:rw" . >/dev/null
  after=$(ccache_counts)
  echo "$tag built in $((SECONDS - started)) s; ccache during the build:" \
    "$(ccache_delta "$before" "$after")"
  rm -f "$out/$name-$version.oci.tar"
  bah push --quiet "$tag" "oci-archive:$out/$name-$version.oci.tar:$tag"
  echo "$out/$name-$version.oci.tar: $(du -m "$out/$name-$version.oci.tar" | cut -f1) MiB;" \
    "image: $(bah images --format '{{.Size}}' "$tag")"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs the image's entrypoint binary from its mounted root filesystem, as its user, in a private
# mount namespace that has /proc and /dev; the host's network, so it can listen on 127.0.0.1.
run_in_rootfs() {
  local rootfs="$1" user="$2"; shift 2
  unshare --mount --propagation private -- sh -c '
    rootfs=$1 user=$2; shift 2
    mount -t proc proc "$rootfs/proc" && mount --rbind /dev "$rootfs/dev"
    exec chroot --userspec="$user" "$rootfs" "$@"' sh "$rootfs" "$user" "$@"
}

smoke_discovery() {
  local rootfs="$1" user="$2" client peer pid body="" deadline
  client=$(free_port); peer=$(free_port)
  run_in_rootfs "$rootfs" "$user" env -i ETCD_DATA_DIR=/var/lib/discovery/data \
    /usr/local/bin/discovery --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "default=http://127.0.0.1:$peer" > "$out/discovery-smoke.log" 2>&1 &
  pid=$!
  deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do
    body=$(curl -fsS --max-time 2 "http://127.0.0.1:$client/health" 2>/dev/null) && break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$body" != '{"health":"true"}' ]; then
    echo "smoke: discovery did not answer /health on 127.0.0.1:$client (log: $out/discovery-smoke.log)" >&2
    return 1
  fi
  echo "smoke: discovery answered /health on 127.0.0.1:$client with $body"
}

# sqlproxy with one backend that refuses connections: the admin port says it is alive (/health)
# and not ready (/ready: there is no writer).
smoke_sqlproxy() {
  local rootfs="$1" user="$2" mysql admin backend pid health="" ready deadline
  mysql=$(free_port); admin=$(free_port); backend=$(free_port)
  run_in_rootfs "$rootfs" "$user" env -i SQLPROXY_MONITOR_PASSWORD=smoke /usr/local/bin/sqlproxy \
    --listen "127.0.0.1:$mysql" --admin-listen "127.0.0.1:$admin" \
    --backends "127.0.0.1:$backend" > "$out/sqlproxy-smoke.log" 2>&1 &
  pid=$!
  deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do
    health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$admin/health") && \
      [ "$health" = 200 ] && break
    sleep 0.2
  done
  ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$admin/ready" || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$health" != 200 ] || [ "$ready" = 200 ]; then
    echo "smoke: sqlproxy /health $health, /ready $ready (log: $out/sqlproxy-smoke.log)" >&2
    return 1
  fi
  echo "smoke: sqlproxy admin on 127.0.0.1:$admin: /health $health, /ready $ready (no writer)"
}

smoke_test() {
  local name="$1" tag="hawp/$1:$version" ctr rootfs user entrypoint status=0
  log "smoke test $tag"
  user=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
  entrypoint=$(bah inspect --type image --format '{{index .OCIv1.Config.Entrypoint 0}}' "$tag")
  echo "user $user, entrypoint $entrypoint," \
    "healthcheck: $(bah inspect --type image --format '{{.Docker.Config.Healthcheck}}' "$tag")"
  [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || { echo "smoke: $tag runs as root" >&2; return 1; }
  ctr=$(bah from --pull=false "$tag")
  rootfs=$(bah mount "$ctr")
  if run_in_rootfs "$rootfs" "$user" ldd "$entrypoint" | grep 'not found'; then status=1; fi
  run_in_rootfs "$rootfs" "$user" "$entrypoint" --version || status=1
  if [ "$status" = 0 ]; then "smoke_$name" "$rootfs" "$user" || status=1; fi
  bah umount "$ctr" >/dev/null
  bah rm "$ctr" >/dev/null
  return $status
}

make_bases
built=()
for name in "${images[@]}"; do
  if ! has_target "$name"; then
    log "skipping $name: no CMake target '$name' in this tree yet, so its binary cannot be built"
    continue
  fi
  build_image "$name"
  smoke_test "$name"
  built+=("$name")
done
log "done: ${built[*]:-no image} built; archives in $out"
