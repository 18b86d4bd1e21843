#!/usr/bin/env bash
# Installs the Debian packages Muster needs, only when missing (quick on a machine that has them):
#
#   scripts/install-deps.sh [GROUP...]    GROUP: build (what `cargo build` links with) or test
#                                         (build plus what the tests run); default: build test
#
# Installing needs root, as CI and the development machines have. Run as another user, it only
# checks, and says what to install when something is missing. Off Debian (no dpkg) it does nothing.
set -euo pipefail

# One package per line: the group that needs it, the Debian package, why.
table='
build  gcc              cc: links every Rust binary; ring and the bundled SQLite compile C code
build  libc6-dev        C library headers and start files the linker needs (only a gcc Recommends)
build  pkg-config       finds system libraries for crates with C parts
test   postgresql       the storage conformance suite runs against a throwaway cluster
test   time             /usr/bin/time: the agent scan bench measures peak memory with it
test   chromium         the control plane browser test drives Debian Chromium (no test downloads one)
test   chromium-driver  chromedriver, the WebDriver server for that test
build  libwebkit2gtk-4.1-dev      desktop-ui (Tauri 2): the webview the window renders in
build  libayatana-appindicator3-dev  desktop-ui: the Linux tray icon (StatusNotifier / AppIndicator)
build  librsvg2-dev     desktop-ui: tray and window icons
build  libxdo-dev       desktop-ui: the Linux menu accelerators of Tauri link libxdo
test   xvfb             desktop-ui screenshots: a headless X server for the real window
test   dbus             desktop-ui screenshots: dbus-run-session gives the tray a session bus
test   dbus-x11         desktop-ui screenshots: dbus-launch for notification tools under Xvfb
test   imagemagick      desktop-ui screenshots: `import -window root` captures the X screen
test   xdotool          desktop-ui window test: finds the window and reads its title on Xvfb
test   xfce4-panel      desktop-ui screenshots: a StatusNotifier host that shows the tray icon and its menu on Xvfb
test   passwd           local API tests: useradd creates throwaway users to call the socket as another uid
test   rpm              rpmbuild and rpm -qp: cargo xtask dist builds the rpms and the package test reads them
test   wixl             wixl: cargo xtask dist builds the agent MSI with it
test   msitools         msiinfo: the package test reads the MSI tables
test   systemd          systemd-analyze verify: the package test checks the installed units
test   init-system-helpers  deb-systemd-helper: the debs depend on it for their maintainer scripts
test   desktop-file-utils   desktop-file-validate: the package test checks the tray autostart entry
test   debootstrap      the package boot test makes a Debian 12 root to boot the agent deb in
test   systemd-container  systemd-nspawn: the package boot test boots that root with its own systemd
test   python3-venv     a venv under the target dir for the PyPI tools below (check-jsonschema)
'

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test)
wanted=()
for g in "${groups[@]}"; do
  case $g in
    build) want=(build) ;;
    test) want=(build test) ;; # the tests build everything first
    *) echo "install-deps: unknown group '$g' (build or test)" >&2; exit 2 ;;
  esac
  while read -r group package _; do
    [ -n "$group" ] || continue
    for w in "${want[@]}"; do
      [ "$group" = "$w" ] && wanted+=("$package")
    done
  done <<<"$table"
done

if ! command -v dpkg-query >/dev/null; then
  echo "install-deps: not a Debian system; make sure these (or their equivalents) are installed: ${wanted[*]}" >&2
  exit 0
fi

missing=()
for p in "${wanted[@]}"; do
  case " ${missing[*]} " in *" $p "*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# PyPI tools the tests run, pinned, in a venv under the target dir (never system-wide): the
# release workflow's schema check. Installed after the Debian packages (python3-venv).
python_tools() {
  case " ${wanted[*]} " in *" python3-venv "*) ;; *) return 0 ;; esac
  local venv="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/tools/venv"
  local want="check-jsonschema==0.39.0"
  if [ -x "$venv/bin/check-jsonschema" ] && "$venv/bin/pip" freeze 2>/dev/null | grep -qx "$want"; then
    return 0
  fi
  echo "installing into $venv: $want"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$want"
}

if [ ${#missing[@]} -eq 0 ]; then
  python_tools
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: install them as root, then run this again:" >&2
  echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own throwaway PostgreSQL cluster (scripts/test.sh); installing the
# postgresql package must not leave a system one running. Debian's postgresql-common would
# create the `main` cluster and start it: turn the creation off (createcluster.d, read by
# pg_createcluster on install) and keep apt from starting any service while it installs (a
# policy-rc.d for the duration of the install, unless the machine has its own).
case " ${missing[*]} " in
  *" postgresql "*)
    mkdir -p /etc/postgresql-common/createcluster.d
    printf '%s\n' '# scripts/install-deps.sh: the tests run their own cluster; no system one' \
      'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/muster-no-main-cluster.conf
    ;;
esac
policy_rc_d=/usr/sbin/policy-rc.d
own_policy_rc_d=0
if [ ! -e "$policy_rc_d" ]; then
  printf '#!/bin/sh\n# scripts/install-deps.sh: no service starts while it installs packages\nexit 101\n' >"$policy_rc_d"
  chmod 755 "$policy_rc_d"
  own_policy_rc_d=1
fi
remove_policy_rc_d() { [ "$own_policy_rc_d" = 0 ] || rm -f "$policy_rc_d"; }
trap remove_policy_rc_d EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
remove_policy_rc_d
trap - EXIT
python_tools
