#!/usr/bin/env bash
# Takes the tray app's screenshots (docs/screenshots/tray-*.png) under Xvfb with a D-Bus session:
# a real control plane (`muster-server serve` on 127.0.0.1, its own data dir) with a published
# policy that quarantines one server and names the organisation's contact; a real agent enrolled
# with it, on a small --root image (risky Cursor servers, Cline servers of which one is disabled
# through the agent's `disable`, as the window's Disable button does); the real `muster-tray`,
# which starts the real window process (`muster-window`, found beside TRAY_BINARY, as installed)
# for each `--open`; and xfce4-panel as the StatusNotifier host that shows the tray icon and its
# menu.
#
#   scripts/tray-screenshots.sh TRAY_BINARY AGENT_BINARY SERVER_BINARY [OUT_DIR]
#                                                         (default OUT_DIR: docs/screenshots)
#
# e.g. cargo build -p muster-tray -p muster-desktop-ui -p muster-agent -p muster-control-plane &&
#      scripts/tray-screenshots.sh target/debug/muster-tray target/debug/muster-agent target/debug/muster-server
# Needs xvfb, dbus, xdotool, imagemagick and xfce4-panel (scripts/install-deps.sh test).
set -euo pipefail
tray=$(realpath "$1")
agent=$(realpath "$2")
server=$(realpath "$3")
[ -x "$(dirname "$tray")/muster-window" ] || { echo "no muster-window beside $tray (cargo build -p muster-desktop-ui)" >&2; exit 1; }
out=$(realpath "${4:-$(dirname "$0")/../docs/screenshots}")

work=$(mktemp -d /tmp/muster-tray-shots.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The control plane, with the policy the screenshots show a developer living under.
cp=("$server" --data-dir "$work/cp" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0)
setsid "${cp[@]}" serve </dev/null >"$work/cp.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q "muster-server listening" "$work/cp.log" && break; sleep 0.1; done
grpc=$(sed -n 's/.*grpc=\([0-9.:]*\).*/\1/p' "$work/cp.log" | head -1)
fingerprint=$(sed -n 's/.*ca_fingerprint=\([0-9A-Za-z:]*\).*/\1/p' "$work/cp.log" | head -1)
[ -n "$grpc" ] && [ -n "$fingerprint" ] || { echo "the control plane did not start:" >&2; cat "$work/cp.log" >&2; exit 1; }
cat >"$work/policy.toml" <<'TOML'
version = 1
name = "acme-mcp"

[contact]
name = "Platform security"
email = "mcp-help@acme.example"

[[rule]]
id = "no-cleartext-remote"
title = "No MCP traffic in clear text beyond this machine"
action = "quarantine"
[rule.match]
name = ["jira"]
TOML
"${cp[@]}" policy apply "$work/policy.toml" --reason "screenshots" >/dev/null
token=$("${cp[@]}" token create 2>/dev/null)
"$agent" enroll --server "https://localhost:${grpc##*:}" --token "$token" --ca-fingerprint "$fingerprint" \
  --state-dir "$work/state" >/dev/null

account=$(id -un)
if [ "$account" = root ]; then home=$work/image/root; else home=$work/image/home/$account; fi
mkdir -p "$home/.cursor" "$home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings"
# Fake values only (never a real secret in a screenshot).
cat >"$home/.cursor/mcp.json" <<'JSON'
{
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/"]},
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_R8x2Lq9ZtV4mN7pK3sW6yB1cD5fG0hJ8kQ2e"}},
    "jira": {"url": "http://jira.internal.example.com/mcp"}
  }
}
JSON
cat >"$home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json" <<'JSON'
{
  "mcpServers": {
    "postgres": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/dev"]},
    "time": {"command": "uvx", "args": ["mcp-server-time"]}
  }
}
JSON

# npx's cache already ran server-github 2025.4.8 (npm 10's layout, ADR 0025): the window offers
# "Pin to 2025.4.8" on that server.
npx_entry=$home/.npm/_npx/3f0c5a9e1b7d2c4a
mkdir -p "$npx_entry/node_modules/@modelcontextprotocol/server-github"
echo '{"_npx":{"packages":["@modelcontextprotocol/server-github"]},"dependencies":{"@modelcontextprotocol/server-github":"^2025.4.8"}}' \
  >"$npx_entry/package.json"
echo '{"name":"@modelcontextprotocol/server-github","version":"2025.4.8"}' \
  >"$npx_entry/node_modules/@modelcontextprotocol/server-github/package.json"

socket=$work/local.sock
setsid "$agent" run --os linux --process-interval 1h --root "$work/image" --state-dir "$work/state" \
  --socket "$socket" </dev/null >"$work/agent.log" 2>&1 &
pids+=($!)

status_json() { "$agent" status --format json --socket "$socket" 2>/dev/null || true; }
# Scanned, connected, and the policy's quarantine of jira in force.
for _ in $(seq 600); do
  status_json | grep -q '"postgres"' && status_json | grep -q '"no-cleartext-remote"' && break
  sleep 0.1
done
postgres_id=$(status_json | python3 -c 'import json,sys
s=json.load(sys.stdin)
print(next(x["id"] for c in s["clients"] for x in c["servers"] if x["name"]=="postgres"))')
"$agent" disable "$postgres_id" --socket "$socket"

# Xvfb picks a free display and writes its number to the fifo once it accepts clients.
mkfifo "$work/display"
setsid Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x860x24 3>"$work/display" </dev/null >/dev/null 2>&1 &
pids+=($!)
read -r n <"$work/display"
export DISPLAY=:$n

# xfce4-panel as the StatusNotifier host: one panel on top with the status tray at its end.
xdg=$work/xdg
mkdir -p "$xdg/xfce4/xfconf/xfce-perchannel-xml"
cat >"$xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="28"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray"/>
  </property>
</channel>
XML

# One D-Bus session for the panel and every tray run (the panel must see the tray's item).
cat >"$work/session.sh" <<'SH'
#!/bin/sh
echo "$DBUS_SESSION_BUS_ADDRESS" >"$1/bus"
exec sleep infinity
SH
chmod +x "$work/session.sh"
XDG_CONFIG_HOME=$xdg setsid dbus-run-session -- "$work/session.sh" "$work" </dev/null >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bus" ] && break; sleep 0.1; done
export DBUS_SESSION_BUS_ADDRESS=$(cat "$work/bus")
XDG_CONFIG_HOME=$xdg setsid xfce4-panel --disable-wm-check </dev/null >"$work/panel.log" 2>&1 &
pids+=($!)

# Waits for the window's rendered title (the page sets it from what it rendered) and prints its id.
wait_window() {
  for _ in $(seq 900); do
    for id in $(xdotool search --name '^Muster — ' 2>/dev/null); do
      name=$(xdotool getwindowname "$id" 2>/dev/null || true)
      case $name in *"Action required"*) echo "$id"; return 0 ;; esac
    done
    sleep 0.1
  done
  echo "no rendered window" >&2
  return 1
}

# shot NAME [tray args...]: starts the tray (which starts the window process), captures the
# window, stops both (one process group).
shot() {
  local name=$1
  shift
  MUSTER_AGENT_SOCKET=$socket setsid "$tray" "$@" </dev/null >"$work/tray.log" 2>&1 &
  local pid=$!
  local id
  id=$(wait_window)
  sleep 1 # let the page finish layout and fonts (a capture, not a test)
  import -window "$id" "$out/$name"
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "wrote $out/$name"
}

shot tray-window-findings.png --open
shot tray-blocked-server.png --open=policy
shot tray-window-servers.png --open=servers
shot tray-exception-form.png --open=exception
GTK_THEME=Adwaita:dark shot tray-window-dark.png --open

# The tray menu: the icon sits at the panel's right end; a click opens the menu the tray exports.
MUSTER_AGENT_SOCKET=$socket setsid "$tray" </dev/null >"$work/tray.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  [ "$(import -window root -crop 60x28+1220+0 -format %k info: 2>/dev/null || echo 0)" -gt 8 ] && break
  sleep 0.1
done
sleep 1
xdotool mousemove 1266 14 click 1
sleep 1
import -window root -crop 420x320+860+0 "$out/tray-menu.png"
echo "wrote $out/tray-menu.png"
kill -TERM -- "-$pid" 2>/dev/null || true
