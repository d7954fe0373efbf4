"""Phase 2 · TaskFlow API: a DAG written with `@dag` and `@task`.

Teaches: decorator-based DAGs, return values passed between tasks as automatic XComs (no explicit push or
pull), `multiple_outputs=True` to split a dict into separate XComs, and context values (`ds`, `dag_run`) injected
by parameter name; a run without a logical date takes its batch date from `dag_run.run_after` (common.run_dates).
Invalid orders are written to the quarantine directory, never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Param, dag, task

from common.defaults import platform_default_args
from common.orders import sample_orders, split_valid, summarize
from common.records import write_quarantine
from common.run_dates import batch_date, batch_date_nodash


@dag(
    dag_id="phase2_02_taskflow_api",
    description="Extract, validate, quarantine and summarise orders with @dag/@task",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=platform_default_args("data-platform"),
    params={
        "order_count": Param(50, type="integer", minimum=0),
        "bad_every": Param(10, type="integer", minimum=0, description="every n-th order is malformed (0: none)"),
        "quarantine_dir": Param("/opt/airflow/data/quarantine", type="string"),
    },
    tags=["phase2", "taskflow", "severity:P4"],
)
def phase2_02_taskflow_api() -> None:
    @task
    def extract(ds: str | None = None, dag_run: Any = None, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert params is not None
        return sample_orders(batch_date(ds, dag_run), params["order_count"], bad_every=params["bad_every"])

    @task(multiple_outputs=True)
    def validate(orders: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        valid, quarantined = split_valid(orders)
        return {"valid": valid, "quarantined": quarantined}

    @task
    def quarantine(
        rejected: list[dict[str, Any]], ds: str | None = None, dag_run: Any = None, params: dict[str, Any] | None = None
    ) -> int:
        assert params is not None
        write_quarantine(rejected, params["quarantine_dir"], f"orders_{batch_date_nodash(ds, dag_run)}")
        return len(rejected)

    @task
    def report(valid: list[dict[str, Any]], quarantined_count: int) -> dict[str, Any]:
        return {**summarize(valid), "quarantined": quarantined_count}

    checked = validate(extract())
    report(checked["valid"], quarantine(checked["quarantined"]))


phase2_02_taskflow_api()
