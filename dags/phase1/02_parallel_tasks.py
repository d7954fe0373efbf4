"""Phase 1 · Parallel tasks: fan-out to independent branches, fan-in to one that needs them all.

Teaches: fanning out with `task >> [a, b, c]`, fanning in with `[a, b, c] >> task`, and running the
independent branches in parallel (bounded by `max_active_tasks`). Each branch totals one region's orders;
the fan-in task checks every region reported before adding them up.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import task

from common.dag_header import platform_dag
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


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["fundamentals"],
    description="Fan-out/fan-in: per-region totals in parallel, then one combine", schedule=None,
    max_active_tasks=len(REGIONS),
) as dag:
    start = EmptyOperator(task_id="start")
    end = EmptyOperator(task_id="end")

    branches = [region_total.override(task_id=f"total_{region}")(region) for region in REGIONS]
    total = combine(branches)

    start >> branches  # fan-out: the three regions run side by side
    total >> end  # fan-in happened through combine's inputs
