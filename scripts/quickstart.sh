#!/usr/bin/env bash
# The main job: builds Muster, then runs `muster-server quickstart`: a control plane on this
# machine (data in ./muster-data, embedded SQLite, a fleet CA, an enrollment token, an admin
# login printed once, the dashboard on 127.0.0.1) with the local agent enrolled and reporting.
# Stop it with Ctrl-C; run it again to resume with the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p muster-agent -p muster-control-plane
exec target/release/muster-server quickstart "$@"
