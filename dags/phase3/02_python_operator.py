"""Phase 3 · PythonOperator: calling plain functions with arguments, context and return values.

Teaches: `python_callable` with positional `op_args` and keyword `op_kwargs` (both Jinja-templated),
reading the runtime context (`**context`: `ds`, `ti`, `params`), and return values stored as XCom for
the next task to pull.

Task isolation: `profile_amounts` is a `@task.virtualenv` — the same Python callable, run by a different
interpreter in its own virtual environment (built from `requirements`, here only the standard library, and
`system_site_packages=False`, so not even Airflow is importable in it). Its arguments go in and its return value
comes back pickled, and the return value is an XCom like any other. `venv_cache_path` keeps the environment
between runs on a worker (common.isolation), so only the first run pays for building it. Use it for a task whose
dependencies clash with Airflow's; the callable must be self-contained (imports inside, no closures).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import task

from common.dag_header import platform_dag
from common.isolation import venv_cache_dir
from common.orders import sample_orders, split_valid, summarize
from common.run_dates import BATCH_DATE_MACROS, batch_date

# The isolated task's interpreter, by version: Airflow looks up `python3.11` on PATH. Pinning the version also keeps
# pickled arguments and results readable on both sides (a bare `python` could be any interpreter, or a directory).
ISOLATED_PYTHON = "3.11"


def build_orders(order_count: int, bad_every: int, **context: Any) -> list[dict[str, Any]]:
    """op_args arrive positionally; the batch date comes from the context (`ds`, or `dag_run.run_after`)."""
    return sample_orders(batch_date(context.get("ds"), context.get("dag_run")), order_count, bad_every=bad_every)


def summarize_day(*, region: str, label: str, **context: Any) -> dict[str, Any]:
    """op_kwargs arrive by name; the upstream return value is pulled from XCom through `ti`."""
    orders = context["ti"].xcom_pull(task_ids="generate_orders")
    valid, quarantined = split_valid(orders)
    summary = summarize(valid)
    return {
        "label": label,
        "region": region,
        "region_revenue": summary["by_region"][region],
        "valid": summary["count"],
        "invalid_ids": [order["order_id"] for order in quarantined],
        "try_number": context["ti"].try_number,
    }


@task.virtualenv(
    python_version=ISOLATED_PYTHON,
    requirements=[],
    system_site_packages=False,
    expect_airflow=False,
    venv_cache_path=venv_cache_dir(),
)
def profile_amounts(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs in the isolated interpreter: the standard library only, and it reports which interpreter it was."""
    import importlib.util
    import statistics
    import sys

    amounts = sorted(
        float(order["amount"])
        for order in orders
        if isinstance(order.get("amount"), int | float) and order["amount"] > 0
    )
    return {
        "interpreter": sys.executable,
        "prefix": sys.prefix,
        "python": ".".join(map(str, sys.version_info[:3])),
        "airflow_importable": importlib.util.find_spec("airflow") is not None,
        "positive_amounts": len(amounts),
        "median_amount": statistics.median(amounts) if amounts else None,
        "p90_amount": statistics.quantiles(amounts, n=10)[-1] if len(amounts) > 1 else None,
    }


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["operators"],
    description="PythonOperator with op_args, op_kwargs, context and return values", schedule="@daily",
    user_defined_macros=BATCH_DATE_MACROS,  # {{ batch_date_nodash() }}: ds_nodash, or run_after's UTC day
) as dag:
    generate_orders = PythonOperator(
        task_id="generate_orders",
        python_callable=build_orders,
        op_args=[40, 8],
    )
    summarize_eu = PythonOperator(
        task_id="summarize_eu",
        python_callable=summarize_day,
        op_kwargs={"region": "eu", "label": "eu-{{ batch_date_nodash() }}"},
    )
    generate_orders >> summarize_eu
    profile_amounts(generate_orders.output)
