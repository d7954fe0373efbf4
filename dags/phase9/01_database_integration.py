"""Phase 9 · Database integration: PostgresHook, one transaction per batch, quality checks, idempotent reloads.

Teaches: PostgresHook for a raw DB-API connection, commit/rollback around a whole batch (a failure after the writes
leaves nothing behind), upserts keyed on order_id so re-running a day adds no duplicates, malformed orders written to
a quarantine table instead of being dropped, and SQLTableCheckOperator data-quality checks on the loaded partition.
A missing `postgres_default` connection fails the first task with an error naming it. A run without a logical date
loads the UTC day of its `run_after` (common.run_dates), in Python and in the check's `{{ batch_date() }}` alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator, SQLTableCheckOperator
from airflow.sdk import Asset, Param, task

from common.dag_header import platform_dag
from common.run_dates import BATCH_DATE_MACROS, batch_date
from common.warehouse import DDL, ORDERS_TABLE

ORDERS_ASSET = Asset("postgres://postgres:5432/warehouse/public/orders")
ORDERS_PER_DAY = 50
BAD_EVERY = 10
DB_TIMEOUT = timedelta(minutes=5)
WAREHOUSE_CONN_ID = "postgres_default"


@task
def extract_orders(ds: str | None = None, dag_run: Any = None) -> list[dict[str, Any]]:
    from common.orders import sample_orders

    return sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY, bad_every=BAD_EVERY)


@task
def validate_orders(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Validation before loading: malformed orders go to the quarantine table with their reasons, never dropped."""
    from common.orders import split_valid

    valid, rejected = split_valid(orders)
    return {"valid": valid, "rejected": rejected}


@task(retries=2, execution_timeout=DB_TIMEOUT, outlets=[ORDERS_ASSET])
def load_orders(
    batch: dict[str, Any],
    params: dict[str, Any],
    ds: str | None = None,
    dag_run: Any = None,
    run_id: str | None = None,
):
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowFailException

    from common.warehouse import SimulatedLoadFailure, load_batch

    day = batch_date(ds, dag_run)
    conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
    try:
        return load_batch(
            conn,
            batch_date=day,
            valid=batch["valid"],
            rejected=batch["rejected"],
            run_id=run_id or "",
            fail_before_commit=params["fail_before_commit"],
        )
    except SimulatedLoadFailure as error:  # requested on purpose: retrying would fail the same way
        raise AirflowFailException(str(error)) from error
    finally:
        conn.close()


@task(retries=2, execution_timeout=DB_TIMEOUT)
def reconcile_counts(loaded: dict[str, int], ds: str | None = None, dag_run: Any = None) -> dict[str, int]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from common.warehouse import RECONCILE_SQL, reconcile

    day = batch_date(ds, dag_run)
    row = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_first(RECONCILE_SQL, parameters=(day,))
    counts = reconcile(row, day)
    if counts["orders"] != loaded["loaded"]:
        raise ValueError(f"batch {day}: loaded {loaded['loaded']} but the table holds {counts['orders']}")
    return counts


with platform_dag(
    __file__, __doc__, owner="data-eng", team="data-eng", severity="P2", tags=["integrations", "postgres"],
    description="PostgresHook, transactional idempotent loads, quarantine table, SQL quality checks", schedule="@daily",
    max_active_runs=1,
    params={
        "fail_before_commit": Param(False, type="boolean", description="fail after writing to show the rollback"),
    },
    user_defined_macros=BATCH_DATE_MACROS,
) as dag:
    create_tables = SQLExecuteQueryOperator(
        task_id="create_tables",
        conn_id=WAREHOUSE_CONN_ID,
        sql=DDL,
        retries=2,
        execution_timeout=DB_TIMEOUT,
    )
    loaded = load_orders(validate_orders(extract_orders()))
    quality_checks = SQLTableCheckOperator(
        task_id="quality_checks",
        conn_id=WAREHOUSE_CONN_ID,
        table=ORDERS_TABLE,
        partition_clause="batch_date = '{{ batch_date() }}'",
        checks={
            "has_rows": {"check_statement": "COUNT(*) > 0"},
            "unique_order_ids": {"check_statement": "COUNT(*) = COUNT(DISTINCT order_id)"},
            "positive_amounts": {"check_statement": "MIN(amount) > 0"},
        },
        retries=2,
        execution_timeout=DB_TIMEOUT,
    )
    create_tables >> loaded
    loaded >> [quality_checks, reconcile_counts(loaded)]
