#!/usr/bin/env bash
# Debian packages of the local platform: PostgreSQL, Redis, Prometheus. Idempotent: apt runs only when one is missing.
set -euo pipefail
packages=(postgresql redis-server prometheus graphviz)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt: ${packages[*]} already installed"
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "apt: installing ${missing[*]}"
$SUDO apt-get update -qq
# policy-rc.d 101: the packages must not start their own system-wide daemons; the platform runs its own on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
