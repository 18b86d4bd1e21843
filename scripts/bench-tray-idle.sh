#!/usr/bin/env bash
# Idle memory and CPU of the tray process with its window closed: starts a real agent on a small
# --root image (one risky server) and socket, the tray under Xvfb in a D-Bus session without
# opening the window, then samples the tray's RSS, PSS and CPU time for SECONDS seconds, lists
# any WebKit process and any WebKit library the tray maps (there must be none: the window is a
# separate process, `muster-window`, started only on "Open"; ADR 0027).
#
#   scripts/bench-tray-idle.sh TRAY_BINARY AGENT_BINARY [SECONDS]     (default 60)
#
# e.g. cargo build --release -p muster-tray -p muster-agent &&
#      scripts/bench-tray-idle.sh target/release/muster-tray target/release/muster-agent 600
# Needs xvfb and dbus (scripts/install-deps.sh test). Figures go in docs/benchmarks.md.
set -euo pipefail
tray=$(realpath "$1")
agent=$(realpath "$2")
seconds=${3:-60}

work=$(mktemp -d /tmp/muster-tray-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

account=$(id -un)
if [ "$account" = root ]; then home=$work/image/root; else home=$work/image/home/$account; fi
mkdir -p "$home/.cursor"
cat >"$home/.cursor/mcp.json" <<'JSON'
{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
  "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_R8x2Lq9ZtV4mN7pK3sW6yB1cD5fG0hJ8kQ2e"}}}}
JSON

setsid "$agent" run --os linux --process-interval 1h --root "$work/image" --state-dir "$work/state" \
  --socket "$work/local.sock" </dev/null >/dev/null 2>&1 &
pids+=($!)

# Xvfb picks a free display and writes its number to the fifo once it accepts clients.
mkfifo "$work/display"
setsid Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x860x24 3>"$work/display" </dev/null >/dev/null 2>&1 &
pids+=($!)
read -r display <"$work/display"

DISPLAY=:$display MUSTER_AGENT_SOCKET=$work/local.sock setsid dbus-run-session -- "$tray" \
  </dev/null >/dev/null 2>&1 &
pids+=($!)

# The tray process itself (dbus-run-session's child).
tray_pid=
for _ in $(seq 100); do
  tray_pid=$(pgrep -s "${pids[2]}" -x "$(basename "$tray" | cut -c1-15)" || true)
  [ -n "$tray_pid" ] && break
  sleep 0.1
done
[ -n "$tray_pid" ] || { echo "the tray did not start" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$tray_pid/stat"; }
sleep 5 # let it connect to the agent and draw the tray (start-up is not what is measured)
cpu0=$(cpu)
max_rss=0
for _ in $(seq "$seconds"); do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$tray_pid/status")
  [ "$rss" -gt "$max_rss" ] && max_rss=$rss
  sleep 1
done
cpu1=$(cpu)
pss=$(awk '/^Pss:/ {print $2}' "/proc/$tray_pid/smaps_rollup")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$tray_pid/status")
anon=$(awk '/^RssAnon/ {print $2}' "/proc/$tray_pid/status")
file=$(awk '/^RssFile/ {print $2}' "/proc/$tray_pid/status")
echo "tray pid $tray_pid after ${seconds}s idle, window never opened:"
echo "  RSS $((rss / 1024)) MB (anonymous $((anon / 1024)) MB, file-backed $((file / 1024)) MB), max $((max_rss / 1024)) MB, PSS $((pss / 1024)) MB"
awk -v t="$ticks" -v s="$seconds" -v a="$cpu0" -v b="$cpu1" \
  'BEGIN { printf "  CPU %.2f s over %d s (%.3f%%)\n", (b - a) / t, s, 100 * (b - a) / t / s }'
echo "  threads: $(awk '/^Threads/ {print $2}' "/proc/$tray_pid/status")"
webkit=$(pgrep -s "${pids[2]}" -f WebKit || true)
echo "  WebKit processes: ${webkit:-none}"
mapped=$(grep -oE '[^/ ]*(webkit2gtk|javascriptcoregtk)[^ ]*' "/proc/$tray_pid/maps" | sort -u | tr '\n' ' ' || true)
echo "  WebKit libraries mapped by the tray: ${mapped:-none}"
echo "  largest resident mappings (kB):"
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Rss:/ { r[name] += $2 } END { for (n in r) print r[n], (n == "" ? "[anon]" : n) }' \
  "/proc/$tray_pid/smaps" | sort -rn | head -12 | sed 's/^/    /'
