#!/usr/bin/env bash
# Every install step of the local platform, each idempotent and quick when already done (CI runs this on a clean clone).
# `./platform up` runs the step of a service on demand; this script does them all up front and prints the timings.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for step in python apt kafka statsd_exporter azurite vault; do
  began=$(date +%s)
  bash "$HERE/$step.sh"
  echo "install $step: $(( $(date +%s) - began ))s"
done
