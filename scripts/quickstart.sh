#!/usr/bin/env bash
# The main job: builds Muster, then runs `muster-server quickstart`: a control plane on this
# machine (data in ./muster-data, embedded SQLite, a fleet CA, an enrollment token, HTTP on
# 127.0.0.1) with the local agent enrolled and reporting this machine's MCP servers.
# `target/release/muster-server agents list` (run in this directory) shows the enrolled agent.
# Stop it with Ctrl-C; run it again to resume with the same data.
# On Debian it first installs the build's system packages (a C toolchain for linking) when
# missing, which needs root; as another user it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cargo build --release --locked -p muster-agent -p muster-control-plane
exec target/release/muster-server quickstart "$@"
