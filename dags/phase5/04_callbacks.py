"""Phase 5 · Callbacks and deadline monitoring: reacting to what happens to tasks and runs.

Teaches: task callbacks — `on_execute_callback` (before execute), `on_success_callback`,
`on_retry_callback` (a failed try that will be retried) and `on_failure_callback` (the final failure);
DAG callbacks for run success and failure; and a Deadline Alert (Airflow 3's replacement for SLAs): if a
run has not finished 30 minutes after its logical date, the deadline callback fires. Every callback
appends an event to the durable callback log (common.callbacks), which is what on-call tooling and the
tests read. `flaky_source` fails its first try on purpose to show the retry path; `enrich` fails for
good when `fail_enrichment` is set, to show the failure path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DeadlineAlert, DeadlineReference, Param, SyncCallback, task

from common.callbacks import (
    on_dag_failure,
    on_dag_success,
    on_deadline_missed,
    on_execute,
    on_failure,
    on_retry,
    on_success,
)
from common.dag_header import platform_dag
from common.defaults import on_task_failure
from common.orders import sample_orders, summarize
from common.run_dates import batch_date

RUN_DEADLINE = timedelta(minutes=30)


class TransientSourceError(ConnectionError):
    """The kind of error a retry fixes (a dropped connection, a 503)."""


@task
def prepare(ds: str | None = None, dag_run: Any = None) -> int:
    return len(sample_orders(batch_date(ds, dag_run), 20))


@task(retries=1, retry_delay=timedelta(seconds=2))
def flaky_source(expected: int, ti: Any = None) -> int:
    if ti.try_number == 1:
        raise TransientSourceError("source dropped the connection on the first try")
    return expected


@task(retries=0)
def enrich(
    count: int, ds: str | None = None, dag_run: Any = None, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    if params and params["fail_enrichment"]:
        raise RuntimeError("enrichment service rejected the batch (fail_enrichment=true)")
    return summarize(sample_orders(batch_date(ds, dag_run), count))


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P3", tags=["callbacks"],
    description="Execute/success/retry/failure callbacks, DAG callbacks and a Deadline Alert",
    schedule="@daily", max_active_runs=1,
    task_defaults={
        "on_execute_callback": on_execute,
        "on_success_callback": on_success,
        "on_retry_callback": on_retry,
        # The recorder and the platform's routed alert: callbacks accept a list.
        "on_failure_callback": [on_failure, on_task_failure],
    },
    on_success_callback=on_dag_success,
    on_failure_callback=on_dag_failure,
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=RUN_DEADLINE,
        callback=SyncCallback(on_deadline_missed, kwargs={"alert_name": "phase5_04_run_30m"}),
    ),
    params={"fail_enrichment": Param(False, type="boolean", description="make enrich fail for good")},
) as dag:
    enrich(flaky_source(prepare()))
