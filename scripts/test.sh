#!/usr/bin/env bash
# Runs every check and test Muster has, from a fresh Debian 12 machine: installs the system
# packages the tests need, starts a throwaway PostgreSQL cluster for the storage conformance
# suite, then runs fmt, clippy and the whole workspace's tests. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# A throwaway PostgreSQL cluster in a temp dir, on a free loopback port, removed on exit.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/muster-pg.XXXXXX)
chown postgres:postgres "$pg_dir"
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop_pg() {
  su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT
su postgres -s /bin/sh -c "'$pg_bin/initdb' -D '$pg_dir/data' -U muster --auth=trust" >/dev/null
su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w \
  -o \"-p $pg_port -k '$pg_dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null
export MUSTER_TEST_POSTGRES_URL="postgres://muster@127.0.0.1:$pg_port/postgres"
echo "test PostgreSQL: $MUSTER_TEST_POSTGRES_URL"

cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo test --workspace --all-features --locked
