#!/usr/bin/env bash
# Runs one of the README's two commands (scripts/quickstart.sh or scripts/test.sh) for a given
# commit on a fresh Debian 12 that has nothing but the Rust toolchain, the way a newcomer would:
#
#   scripts/fresh-debian-check.sh [--base DIR] [--keep] [--timeout SECONDS] REV quickstart|test
#
# 1. Builds a pristine base root filesystem once, in DIR (default $FRESH_DEBIAN_BASE, else
#    /var/tmp/muster-fresh-debian-base), if it is not there yet: `debootstrap --variant=minbase
#    --include=systemd,systemd-sysv,dbus,git,ca-certificates bookworm`, apt sources for bookworm,
#    bookworm-updates and bookworm-security, this machine's pinned Rust toolchain (a real
#    directory named as in rust-toolchain.toml) with ~/.cargo/bin and ~/.cargo/env (no crate
#    cache), and this machine's extra CA certificates (/usr/local/share/ca-certificates) made
#    trusted with update-ca-certificates. The base is never run; delete it to rebuild it.
# 2. Copies the base (`cp -a`) into a scratch directory under /var/tmp ($FRESH_DEBIAN_SCRATCH
#    to change it), clones this repository there as /root/muster and checks out REV (a commit,
#    branch or tag; committed work only).
# 3. Runs the command inside with
#    `systemd-nspawn --register=no --keep-unit -D ROOT --pipe /bin/bash -lc 'cd /root/muster && ...'`
#    (the host's network; no system bus is needed), showing its output and saving it to a log.
#    nspawn's closing "Attempted to remove disk file system under /run/systemd/nspawn/..." is
#    harmless (the host's /run is not a tmpfs when PID 1 is not systemd).
#    - quickstart runs until it serves forever: the check passes as soon as it prints its
#      `first report:` line with the number of MCP servers, then the container is stopped; it
#      fails if the command exits first or nothing arrives within the timeout (default 3600 s).
#    - test passes when scripts/test.sh exits 0 within the timeout (default 3600 s) and no system
#      PostgreSQL cluster exists afterwards (pg_lsclusters lists none); the summed
#      `test result:` counts are printed at the end.
# 4. Deletes the scratch root filesystem (keeps it with --keep) and keeps the log next to it.
#
# Needs: root, `debootstrap` and `systemd-nspawn` (apt-get install -y debootstrap
# systemd-container), git, the Rust toolchain under ~/.rustup, and network access to
# deb.debian.org (or $FRESH_DEBIAN_MIRROR) and to the registries the commands use. Disk: the
# base takes 2 GB; each run copies it and adds its packages and build, so it stops at once unless
# /var/tmp (or $FRESH_DEBIAN_SCRATCH) has at least 8 GB free for quickstart, 16 GB for test
# (the debug build of all tests and examples takes about 10 GB).
set -euo pipefail

usage() {
  sed -n '5p' "$0" | sed 's/^#  *//' >&2
  exit 2
}

base=${FRESH_DEBIAN_BASE:-/var/tmp/muster-fresh-debian-base}
keep=0
timeout_s=3600
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h | --help) usage ;;
    --*) echo "unknown option: $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
rev=$1
what=$2
case $what in
  quickstart | test) ;;
  *) echo "the command must be quickstart or test, not: $what" >&2; usage ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-debian-check: needs root (debootstrap, systemd-nspawn)" >&2
  exit 2
fi
for tool in debootstrap systemd-nspawn git; do
  if ! command -v "$tool" >/dev/null; then
    echo "fresh-debian-check: $tool not found; as root: apt-get install -y debootstrap systemd-container git" >&2
    exit 2
  fi
done

repo=$(cd "$(dirname "$0")/.." && pwd)
git_dir=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)
commit=$(git -C "$repo" rev-parse --verify --quiet "$rev^{commit}") || {
  echo "fresh-debian-check: no commit $rev in $repo" >&2
  exit 2
}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
host_triple=$(rustc -vV | sed -n 's/^host: //p')

in_root() { # ROOT ARGS...: runs a command in a root filesystem, the way the checks do
  local root=$1
  shift
  systemd-nspawn --quiet --register=no --keep-unit -D "$root" --pipe "$@"
}

# The toolchain channel a rust-toolchain.toml pins, e.g. 1.95.0.
pinned_channel() {
  sed -n 's/^channel *= *"\(.*\)"/\1/p' "$1"
}

# Copies this machine's toolchain CHANNEL into ROOT/root/.rustup as a real directory.
copy_toolchain() { # ROOT CHANNEL
  local name=$2-$host_triple
  local src="$rustup_home/toolchains/$name" dst="$1/root/.rustup/toolchains/$name"
  [ -d "$dst" ] && return 0
  if [ ! -d "$src" ]; then
    echo "fresh-debian-check: toolchain $name is not installed here ($src)" >&2
    return 1
  fi
  mkdir -p "$dst"
  cp -a "$(readlink -f "$src")/." "$dst/"
}

build_base() {
  local channel tmp
  channel=$(pinned_channel "$repo/rust-toolchain.toml")
  tmp="$base.partial"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$base")"
  echo "== building the base root filesystem in $base"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,git,ca-certificates \
    bookworm "$tmp" "${FRESH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  cat >"$tmp/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  # The Rust toolchain as rustup-init leaves it: ~/.cargo/bin (the rustup proxies), ~/.cargo/env
  # sourced from ~/.profile, the pinned toolchain; no crate cache.
  mkdir -p "$tmp/root/.cargo" "$tmp/root/.rustup/toolchains"
  cp -a "$cargo_home/bin" "$tmp/root/.cargo/bin"
  cp -a "$cargo_home/env" "$tmp/root/.cargo/env"
  printf '\n. "$HOME/.cargo/env"\n' >>"$tmp/root/.profile"
  cat >"$tmp/root/.rustup/settings.toml" <<EOF
version = "12"
default_toolchain = "$channel-$host_triple"
profile = "minimal"
auto_self_update = "disable"

[overrides]
EOF
  copy_toolchain "$tmp" "$channel"
  # The extra CA certificates this machine trusts (registries are reached through them).
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$tmp/usr/local/share/ca-certificates/"
  fi
  in_root "$tmp" update-ca-certificates
  mv "$tmp" "$base"
  echo "== base ready: $base"
}

[ -d "$base" ] || build_base

scratch_parent=${FRESH_DEBIAN_SCRATCH:-/var/tmp}
need_gb=8
[ "$what" = quickstart ] || need_gb=16
free_gb=$(($(df -Pk "$scratch_parent" | awk 'NR == 2 { print $4 }') / 1024 / 1024))
if [ "$free_gb" -lt "$need_gb" ]; then
  echo "fresh-debian-check: $scratch_parent has ${free_gb} GB free; a $what run needs about ${need_gb} GB" >&2
  exit 2
fi

scratch=$(mktemp -d "$scratch_parent/muster-fresh.XXXXXX")
root="$scratch/fresh-debian" # the directory name is the container's hostname
log="$scratch/$what.log"
nspawn_pid=
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    echo "== kept the root filesystem: $root"
  else
    rm -rf "$root"
  fi
  echo "== log: $log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== copying the base into $root"
cp -a "$base" "$root"
echo "== cloning $commit ($rev) into /root/muster"
git clone --quiet --no-hardlinks --no-checkout "$git_dir" "$root/root/muster"
git -C "$root/root/muster" checkout --quiet --detach "$commit"
# A commit may pin another toolchain than the base has: bring it along from this machine.
copy_toolchain "$root" "$(pinned_channel "$root/root/muster/rust-toolchain.toml")"

inner="cd /root/muster && scripts/$what.sh"
# The test command must leave no system PostgreSQL behind (its tests run a throwaway cluster):
# installing the postgresql package creates no `main` cluster.
[ "$what" = quickstart ] || inner+=' && if [ -n "$(pg_lsclusters --no-header)" ]; then pg_lsclusters; echo "fresh-debian-check: a system PostgreSQL cluster exists" >&2; exit 1; fi'
echo "== systemd-nspawn --register=no --keep-unit -D $root --pipe /bin/bash -lc '$inner'"
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }

# In the background, so that a signal to this script stops the container at once (cleanup).
systemd-nspawn --register=no --keep-unit -D "$root" --pipe /bin/bash -lc "$inner" \
  </dev/null >"$log" 2>&1 &
nspawn_pid=$!
tail -n +1 -f --pid="$nspawn_pid" "$log" &
result=
while [ -z "$result" ]; do
  sleep 2
  if [ "$what" = quickstart ] && grep -q '^  first report: .* MCP server' "$log"; then
    result=pass
  elif [ "$what" = quickstart ] && grep -q '^  first report: ' "$log"; then
    result=fail # stored, but cannot be read back
  elif ! kill -0 "$nspawn_pid" 2>/dev/null; then
    status=0
    wait "$nspawn_pid" || status=$?
    nspawn_pid=
    if [ "$what" = test ] && [ "$status" -eq 0 ]; then
      result=pass
    else
      result=fail
      echo "== scripts/$what.sh exited with status $status"
    fi
  elif [ "$(elapsed)" -ge "$timeout_s" ]; then
    result=fail
    echo "== $what: still running after ${timeout_s}s"
  fi
done
if [ -n "$nspawn_pid" ]; then
  echo "== stopping the container"
  kill -TERM "$nspawn_pid" 2>/dev/null || true # without --boot, nspawn then kills everything in it
  wait "$nspawn_pid" 2>/dev/null || true
  nspawn_pid=
fi
sleep 1 # let tail print the last lines
if [ "$what" = test ]; then
  # The sum of every `test result:` line cargo printed.
  sed -n 's/^test result: [a-zA-Z]*\. //p' "$log" | awk -F'; ' '
    { for (i = 1; i <= NF; i++) { split($i, kv, " "); sum[kv[2]] += kv[1] } n++ }
    END { printf "== %d test result lines: %d passed, %d failed, %d ignored\n", n, sum["passed"], sum["failed"], sum["ignored"] }'
fi
echo "== $what: $result after $(elapsed)s"
[ "$result" = pass ]
