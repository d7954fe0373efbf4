"""Phase 2 · TaskFlow API: a DAG written with `@dag` and `@task`.

Teaches: decorator-based DAGs, return values passed between tasks as automatic XComs (no explicit push or
pull), `multiple_outputs=True` to split a dict into separate XComs, and context values (`ds`) injected by
parameter name. Invalid orders are written to the quarantine directory, never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Param, dag, task

from common.defaults import platform_default_args
from common.orders import sample_orders, split_valid, summarize, write_quarantine


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
    def extract(ds: str | None = None, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert ds is not None and params is not None
        return sample_orders(ds, params["order_count"], bad_every=params["bad_every"])

    @task(multiple_outputs=True)
    def validate(orders: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        valid, quarantined = split_valid(orders)
        return {"valid": valid, "quarantined": quarantined}

    @task
    def quarantine(rejected: list[dict[str, Any]], ds_nodash: str | None = None, params: dict[str, Any] | None = None) -> int:
        assert params is not None
        write_quarantine(rejected, params["quarantine_dir"], f"orders_{ds_nodash}")
        return len(rejected)

    @task
    def report(valid: list[dict[str, Any]], quarantined_count: int) -> dict[str, Any]:
        return {**summarize(valid), "quarantined": quarantined_count}

    checked = validate(extract())
    report(checked["valid"], quarantine(checked["quarantined"]))


phase2_02_taskflow_api()
