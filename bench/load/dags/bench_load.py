"""The load DAG of bench/load/harness.py: one run is three `plan_*` tasks → mapped `work`, mapped `pooled` (a pool of few slots),
mapped `effect` (a row insert keyed by (dag_run, task, map_index), for the worker-kill fault) and two deferrable
sensors → `done`. The sizes come from the run's conf, so one parsed DAG serves every load shape; the tasks do next
to nothing, so the figures measure the platform, not the work."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import dag, get_current_context, task

POOL = "bench_load_small"
EFFECT_DSN_ENV = "BENCH_LOAD_EFFECT_DSN"  # the harness's scratch database, where the side-effect tables live


@dag(
    dag_id="bench_load",
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=200,
    tags=["bench"],
    params={"work": 8, "pooled": 2, "effects": 2, "defer_seconds": 10, "effect_seconds": 0.0},
    # Backoff 8, 16, 32, 64 s: a task whose start falls in an api-server outage (the `api` fault; a restart takes
    # 30-70 s on a loaded 2-core machine) is retried after the server is back instead of burning its tries meanwhile.
    default_args={"retries": 4, "retry_delay": timedelta(seconds=8), "retry_exponential_backoff": 2.0},
)
def bench_load() -> None:
    @task
    def plan(kind: str) -> list[int]:
        return list(range(int(get_current_context()["params"][kind])))

    @task
    def work(i: int) -> int:
        return i

    @task(pool=POOL)
    def pooled(i: int) -> int:
        return i

    @task
    def effect(i: int) -> None:
        """Insert this try's attempt (autocommit), then the effect row in a transaction held `effect_seconds`: a
        worker killed meanwhile leaves no effect row, and the retry's insert is idempotent on the key."""
        import psycopg

        context = get_current_context()
        ti: Any = context["ti"]
        key = (ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        dsn = os.environ[EFFECT_DSN_ENV]
        with psycopg.connect(dsn, autocommit=True) as log:
            log.execute("INSERT INTO bench_attempt (dag_id, run_id, task_id, map_index, try_number) VALUES (%s, %s, %s, %s, %s)",
                        (*key, ti.try_number))
        with psycopg.connect(dsn) as conn:
            conn.execute("INSERT INTO bench_effect (dag_id, run_id, task_id, map_index, try_number) VALUES (%s, %s, %s, %s, %s)"
                         " ON CONFLICT (dag_id, run_id, task_id, map_index) DO NOTHING", (*key, ti.try_number))
            time.sleep(float(context["params"]["effect_seconds"]))

    @task
    def done() -> None:
        return None

    planned = {kind: plan.override(task_id=f"plan_{kind}")(kind) for kind in ("work", "pooled", "effects")}
    target = "{{ (dag_run.run_after + macros.timedelta(seconds=params.defer_seconds | int)).isoformat() }}"
    sensors = [DateTimeSensorAsync(task_id=f"wait_{n}", target_time=target) for n in ("a", "b")]
    mapped = [work.expand(i=planned["work"]), pooled.expand(i=planned["pooled"]), effect.expand(i=planned["effects"])]
    planned["work"] >> sensors
    [*mapped, *sensors] >> done()


bench_load()
