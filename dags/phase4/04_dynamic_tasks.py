"""Phase 4 · Dynamic task mapping: as many task instances as the data needs, decided at run time.

Teaches: `.expand()` over an upstream XCom list (one mapped instance per batch), `.partial()` for the
arguments every instance shares, `.expand_kwargs()` over a list of dicts (one instance per dict), mapping
a classic operator (BashOperator over env dicts), and reducing the mapped results in one task.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.orders import REGIONS, chunk, sample_orders, split_valid, summarize
from common.run_dates import batch_date


@task
def make_batches(ds: str | None = None, dag_run: Any = None, params: dict[str, Any] | None = None) -> list[list[dict[str, Any]]]:
    assert params is not None
    return chunk(sample_orders(batch_date(ds, dag_run), params["order_count"], bad_every=params["bad_every"]), params["batch_size"])


@task
def process_batch(batch: list[dict[str, Any]], tax_rate: float) -> dict[str, Any]:
    valid, rejected = split_valid(batch)
    return {
        "gross_revenue": round(summarize(valid)["revenue"] * (1 + tax_rate), 2),
        "rejected_ids": [order["order_id"] for order in rejected],  # reported, never silently dropped
    }


@task
def total_revenue(batch_results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "gross_revenue": round(sum(result["gross_revenue"] for result in batch_results), 2),
        "batches": len(batch_results),
        "rejected_ids": [order_id for result in batch_results for order_id in result["rejected_ids"]],
    }


@task
def region_targets(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    assert params is not None
    return [{"region": region, "target": params["region_target"]} for region in REGIONS]


@task
def check_region(region: str, target: float, ds: str | None = None, dag_run: Any = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    assert params is not None
    valid, _ = split_valid(sample_orders(batch_date(ds, dag_run), params["order_count"], bad_every=params["bad_every"]))
    revenue = summarize(valid)["by_region"][region]  # rejected orders are reported by process_batch
    return {"region": region, "revenue": revenue, "met_target": revenue >= target}


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["dynamic-tasks"],
    description="expand, partial and expand_kwargs, with a reduce step", schedule=None, max_active_tasks=4,
    params={
        "order_count": Param(45, type="integer", minimum=1),
        "batch_size": Param(10, type="integer", minimum=1),
        "bad_every": Param(0, type="integer", minimum=0, description="every n-th order is malformed (0: none)"),
        "region_target": Param(2000.0, type="number"),
    },
) as dag:
    revenues = process_batch.partial(tax_rate=0.2).expand(batch=make_batches())
    total_revenue(revenues)

    check_region.expand_kwargs(region_targets())

    BashOperator.partial(task_id="announce_region", bash_command='echo "region $REGION done"').expand(
        env=[{"REGION": region} for region in REGIONS]
    )
