"""Phase 1 · Parallel tasks: fan-out to independent branches, fan-in to one that needs them all.

Teaches: fanning out with `task >> [a, b, c]`, fanning in with `[a, b, c] >> task`, and running the
independent branches in parallel (bounded by `max_active_tasks`). Each branch totals one region's orders;
the fan-in task checks every region reported before adding them up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

from common.defaults import platform_default_args
from common.orders import REGIONS, combine_region_totals, region_revenue, sample_orders
from common.run_dates import batch_date

ORDERS_PER_DAY = 60


@task
def region_total(region: str, ds: str | None = None, dag_run: Any = None) -> dict[str, float]:
    return {region: region_revenue(sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY), region)}


@task
def combine(totals: list[dict[str, float]]) -> float:
    merged: dict[str, float] = {}
    for part in totals:
        merged.update(part)
    return combine_region_totals(merged)


with DAG(
    dag_id="phase1_02_parallel_tasks",
    description="Fan-out/fan-in: per-region totals in parallel, then one combine",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_tasks=len(REGIONS),
    default_args=platform_default_args("data-platform"),
    tags=["phase1", "fundamentals", "severity:P4"],
) as dag:
    start = EmptyOperator(task_id="start")
    end = EmptyOperator(task_id="end")

    branches = [region_total.override(task_id=f"total_{region}")(region) for region in REGIONS]
    total = combine(branches)

    start >> branches  # fan-out: the three regions run side by side
    total >> end  # fan-in happened through combine's inputs
