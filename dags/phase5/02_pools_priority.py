"""Phase 5 · Pools and priority: sharing a scarce resource and deciding who goes first.

Teaches: a pool (`phase5_warehouse_pool`, 2 slots, declared in needs.yaml) caps how many tasks hit the
warehouse at once; `pool_slots` lets a heavy task take both slots; `priority_weight` orders queued tasks
competing for slots; weight rules decide how weights add up — `downstream` (default: a task counts
everything it unblocks), `upstream` (a task counts everything before it, so runs near completion win) and
`absolute` (exactly the given weight).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import WeightRule, task

from common.dag_header import platform_dag
from common.orders import REGIONS, region_revenue, sample_orders, summarize
from common.run_dates import batch_date

WAREHOUSE_POOL = "phase5_warehouse_pool"
ORDERS_PER_DAY = 90


@task(pool=WAREHOUSE_POOL, pool_slots=1, priority_weight=1, weight_rule=WeightRule.DOWNSTREAM)
def extract_region(region: str, ds: str | None = None, dag_run: Any = None) -> float:
    return region_revenue(sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY), region)


# Takes the whole pool: nothing else touches the warehouse while it rebuilds.
@task(pool=WAREHOUSE_POOL, pool_slots=2, priority_weight=10, weight_rule=WeightRule.ABSOLUTE)
def rebuild_aggregates(region_totals: list[float]) -> float:
    return round(sum(region_totals), 2)


@task(pool=WAREHOUSE_POOL, pool_slots=1, priority_weight=100, weight_rule=WeightRule.ABSOLUTE)
def executive_dashboard(ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    return summarize(sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY))


@task(pool=WAREHOUSE_POOL, pool_slots=1, priority_weight=1, weight_rule=WeightRule.ABSOLUTE)
def ad_hoc_export(ds: str | None = None, dag_run: Any = None) -> int:
    return len(sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY))


@task(priority_weight=5, weight_rule=WeightRule.UPSTREAM)
def publish(total: float) -> str:
    return f"published revenue {total}"


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["configuration"],
    description="A 2-slot pool, pool_slots, priority_weight and downstream/upstream/absolute weight rules",
    schedule=None,
) as dag:
    totals = [extract_region.override(task_id=f"extract_{region}")(region) for region in REGIONS]
    publish(rebuild_aggregates(totals))
    executive_dashboard()
    ad_hoc_export()
