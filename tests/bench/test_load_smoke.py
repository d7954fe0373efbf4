"""Smoke of the load benchmark (bench/load/harness.py, issue #19): a private CeleryExecutor Airflow on the real local
Postgres and Redis runs 60 task instances in 3 concurrent DAG runs (mapped tasks, a 2-slot pool, deferrable sensors)
while its Celery worker is SIGKILLed in the middle of a side-effect task and replaced. Asserts the invariants, not
timings: no task instance lost, none left queued/running/deferred, every DAG run final and successful, the killed
side effect re-attempted and written exactly once. The full load (`npm run bench`) reports the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from local import paths


def test_load_smoke_with_worker_killed_mid_task(local_platform, tmp_path: Path) -> None:
    local_platform.ensure("postgres", "redis", "vault")  # vault: the platform profile reads environment()
    out = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, str(paths.REPO / "bench" / "load" / "harness.py"), "--smoke", "--fault", "worker",
         "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=paths.REPO,
    )
    assert out.exists(), f"harness wrote no report (rc {result.returncode}):\n{result.stderr[-4000:]}"
    [run] = json.loads(out.read_text())["results"]
    checks = run["checks"]
    assert run["problems"] == [], run["problems"]
    assert checks["tis_expected"] >= 60 and checks["tis_in_db"] == checks["tis_expected"]
    assert checks["tis_lost"] == 0
    assert checks["tis_stuck"] == 0
    assert checks["tis_not_success"] == 0
    assert checks["runs_final"] == run["shape"]["runs"] >= 3 and checks["runs_not_final"] == 0
    assert checks["effect_rows"] == checks["effect_rows_expected"] and checks["effect_duplicates"] == 0
    assert run["fault_events"], "the worker was never killed"
    assert checks["effect_keys_reattempted"] >= 1, "the killed side effect was not re-attempted"
    assert checks["effect_attempts"] > checks["effect_rows"]
    assert run["ti_states"] == {"success": checks["tis_expected"]}
    assert result.returncode == 0, result.stderr[-4000:]
