#!/usr/bin/env bash
# Installs the Debian packages Muster's build and tests need, only when missing (quick on a
# machine that has them). Needs root, as CI and the development machines have.
set -euo pipefail
# chromium + chromium-driver: the control plane's browser test drives Debian's Chromium over WebDriver
# (no test tool downloads its own browser).
packages=(postgresql pkg-config time chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
