#!/usr/bin/env bash
# The package as another stack installs it (issue #20): `npm pack`, then each example under examples/ copied to a
# fresh temporary directory, the tarball installed there with `npm install <tgz>` (the registry reachable; packages
# the repository already installed come from npm's cache), every entry point of the package required from the
# installed copy, and the example's own jest tests run.
# Prints one line per check and `examples: N passed, N failed`; writes "N F" to <results>/examples.counts.
# Usage: scripts/test-examples.sh [results-dir]   (default out/test-results)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS=${1:-$ROOT/out/test-results}
mkdir -p "$RESULTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/airflow-platform-examples.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
finish() {
  echo "examples: $passed passed, $failed failed"
  echo "$passed $failed" >"$RESULTS/examples.counts"
  exit $(( failed > 0 ))
}
fail() { echo "$1: FAILED (log: $2)"; tail -n 30 "$2"; failed=$((failed + 1)); }

# 1. The tarball: compiled from source (prepack's build, run explicitly so its output stays in the log).
log="$RESULTS/examples-pack.log"
if npm run --silent build:lib >"$log" 2>&1 && npm pack --ignore-scripts --pack-destination "$WORK" >>"$log" 2>&1; then
  tgz=$(ls "$WORK"/airflow-platform-*.tgz)
  echo "npm pack: $(basename "$tgz"), $(du -k "$tgz" | cut -f1) KiB, $(tar -tzf "$tgz" | wc -l) files"
  passed=$((passed + 1))
else
  fail "npm pack" "$log"; finish
fi

for example in "$ROOT"/examples/*/; do
  name=$(basename "$example")
  # examples/<name>/package.json names the tarball as file:../../airflow-platform-<version>.tgz: same layout here.
  dir="$WORK/examples/$name"
  mkdir -p "$dir"
  (cd "$example" && tar --exclude=node_modules -cf - .) | (cd "$dir" && tar -xf -)
  log="$RESULTS/examples-$name-install.log"
  if ! (cd "$dir" && npm install --no-audit --no-fund --prefer-offline "$tgz") >"$log" 2>&1; then
    fail "$name: npm install $(basename "$tgz")" "$log"; continue
  fi
  # Every entry point of the exports map loads from the installed package (not from this checkout).
  log="$RESULTS/examples-$name-entrypoints.log"
  if (cd "$dir" && node -e '
      const pkg = require("airflow-platform/package.json");
      const subpaths = Object.keys(pkg.exports).filter((s) => !s.includes("*") && s !== "./package.json");
      for (const s of subpaths) {
        const id = s === "." ? "airflow-platform" : `airflow-platform/${s.slice(2)}`;
        const resolved = require.resolve(id);
        if (!resolved.includes("node_modules/airflow-platform/dist/")) throw new Error(`${id} resolved to ${resolved}`);
        require(id);
      }
      const { Platform, Kafka } = require("airflow-platform");
      if (typeof Platform !== "function" || typeof Kafka !== "function") throw new Error("root entry point lacks Platform/Kafka");
      console.log(`${subpaths.length} entry points load from ${require.resolve("airflow-platform")}`);') >"$log" 2>&1; then
    echo "$name: $(tail -n1 "$log")"; passed=$((passed + 1))
  else
    fail "$name: entry points" "$log"
  fi
  # The example type-checks against the package's .d.ts (event-platform: classic `node` resolution through
  # typesVersions; team-namespace: `node16` resolution through the exports map).
  log="$RESULTS/examples-$name-tsc.log"
  if (cd "$dir" && npx --no-install tsc --noEmit -p .) >"$log" 2>&1; then
    echo "$name: tsc --noEmit passed"; passed=$((passed + 1))
  else
    fail "$name: tsc --noEmit" "$log"
  fi
  log="$RESULTS/examples-$name-jest.log"
  json="$RESULTS/examples-$name-jest.json"
  (cd "$dir" && npx --no-install jest --ci --json --outputFile="$json") >"$log" 2>&1
  rc=$?
  read -r jp jf < <(node -e '
    try { const r = require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites); }
    catch (e) { console.log(0, 1); }' "$json")
  [ "$rc" -ne 0 ] && [ "$jf" -eq 0 ] && jf=1
  echo "$name: jest $jp passed, $jf failed"
  [ "$jf" -gt 0 ] && tail -n 40 "$log"
  passed=$((passed + jp)); failed=$((failed + jf))
done
finish
