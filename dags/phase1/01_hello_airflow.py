"""Phase 1 · Hello Airflow: the smallest complete DAG.

Teaches: the `with DAG()` context manager, EmptyOperator placeholders, linear `>>` dependencies,
`default_args` shared by every task (owner, retries, timeout, failure alert) and tags for organisation.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from common.defaults import platform_default_args

with DAG(
    dag_id="phase1_01_hello_airflow",
    description="First DAG: EmptyOperators in a straight line",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args=platform_default_args("data-platform"),
    tags=["phase1", "fundamentals", "severity:P4"],
) as dag:
    start = EmptyOperator(task_id="start")
    extract = EmptyOperator(task_id="extract")
    transform = EmptyOperator(task_id="transform")
    load = EmptyOperator(task_id="load")
    end = EmptyOperator(task_id="end")

    # Read left to right: each task starts only after the previous one succeeded.
    start >> extract >> transform >> load >> end
