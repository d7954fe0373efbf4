"""Phase 5 · Task groups: organising a larger DAG into nested, collapsible sections.

Teaches: `TaskGroup` as a context manager, groups nested inside groups (task ids get the group path as a
prefix: `extract.orders.pull`), the `@task_group` decorator reused once per region, dependencies between
whole groups (`extract >> transform`), and `tooltip` for the UI.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TaskGroup, task, task_group

from common.dag_header import platform_dag
from common.orders import REGIONS, region_revenue, sample_orders, split_valid
from common.run_dates import batch_date

ORDERS_PER_DAY = 48


@task
def pull(source: str, ds: str | None = None, dag_run: Any = None) -> list[dict[str, Any]]:
    count = ORDERS_PER_DAY if source == "orders" else ORDERS_PER_DAY // 4
    return sample_orders(batch_date(ds, dag_run), count, bad_every=12)


@task
def validate(records: list[dict[str, Any]]) -> dict[str, int]:
    valid, quarantined = split_valid(records)
    return {"valid": len(valid), "quarantined": len(quarantined)}


@task_group(tooltip="Revenue for one region, then its rounding check")
def region_pipeline(region: str) -> None:
    @task
    def revenue(ds: str | None = None, dag_run: Any = None) -> float:
        valid, _ = split_valid(sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY, bad_every=12))
        return region_revenue(valid, region)

    @task
    def check(amount: float) -> float:
        if amount < 0:
            raise ValueError(f"negative revenue for {region}: {amount}")
        return amount

    check(revenue())


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["configuration"],
    description="Nested TaskGroups and a reusable @task_group", schedule=None,
) as dag:
    with TaskGroup("extract", tooltip="Pull and validate every source") as extract:
        for source in ("orders", "refunds"):
            with TaskGroup(source):
                validate(pull(source))

    with TaskGroup("transform", tooltip="One nested pipeline per region") as transform:
        for region in REGIONS:
            region_pipeline.override(group_id=region)(region)

    done = EmptyOperator(task_id="done")
    extract >> transform >> done
