#!/usr/bin/env bash
# The Docker Engine the docker substrate's tests use: Debian's dockerd with a data root, exec root and
# socket of its own (never the machine's default engine), no iptables rules and no bridge (it must not
# touch the host's firewall), and two images made here from this machine's files (no registry):
#   tower-box:test     /bin/sh, bash, coreutils, tmux, node   (Tower's own session host can run)
#   tower-box:no-node  the same without node                    (the tmux fallback)
# Writes what the tests need to $ROOT/env (test/support/dockerd.ts reads it). Needs root.
set -euo pipefail

ROOT=/run/tower-test
SOCKET=$ROOT/docker.sock
export DOCKER_HOST=unix://$SOCKET
DATA_ROOT=/var/lib/tower-test/docker
LOG=/var/log/tower-test-dockerd.log
IMAGE=tower-box:test
IMAGE_NO_NODE=tower-box:no-node

say() { printf 'test-dockerd: %s\n' "$*" >&2; }
docker_cli() { "$DOCKER" "$@"; }

[ "$(id -u)" = 0 ] || { say "not root: the docker tests will skip"; exit 1; }
DOCKER=$(command -v docker) || { say "no docker CLI (apt-get install docker.io)"; exit 1; }
[ -x /usr/sbin/dockerd ] || { say "no /usr/sbin/dockerd (apt-get install docker.io)"; exit 1; }
mkdir -p "$ROOT" "$DATA_ROOT"

if ! docker_cli version >/dev/null 2>&1; then
  say "starting dockerd on $SOCKET (log: $LOG)"
  # setsid: the engine outlives this script and the test run (a later run finds it answering).
  setsid /usr/sbin/dockerd \
    --data-root "$DATA_ROOT" \
    --exec-root "$ROOT/docker-exec" \
    --pidfile "$ROOT/dockerd.pid" \
    -H "unix://$SOCKET" \
    --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
    --live-restore \
    >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 150); do
    docker_cli version >/dev/null 2>&1 && break
    sleep 0.2
  done
  docker_cli version >/dev/null 2>&1 || { say "dockerd did not answer in 30 s; see $LOG"; tail -5 "$LOG" >&2; exit 1; }
fi

# The files an image is made of: programs with the shared libraries ldd names for them.
NODE=$(command -v node)
PROGRAMS=(sh dash bash tmux env cat stty sleep tail head id ls mkdir rm cp mv ln chmod touch wc tr
  printf echo true false test tty uname readlink dirname basename date tee dd sort cut sha256sum base64
  timeout nohup grep sed tar gzip kill ps setsid df awk yes seq)

binaries() {
  for name in "${PROGRAMS[@]}"; do command -v "$name" 2>/dev/null | grep / || true; done
  if [ "$1" = node ]; then echo "$NODE"; fi
}
# The libraries Tower's own native modules load (node-pty needs libutil), for a box that runs its host.
native_libraries() {
  if [ "$1" = node ]; then
    find "$(dirname "$0")/../node_modules" -name '*.node' -path '*linux*' -o -name '*.node' -path '*Release*' |
      libraries
  fi
}
libraries() { xargs ldd 2>/dev/null | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u; }

# Copies a file to the same real directory in the rootfs under its own name (a library's soname).
place() {
  local dir
  dir=$(readlink -f "$(dirname "$1")")
  mkdir -p "$2$dir"
  cp -L "$1" "$2$dir/$(basename "$1")"
}

build_image() { # tag, node|no-node
  local rootfs
  rootfs=$(mktemp -d /tmp/tower-rootfs.XXXXXX)
  for top in bin lib lib64 sbin; do
    if [ -L "/$top" ]; then ln -s "$(readlink "/$top")" "$rootfs/$top"; fi
  done
  mkdir -p "$rootfs"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,root,tmp,workspace,dev,proc,sys,run}
  chmod 1777 "$rootfs/tmp"
  local files
  files=$(binaries "$2")
  for file in $files; do place "$file" "$rootfs"; done
  for file in $(echo "$files" | libraries); do place "$file" "$rootfs"; done
  for file in $(native_libraries "$2"); do place "$file" "$rootfs"; done
  # sh is a link on this machine; the image's must be too, to its own dash.
  ln -sf dash "$rootfs$(readlink -f "$(dirname "$(command -v dash)")")/sh"
  cp -a /lib/terminfo "$rootfs$(readlink -f /lib)/"
  # tmux refuses to start without a UTF-8 locale.
  mkdir -p "$rootfs/usr/lib/locale" && cp -a /usr/lib/locale/C.utf8 "$rootfs/usr/lib/locale/"
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker_cli import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' -c 'ENV LANG=C.UTF-8' -c 'WORKDIR /root' \
    - "$1" >/dev/null
  rm -rf "$rootfs"
}

# An image is remade when what it is made of changed (this script, a program or library here).
fingerprint() { # node|no-node
  {
    cat "$0"
    { binaries "$1"; binaries "$1" | libraries; native_libraries "$1"; } | sort -u | xargs stat -L -c '%n %s %Y'
  } | sha256sum | cut -c1-12
}

ensure_image() { # plain tag, node|no-node
  local tag
  tag="$1-$(fingerprint "$2")"
  if ! docker_cli image inspect "$tag" >/dev/null 2>&1; then
    say "making image $tag from this machine's files"
    build_image "$tag" "$2"
  fi
  docker_cli tag "$tag" "$1"
  # What an older build left (each is ~100 MB).
  docker_cli images --format '{{.Repository}}:{{.Tag}}' | grep -F "$1-" | grep -vxF "$tag" |
    xargs -r "$DOCKER" rmi >/dev/null 2>&1 || true
}

ensure_image "$IMAGE" node
ensure_image "$IMAGE_NO_NODE" no-node

cat >"$ROOT/env" <<EOF
DOCKER_HOST=$DOCKER_HOST
TOWER_TEST_IMAGE=$IMAGE
TOWER_TEST_IMAGE_NO_NODE=$IMAGE_NO_NODE
EOF
