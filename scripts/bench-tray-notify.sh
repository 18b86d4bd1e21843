#!/usr/bin/env bash
# Change on disk -> notification: starts a real agent on a small --root image with one harmless
# server, the tray under Xvfb in its own D-Bus session with `dbus-monitor` watching
# org.freedesktop.Notifications, then RUNS times writes a config with a new high-severity
# finding (a literal token, a new server name each time) and measures from just before the
# write to the `Notify` call the tray puts on the bus (dbus-monitor's own timestamp). No
# notification daemon is needed: the call is seen on the bus whoever answers it. The tray sends
# at most 3 notifications an hour (its rate limit): in practice the third run of one start is
# folded into a summary, so keep RUNS <= 2 and run the script again for more samples.
#
#   scripts/bench-tray-notify.sh TRAY_BINARY AGENT_BINARY [RUNS]     (default 2)
#
# Needs xvfb and dbus (scripts/install-deps.sh test). Figures go in docs/benchmarks.md.
set -euo pipefail
tray=$(realpath "$1")
agent=$(realpath "$2")
runs=${3:-2}

work=$(mktemp -d /tmp/muster-tray-notify.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

account=$(id -un)
if [ "$account" = root ]; then home=$work/image/root; else home=$work/image/home/$account; fi
mkdir -p "$home/.cursor"
config=$home/.cursor/mcp.json
echo '{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time==2025.1.1"]}}}' >"$config"

setsid "$agent" run --os linux --process-interval 1h --debounce 50ms --offline --root "$work/image" \
  --state-dir "$work/state" --socket "$work/local.sock" </dev/null >/dev/null 2>&1 &
pids+=($!)

mkfifo "$work/display"
setsid Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x860x24 3>"$work/display" </dev/null >/dev/null 2>&1 &
pids+=($!)
read -r display <"$work/display"

# One D-Bus session for the monitor and the tray.
cat >"$work/session.sh" <<SH
dbus-monitor --session "interface='org.freedesktop.Notifications',member='Notify'" >"$work/monitor.log" 2>&1 &
sleep 1
exec "$tray"
SH
DISPLAY=:$display MUSTER_AGENT_SOCKET=$work/local.sock setsid dbus-run-session -- bash "$work/session.sh" \
  </dev/null >/dev/null 2>&1 &
pids+=($!)
sleep 8 # the tray connects and renders the first (harmless) status; not measured

notifies() { grep -c 'member=Notify' "$work/monitor.log" || true; }
for i in $(seq "$runs"); do
  before=$(notifies)
  t0=$(date +%s.%N)
  printf '{"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time==2025.1.1"]}, "gh-%s": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@1.0.0"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_R8x2Lq9ZtV4mN7pK3sW6yB1cD5fG0hJ8kQ%02d"}}}}\n' "$i" "$i" >"$config"
  for _ in $(seq 100); do
    [ "$(notifies)" -gt "$before" ] && break
    sleep 0.05
  done
  t1=$(grep 'member=Notify' "$work/monitor.log" | sed -n "$((before + 1))p" | sed -E 's/.*time=([0-9.]+).*/\1/')
  if [ -z "$t1" ]; then echo "run $i: no notification within 5 s"; continue; fi
  awk -v a="$t0" -v b="$t1" -v i="$i" 'BEGIN { printf "run %d: write -> Notify on the bus %.0f ms\n", i, (b - a) * 1000 }'
  sleep 1
done
