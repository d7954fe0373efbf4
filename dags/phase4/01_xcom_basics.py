"""Phase 4 · XCom basics: pushing and pulling small values between tasks.

Teaches: explicit `ti.xcom_push(key=..., value=...)`, the implicit `return_value` XCom, `ti.xcom_pull`
by task id and key, pulling from several tasks at once (a list comes back in task-id order), and pulling
in a template (`{{ ti.xcom_pull(...) }}`). XCom is for small metadata (counts, ids, paths), not datasets.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import task

from common.dag_header import platform_dag
from common.orders import sample_orders, split_valid, summarize
from common.run_dates import batch_date

ORDER_COUNT = 30


@task
def extract_orders(**context: Any) -> int:
    ti = context["ti"]
    orders = sample_orders(batch_date(context.get("ds"), context.get("dag_run")), ORDER_COUNT, bad_every=7)
    valid, quarantined = split_valid(orders)
    # Explicit pushes under named keys...
    ti.xcom_push(key="valid_count", value=len(valid))
    ti.xcom_push(key="rejected_ids", value=[order["order_id"] for order in quarantined])
    # ...and the return value, stored under the key "return_value".
    return summarize(valid)["count"]


@task
def extract_refunds(**context: Any) -> int:
    return len(sample_orders(batch_date(context.get("ds"), context.get("dag_run")), ORDER_COUNT // 3))


@task
def reconcile(**context: Any) -> dict[str, Any]:
    ti = context["ti"]
    valid_count = ti.xcom_pull(task_ids="extract_orders", key="valid_count")
    rejected_ids = ti.xcom_pull(task_ids="extract_orders", key="rejected_ids")
    orders_returned, refunds_returned = ti.xcom_pull(task_ids=["extract_orders", "extract_refunds"])
    return {
        "valid_count": valid_count,
        "rejected_ids": rejected_ids,
        "orders_returned": orders_returned,
        "refunds_returned": refunds_returned,
        "net_orders": orders_returned - refunds_returned,
    }


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["control-flow"],
    description="xcom_push / xcom_pull, return values and templated pulls", schedule=None,
) as dag:
    announce = BashOperator(
        task_id="announce",
        bash_command="echo \"net orders: {{ ti.xcom_pull(task_ids='reconcile')['net_orders'] }}\"",
    )
    [extract_orders(), extract_refunds()] >> reconcile() >> announce
