#!/usr/bin/env bash
# Every benchmark in one run, written to docs/performance.md. Compare ratios measured side by side in this run;
# absolute times on a shared 2-core machine are noisy.
#   bash bench/run.sh            (npm run bench)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=out/bench
mkdir -p "$OUT"
bash scripts/setup.sh >/dev/null

echo "==> DAG parse time (ours vs Airflow's example DAGs)"
.venv/bin/python bench/parse_dags.py --rounds 5 --markdown "$OUT/parse.md" --json "$OUT/parse.json" >/dev/null
echo "==> DAG parse time on a stock dag-processor (no warm-up), to show what the platform's warm-up is worth"
.venv/bin/python bench/parse_dags.py --rounds 3 --parser stock --markdown "$OUT/parse-stock.md" --json "$OUT/parse-stock.json" >/dev/null

echo "==> Pulumi program evaluation under mocks"
npx --no-install ts-node bench/program-eval.ts --runs 5 >"$OUT/program-eval.txt"

echo "==> local platform cold and warm start (port-shifted, so a running platform keeps its ports)"
.venv/bin/python bench/local_start.py --port-offset 1000 --json "$OUT/local_start.json" >/dev/null

echo "==> data movement vs native tools (needs postgres and kafka)"
./platform up postgres kafka >/dev/null
.venv/bin/python bench/data_movement.py --rows 100000 --messages 100000 --repeat 3 --markdown "$OUT/data.md" --json "$OUT/data.json" >/dev/null

echo "==> load: CeleryExecutor on the real Redis, 1,000 task instances in 10 concurrent runs, platform vs stock settings"
./platform up postgres redis vault >/dev/null
.venv/bin/python bench/load/harness.py --tis 1000 --runs 10 --profile both --json "$OUT/load.json" --markdown "$OUT/load.md" >/dev/null
echo "==> faults injected mid-load (platform settings): scheduler, Celery worker, triggerer, api-server SIGKILLed"
for fault in scheduler worker triggerer api; do
  .venv/bin/python bench/load/harness.py --tis 200 --runs 10 --profile platform --fault "$fault" \
    --json "$OUT/load-fault-$fault.json" --markdown "$OUT/load-fault-$fault.md" >/dev/null
done

echo "==> report"
.venv/bin/python bench/report.py "$OUT" docs/performance.md
echo "wrote docs/performance.md"
