#!/usr/bin/env bash
# Every test suite of the project, on a fresh machine: set-up, services, lint, type-check, jest, synth, the packed
# package's examples, pytest.
# Prints each runner's own summary line, then one closing line `N passed, N failed` summing all suites.
# Exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS="$ROOT/out/test-results"
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*

passed=0
failed=0
failures=()

SUITE_STARTED=$(date +%s.%N)
record() { # record <name> <passed> <failed>; also the suite's wall time since the previous record (bench reads it)
  local now; now=$(date +%s.%N)
  printf '%s\t%.1f\t%s\t%s\n' "$1" "$(awk -v a="$now" -v b="$SUITE_STARTED" 'BEGIN{print a-b}')" "$2" "$3" >>"$RESULTS/timings.tsv"
  SUITE_STARTED=$now
  passed=$((passed + $2)); failed=$((failed + $3))
  [ "$3" -gt 0 ] && failures+=("$1")
  return 0
}

check() { # check <name> <command...>: a single pass/fail check, output kept in a log
  local name=$1; shift
  local log="$RESULTS/$name.log"
  printf '\n==> %s\n' "$name"
  if "$@" >"$log" 2>&1; then
    echo "$name: 1 passed, 0 failed"; record "$name" 1 0
  else
    tail -n 40 "$log"; echo "$name: 0 passed, 1 failed (log: $log)"; record "$name" 0 1
  fi
}

printf '==> set-up (scripts/setup.sh)\n'
if ! bash scripts/setup.sh; then
  echo "set-up failed: nothing was tested"
  echo "0 passed, 1 failed"
  exit 1
fi

source scripts/node-env.sh  # setup installed it; jest, tsc, synth and the examples run on it
printf '\n==> starting the local platform (./platform up)\n'
SUITE_STARTED=$(date +%s.%N)
if ./platform up; then
  record platform-up 1 0
else
  echo "the local platform did not start; the service-backed suites will fail and say which service"
  record platform-up 0 1
fi
trap './platform down >/dev/null 2>&1 || true' EXIT

check ruff .venv/bin/ruff check dags tests local local_settings bench cluster contract checklist scripts
check tsc npx --no-install tsc --noEmit
for stack in dev staging prod; do
  check "synth-$stack" npm run --silent synth -- --stack "$stack"
done

printf '\n==> jest\n'
npx --no-install jest --ci --json --outputFile="$RESULTS/jest.json" 2>"$RESULTS/jest.log"
jest_rc=$?
tail -n 8 "$RESULTS/jest.log"
read -r jp jf < <(node -e '
  try { const r = require(process.argv[1]);
        console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites); }
  catch (e) { console.log(0, 1); }' "$RESULTS/jest.json")
[ "$jest_rc" -ne 0 ] && [ "$jf" -eq 0 ] && jf=1
echo "jest: $jp passed, $jf failed"
record jest "$jp" "$jf"

printf '\n==> examples (npm pack; each example of examples/ installs the tarball in a fresh copy and runs its own tests)\n'
bash scripts/test-examples.sh "$RESULTS" 2>&1 | tee "$RESULTS/examples.log" | grep -E '^(npm pack|[a-z-]+: )' | tail -n 20
read -r ep ef 2>/dev/null <"$RESULTS/examples.counts" || { ep=0; ef=1; echo "examples: the script stopped before its summary (log: $RESULTS/examples.log)"; }
record examples "$ep" "$ef"

printf '\n==> pytest\n'
.venv/bin/pytest tests -p no:cacheprovider -q -rfE --junitxml="$RESULTS/pytest.xml" 2>&1 | tee "$RESULTS/pytest.log" | grep -vE '^\s*$' | tail -n 30
pytest_rc=${PIPESTATUS[0]}
read -r pp pf < <(.venv/bin/python - "$RESULTS/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    print(tests - bad - skipped, bad)
except Exception:
    print(0, 1)
PY
)
# exit 5 = no tests collected: that is a failure of the suite, not a pass
[ "$pytest_rc" -ne 0 ] && [ "$pf" -eq 0 ] && pf=1
echo "pytest: $pp passed, $pf failed"
record pytest "$pp" "$pf"
# What the cluster suites measured: releases rendered, objects validated and applied, workloads ready, engine runs.
.venv/bin/python -m cluster.figures

echo
if [ "${#failures[@]}" -gt 0 ]; then echo "failing suites: ${failures[*]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
