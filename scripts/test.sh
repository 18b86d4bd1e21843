#!/usr/bin/env bash
# Runs every check and test Muster has, from a fresh Debian 12 machine: installs the system
# packages the build and tests need, starts a throwaway PostgreSQL cluster for the storage
# conformance suite, then runs fmt, clippy and the whole workspace's tests. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The system PostgreSQL clusters running now: installing the packages must not add one (the
# tests use a throwaway cluster of their own; see install-deps.sh).
online_clusters() {
  command -v pg_lsclusters >/dev/null || return 0
  pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" { print $1 "/" $2 }'
}
clusters_before=$(online_clusters)
scripts/install-deps.sh test
started=$(comm -13 <(sort <<<"$clusters_before") <(online_clusters | sort) | sed '/^$/d')
if [ -n "$started" ]; then
  echo "test.sh: installing the packages started system PostgreSQL cluster(s): $started" >&2
  for c in $started; do pg_ctlcluster "${c%/*}" "${c#*/}" stop || true; done
  exit 1
fi

# A loopback TCP port nothing uses now: one of 20000-31999 (below Linux's ephemeral range)
# that no socket in /proc/net/tcp{,6} holds.
free_port() {
  local used=" " table local_addr port
  for table in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$table" ] || continue
    while read -r _ local_addr _; do
      [[ $local_addr == *:* ]] || continue # the header line
      used+="$((16#${local_addr##*:})) "
    done <"$table"
  done
  while :; do
    port=$((20000 + RANDOM % 12000))
    [[ $used == *" $port "* ]] || break
  done
  echo "$port"
}

# Runs a command as the postgres user from /, a directory it can read (PostgreSQL's programs
# warn when they cannot change back to the current directory).
as_postgres() {
  (cd / && runuser -u postgres -- "$@")
}

# A throwaway PostgreSQL cluster in a temp dir, on a free loopback port, removed on exit.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/muster-pg.XXXXXX)
chown postgres:postgres "$pg_dir"
stop_pg() {
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT
as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U muster --auth=trust >/dev/null
# Another process may take the port between the check and the start: try a few.
for attempt in 1 2 3 4 5; do
  pg_port=$(free_port)
  if as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k '$pg_dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null; then
    break
  fi
  if [ "$attempt" = 5 ]; then
    cat "$pg_dir/log" >&2
    exit 1
  fi
done
export MUSTER_TEST_POSTGRES_URL="postgres://muster@127.0.0.1:$pg_port/postgres"
echo "test PostgreSQL: $MUSTER_TEST_POSTGRES_URL"

# The release workflow (.github/workflows/) against GitHub's workflow schema, with the pinned
# check-jsonschema install-deps.sh put in a venv under the target dir.
"${CARGO_TARGET_DIR:-target}/tools/venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows \
  .github/workflows/*.yml

cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo test --workspace --all-features --locked
